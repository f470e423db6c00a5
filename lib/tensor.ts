/**
 * Tensor: a JS view of one libtorch tensor, with PyTorch's names. Values live in native memory; V8 is told their
 * size, so garbage collection frees them even in loops that never call dispose().
 */
import type { NativeTensor, NativeTypedArray } from '../binding';
import { Device, DeviceLike, parseDevice } from './device';
import { formatTensor, inspectCustom } from './format';
import { checkArgCount, checkBool, checkInt, describe, invalidType, invalidValue, isOptions, parseArgs } from './validate';

/**
 * The dtypes, and for each integer dtype the whole numbers it holds: the one list in lib/ (the Dtype type, DTYPES,
 * torch's dtype constants and the range checks of torch.tensor() come from it). native/common.cc maps the same
 * names to libtorch's types; a test checks that the two agree.
 */
const DTYPE_TABLE = {
  float32: null,
  float64: null,
  float16: null,
  bfloat16: null,
  int64: { min: -(2n ** 63n), max: 2n ** 63n - 1n },
  int32: { min: -(2n ** 31n), max: 2n ** 31n - 1n },
  int16: { min: -(2n ** 15n), max: 2n ** 15n - 1n },
  int8: { min: -128n, max: 127n },
  uint8: { min: 0n, max: 255n },
  bool: null,
} as const;

/** 'float32', 'int64', ...: the dtype names, as PyTorch's without the `torch.` prefix. */
export type Dtype = keyof typeof DTYPE_TABLE;

export const DTYPES = Object.keys(DTYPE_TABLE) as readonly Dtype[];

/** @internal each dtype name mapped to itself: torch's dtype constants (`torch.float32`) are read from it */
export const DTYPE_CONSTANTS = Object.freeze(Object.fromEntries(DTYPES.map((d) => [d, d]))) as { readonly [D in Dtype]: D };

/** @internal the whole numbers an integer dtype holds, or null for floating point and bool */
export function integerRange(dtype: Dtype): { min: bigint; max: bigint } | null {
  return DTYPE_TABLE[dtype];
}

/** A tensor's shape: an array of numbers that prints as `[1, 6, 28, 28]`. */
export class Size extends Array<number> {
  /** @internal */
  static fromArray(dims: readonly number[]): Size {
    const size = new Size();
    for (const d of dims) size.push(d);
    return size;
  }

  /** The number of elements a tensor of this shape holds. */
  numel(): number {
    checkArgCount('Size.numel', arguments.length, 0);
    return this.reduce((a, b) => a * b, 1);
  }

  override toString(): string {
    return `[${this.join(', ')}]`;
  }

  [inspectCustom](): string {
    return this.toString();
  }
}

export function checkDtype(name: string, value: unknown): Dtype {
  const expected = `a dtype (${DTYPES.map((d) => `'${d}'`).join(', ')})`;
  if (typeof value !== 'string') throw invalidType(name, expected, value);
  if (!(DTYPES as readonly string[]).includes(value)) throw invalidValue(name, expected, value);
  return value as Dtype;
}

export interface ShapeRule {
  /** Allow one -1, a size inferred from the others (view, reshape). */
  allowInfer?: boolean;
  /** The smallest size allowed: 0 (default) or 1. */
  min?: 0 | 1;
}

/** A shape: an array of non-negative (or, with `min: 1`, positive) integers, with one -1 where `allowInfer`. */
export function checkShape(name: string, value: unknown, rule: ShapeRule = {}): number[] {
  const min = rule.min ?? 0;
  const expected = `${min === 1 ? 'a positive integer' : 'a non-negative integer'}${rule.allowInfer ? ' or one -1' : ''}`;
  if (!Array.isArray(value)) throw invalidType(name, `an array of ${min === 1 ? 'positive' : 'non-negative'} integers`, value);
  let inferred = 0;
  return value.map((d, i) => {
    if (rule.allowInfer && d === -1 && inferred++ === 0) return -1;
    return checkInt(`${name}[${i}]`, d, { min, expected });
  });
}

/**
 * Shapes as PyTorch takes them: `f(2, 3)`, `f([2, 3])`. An array or object among several arguments (`f([2, 3], 1)`)
 * is a TypeError naming `callee`: more arguments than it takes.
 */
export function shapeArgs(callee: string, name: string, args: readonly unknown[], rule: ShapeRule = {}): number[] {
  if (args.length > 1 && args.some((a) => a !== null && typeof a === 'object')) {
    throw new TypeError(
      `${callee}() takes the ${name} as numbers or as one array of them, but received ${args.length} arguments, ` +
        `${describe(args.find((a) => a !== null && typeof a === 'object'))} among them`,
    );
  }
  return checkShape(name, args.length === 1 && Array.isArray(args[0]) ? args[0] : [...args], rule);
}

export type TensorOther = Tensor | number;

function otherHandle(name: string, other: unknown): NativeTensor | number {
  if (other instanceof Tensor) return other._h;
  if (typeof other === 'number') return other;
  throw invalidType(name, 'a Tensor or a number', other);
}

function dimArg(name: string, value: unknown): number | null {
  return value === undefined || value === null ? null : checkInt(name, value);
}

function dimsArg(name: string, value: unknown): number[] | null {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.map((d, i) => checkInt(`${name}[${i}]`, d));
  return [checkInt(name, value)];
}

export interface ToOptions {
  device?: DeviceLike;
  dtype?: Dtype;
}

/** @internal the target of a `to()` call, as PyTorch reads it: a device, a dtype, or {device, dtype} */
export function parseTo(target: unknown, dtype?: unknown): { device: string | null; dtype: Dtype | null } {
  const result: { device: string | null; dtype: Dtype | null } = { device: null, dtype: null };
  if (isOptions(target)) {
    const o = parseArgs('to', ['device', 'dtype'], [target]);
    if (o.device !== undefined) result.device = String(parseDevice('device', o.device));
    if (o.dtype !== undefined) result.dtype = checkDtype('dtype', o.dtype);
  } else if (typeof target === 'string' && (DTYPES as readonly string[]).includes(target)) {
    result.dtype = target as Dtype;
  } else {
    result.device = String(parseDevice('device', target));
  }
  if (dtype !== undefined) result.dtype = checkDtype('dtype', dtype);
  return result;
}

/**
 * A multi-dimensional array of numbers in libtorch's memory (CPU or CUDA), with autograd. Indexing (`t[0]`) is not
 * supported yet and throws an Error saying what to use instead (index_select, tolist, data).
 */
/**
 * @internal Run after every backward(), in the order added: DistributedDataParallel averages its replicas' gradients
 * there (lib/nn/parallel.ts).
 */
export const afterBackward = new Set<() => void>();

export class Tensor {
  /** @internal the native handle */
  readonly _h: NativeTensor;

  /** @internal tensors come from torch.tensor(), torch.zeros(), operations and layers */
  constructor(handle: NativeTensor) {
    this._h = handle;
  }

  /** The shape, e.g. `[256, 1, 28, 28]`. */
  get shape(): Size {
    return Size.fromArray(this._h.shape());
  }

  /** 'float32', 'int64', ... */
  get dtype(): Dtype {
    // One of DTYPES: the native side names only those (a test checks the lists agree).
    return this._h.dtype() as Dtype;
  }

  get device(): Device {
    return parseDevice('device', this._h.device());
  }

  get requires_grad(): boolean {
    return this._h.requiresGrad();
  }

  /** @throws Error (libtorch) when set on a tensor that is not a leaf. */
  set requires_grad(value: boolean) {
    this._h.setRequiresGrad(checkBool('requires_grad', value));
  }

  get is_leaf(): boolean {
    return this._h.isLeaf();
  }

  /** The gradient accumulated by backward(), or null. */
  get grad(): Tensor | null {
    return wrapOrNull(this._h.grad());
  }

  /** The name of the autograd node that made this tensor, e.g. 'NllLossBackward0'; null for leaves. */
  get grad_fn(): string | null {
    return this._h.gradFn();
  }

  /** The number of dimensions. */
  dim(): number {
    checkArgCount('Tensor.dim', arguments.length, 0);
    return this._h.shape().length;
  }

  numel(): number {
    checkArgCount('Tensor.numel', arguments.length, 0);
    return this._h.numel();
  }

  /** `size()` is the shape; `size(d)` one dimension of it (negative d counts from the end). */
  size(): Size;
  size(dim: number): number;
  size(dim?: number): Size | number {
    checkArgCount('Tensor.size', arguments.length, 1);
    const shape = this._h.shape();
    if (dim === undefined) return Size.fromArray(shape);
    const d = checkInt('dim', dim);
    if (d < -shape.length || d >= shape.length) {
      throw new Error(`Dimension out of range (expected to be in range of [${-shape.length}, ${shape.length - 1}], but got ${d})`);
    }
    return shape[d < 0 ? d + shape.length : d];
  }

  /**
   * A copy on another device or with another dtype (or this tensor when nothing changes), as in PyTorch:
   * `to('cuda:0')`, `to(torch.float32)`, `to(device, dtype)`, `to({device, dtype})`.
   * @throws RangeError for an unknown device or dtype; Error (libtorch) when the device is not available.
   */
  to(target: DeviceLike | Dtype | ToOptions, dtype?: Dtype): Tensor {
    checkArgCount('Tensor.to', arguments.length, 2);
    const to = parseTo(target, dtype);
    return new Tensor(this._h.to(to.device, to.dtype));
  }

  /** `to('float32')`. */
  float(): Tensor {
    checkArgCount('Tensor.float', arguments.length, 0);
    return new Tensor(this._h.to(null, 'float32'));
  }

  /** `to('int64')`. */
  long(): Tensor {
    checkArgCount('Tensor.long', arguments.length, 0);
    return new Tensor(this._h.to(null, 'int64'));
  }

  /**
   * The value of a one-element tensor as a number (a boolean for dtype bool; int64 values beyond 2^53 lose precision).
   * @throws Error (libtorch) when the tensor has more than one element.
   */
  item(): number | boolean {
    checkArgCount('Tensor.item', arguments.length, 0);
    return this._h.item();
  }

  /** The values as nested arrays of numbers (booleans for dtype bool); a number for a 0-d tensor. */
  tolist(): unknown {
    checkArgCount('Tensor.tolist', arguments.length, 0);
    const data = this._h.data();
    const bool = this.dtype === 'bool';
    const shape = this._h.shape();
    const at = (i: number): number | boolean => {
      const v = data[i];
      return bool ? v !== 0 : Number(v);
    };
    if (shape.length === 0) return at(0);
    let offset = 0;
    const build = (dim: number): unknown[] => {
      const out: unknown[] = [];
      for (let i = 0; i < shape[dim]; i++) out.push(dim === shape.length - 1 ? at(offset++) : build(dim + 1));
      return out;
    };
    return build(0);
  }

  /**
   * A row-major copy of the values in a typed array: Float32Array for float32 (and float16/bfloat16),
   * Float64Array, Int32Array, BigInt64Array for int64, Uint8Array for uint8 and bool, ...
   */
  data(): NativeTypedArray {
    checkArgCount('Tensor.data', arguments.length, 0);
    return this._h.data();
  }

  /** Indices of the maxima over `dim` (over all elements when omitted). */
  argmax(dim?: number, keepdim = false): Tensor {
    checkArgCount('Tensor.argmax', arguments.length, 2);
    return new Tensor(this._h.argmax(dimArg('dim', dim), checkBool('keepdim', keepdim)));
  }

  /** Sum over all elements, or over `dim` (a number or an array of them). */
  sum(dim?: number | number[], keepdim = false): Tensor {
    checkArgCount('Tensor.sum', arguments.length, 2);
    return new Tensor(this._h.reduce('sum', dimsArg('dim', dim), checkBool('keepdim', keepdim)));
  }

  /** Mean over all elements, or over `dim`. Floating-point tensors only (libtorch's rule). */
  mean(dim?: number | number[], keepdim = false): Tensor {
    checkArgCount('Tensor.mean', arguments.length, 2);
    return new Tensor(this._h.reduce('mean', dimsArg('dim', dim), checkBool('keepdim', keepdim)));
  }

  /**
   * `min()`: the smallest element. `min(dim, keepdim = false)`: the minima over `dim` and where they are, as
   * `{values, indices}` (also destructured as `[values, indices]`), as in PyTorch.
   * @example const { values, indices } = t.min(1); const [v, i] = t.min(1);
   * @throws TypeError / RangeError naming dim or keepdim; Error (libtorch) for a dim out of range.
   */
  min(): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim?: number, keepdim?: boolean): Tensor | ValuesIndices {
    checkArgCount('Tensor.min', arguments.length, 2);
    return extreme(this, 'min', dim, keepdim);
  }

  /**
   * `max()`: the largest element. `max(dim, keepdim = false)`: the maxima over `dim` and where they are, as
   * `{values, indices}` (also destructured as `[values, indices]`), as in PyTorch.
   * @example const { values, indices } = logits.max(1); const [v, i] = logits.max(1);
   * @throws TypeError / RangeError naming dim or keepdim; Error (libtorch) for a dim out of range.
   */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim?: number, keepdim?: boolean): Tensor | ValuesIndices {
    checkArgCount('Tensor.max', arguments.length, 2);
    return extreme(this, 'max', dim, keepdim);
  }


  /** Element-wise equality (broadcasting): a bool tensor. */
  eq(other: TensorOther): Tensor {
    checkArgCount('Tensor.eq', arguments.length, 1);
    return new Tensor(this._h.binary('eq', otherHandle('other', other)));
  }

  /**
   * `this + other` (broadcasting), with PyTorch's type promotion: an integer number keeps an integer tensor's dtype
   * (int64 labels + 1 are int64), a fractional one makes it float32.
   */
  add(other: TensorOther): Tensor {
    checkArgCount('Tensor.add', arguments.length, 1);
    return new Tensor(this._h.binary('add', otherHandle('other', other)));
  }

  /** `this - other`, promoting as add() does. */
  sub(other: TensorOther): Tensor {
    checkArgCount('Tensor.sub', arguments.length, 1);
    return new Tensor(this._h.binary('sub', otherHandle('other', other)));
  }

  /** `this * other`, promoting as add() does: an int64 tensor times 2 stays int64. */
  mul(other: TensorOther): Tensor {
    checkArgCount('Tensor.mul', arguments.length, 1);
    return new Tensor(this._h.binary('mul', otherHandle('other', other)));
  }

  /** `this / other`: true division, as PyTorch's, so integer tensors give float32. */
  div(other: TensorOther): Tensor {
    checkArgCount('Tensor.div', arguments.length, 1);
    return new Tensor(this._h.binary('div', otherHandle('other', other)));
  }

  matmul(other: Tensor): Tensor {
    checkArgCount('Tensor.matmul', arguments.length, 1);
    if (!(other instanceof Tensor)) throw invalidType('other', 'a Tensor', other);
    return new Tensor(this._h.binary('matmul', other._h));
  }

  exp(): Tensor {
    checkArgCount('Tensor.exp', arguments.length, 0);
    return new Tensor(this._h.unary('exp'));
  }

  abs(): Tensor {
    checkArgCount('Tensor.abs', arguments.length, 0);
    return new Tensor(this._h.unary('abs'));
  }

  log(): Tensor {
    checkArgCount('Tensor.log', arguments.length, 0);
    return new Tensor(this._h.unary('log'));
  }

  sigmoid(): Tensor {
    checkArgCount('Tensor.sigmoid', arguments.length, 0);
    return new Tensor(this._h.unary('sigmoid'));
  }

  relu(): Tensor {
    checkArgCount('Tensor.relu', arguments.length, 0);
    return new Tensor(this._h.unary('relu'));
  }

  /** A new tensor with its own copy of the values (autograd-tracked). */
  clone(): Tensor {
    checkArgCount('Tensor.clone', arguments.length, 0);
    return new Tensor(this._h.unary('clone'));
  }

  /** The same values, cut off from autograd. */
  detach(): Tensor {
    checkArgCount('Tensor.detach', arguments.length, 0);
    return new Tensor(this._h.unary('detach'));
  }

  /** `reshape(-1, 1, 28, 28)` or `reshape([-1, 1, 28, 28])`; copies only when it must. */
  reshape(...shape: number[] | [number[]]): Tensor {
    return new Tensor(this._h.reshape(shapeArgs('Tensor.reshape', 'shape', shape, { allowInfer: true })));
  }

  /**
   * `view(-1, 1, 28, 28)`: the same memory seen with another shape.
   * @throws Error (libtorch) when the sizes do not match or the memory layout does not allow a view.
   */
  view(...shape: number[] | [number[]]): Tensor {
    return new Tensor(this._h.view(shapeArgs('Tensor.view', 'shape', shape, { allowInfer: true })));
  }

  /** Rows (or slices along `dim`) picked by an int64 index tensor. */
  index_select(dim: number, index: Tensor): Tensor {
    checkArgCount('Tensor.index_select', arguments.length, 2);
    if (!(index instanceof Tensor)) throw invalidType('index', 'a Tensor', index);
    return new Tensor(this._h.indexSelect(checkInt('dim', dim), index._h));
  }

  /**
   * Back-propagates from this tensor, accumulating into the `.grad` of the leaves that require grad.
   * @throws Error (libtorch) for a non-scalar tensor without `gradient`, or one that does not require grad.
   */
  backward(gradient?: Tensor): void {
    checkArgCount('Tensor.backward', arguments.length, 1);
    if (gradient !== undefined && !(gradient instanceof Tensor)) throw invalidType('gradient', 'a Tensor', gradient);
    this._h.backward(gradient ? gradient._h : null);
    for (const fn of afterBackward) fn();
  }

  /** Frees the native memory now rather than at garbage collection. Any later use throws. Safe to call twice. */
  dispose(): void {
    checkArgCount('Tensor.dispose', arguments.length, 0);
    this._h.dispose();
  }

  /** Whether dispose() was called. */
  get is_disposed(): boolean {
    return this._h.isDisposed();
  }

  /** As PyTorch prints it: `tensor([[0.1000, 0.2000]], dtype=torch.float64)`. */
  toString(): string {
    if (this._h.isDisposed()) return 'tensor(<disposed>)';
    return formatTensor({
      shape: this._h.shape(),
      dtype: this.dtype,
      data: this._h.data(),
      device: this._h.device(),
      requiresGrad: this._h.requiresGrad(),
      gradFn: this._h.gradFn(),
    });
  }

  [inspectCustom](): string {
    return this.toString();
  }
}

// Indexing a Tensor (t[0]) is not supported yet. Left alone, t[0] would read undefined and t[0] = 1 would add a plain
// property: silent wrong answers. So Tensor.prototype's own prototype is a Proxy that throws for index keys. A
// lookup that finds its property on the instance or on Tensor.prototype (every method and getter) stops before the
// Proxy, so ordinary use costs nothing more; only misses reach it.
const INDEX_KEY = /^-?\d+$/;

function indexingError(key: string): Error {
  return new Error(
    `Tensor indexing (t[${key}]) is not supported yet: use t.index_select(dim, torch.tensor([i], {dtype: torch.int64})) ` +
      'for slices, or t.tolist() / t.data() for the values',
  );
}

Object.setPrototypeOf(
  Tensor.prototype,
  new Proxy(Object.prototype, {
    get(target, key, receiver) {
      if (typeof key === 'string' && INDEX_KEY.test(key)) throw indexingError(key);
      return Reflect.get(target, key, receiver);
    },
    set(target, key, value, receiver) {
      if (typeof key === 'string' && INDEX_KEY.test(key)) throw indexingError(key);
      return Reflect.set(target, key, value, receiver);
    },
  }),
);

/** max() / min(): over all elements, or over one dimension with the indices. */
function extreme(t: Tensor, op: 'max' | 'min', dim?: number, keepdim?: boolean): Tensor | ValuesIndices {
  if (dim === undefined) {
    if (keepdim !== undefined) throw invalidType('dim', `an integer (${op}() takes keepdim only with dim)`, dim);
    return new Tensor(t._h.reduce(op === 'max' ? 'amax' : 'amin', null, false));
  }
  const [values, indices] = t._h.reduceWithIndices(op, checkInt('dim', dim), checkBool('keepdim', keepdim ?? false));
  return new ValuesIndices(op, new Tensor(values), new Tensor(indices));
}

/**
 * What `max(dim)` and `min(dim)` return, as PyTorch's torch.return_types.max: the values and their int64 indices
 * along the dimension, read as `.values` / `.indices` or destructured as `[values, indices]`.
 */
export class ValuesIndices implements Iterable<Tensor> {
  readonly values: Tensor;
  readonly indices: Tensor;
  readonly #op: 'max' | 'min';

  /** @internal */
  constructor(op: 'max' | 'min', values: Tensor, indices: Tensor) {
    this.#op = op;
    this.values = values;
    this.indices = indices;
  }

  *[Symbol.iterator](): Iterator<Tensor> {
    yield this.values;
    yield this.indices;
  }

  /** As PyTorch prints it: `torch.return_types.max(\nvalues=tensor([5., 7.]),\nindices=tensor([1, 0]))`. */
  toString(): string {
    return `torch.return_types.${this.#op}(\nvalues=${this.values},\nindices=${this.indices})`;
  }

  [inspectCustom](): string {
    return this.toString();
  }
}

/** @internal */
export function wrapOrNull(handle: NativeTensor | null): Tensor | null {
  return handle ? new Tensor(handle) : null;
}

/** @internal the handle of a Tensor argument, or a TypeError naming it */
export function handleOf(name: string, value: unknown): NativeTensor {
  if (!(value instanceof Tensor)) throw invalidType(name, 'a Tensor', value);
  return value._h;
}
