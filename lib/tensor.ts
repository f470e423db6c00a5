/**
 * Tensor: a JS view of one libtorch tensor, with PyTorch's names. Values live in native memory; V8 is told their
 * size, so garbage collection frees them even in loops that never call dispose().
 */
import type { NativeIndex, NativeOwner, NativeTensor, NativeTypedArray } from '../binding';
import { native } from './binding';
import type { TensorOps } from './ops/generated';
import { Device, DeviceLike, parseDevice } from './device';
import { formatTensor, inspectCustom } from './format';
import { checkArgCount, checkBool, checkInt, describe, invalidType, invalidValue, isOptions, parseArgs } from './validate';

/**
 * The dtypes: for each, PyTorch's legacy tensor type name (what `t.type()` says), the typed array that carries its
 * values (as native/common.cc's kDtypes: where two dtypes share one, the first row is the array's own dtype) and,
 * for an integer dtype, the whole numbers it holds. The one list in lib/ (the Dtype type, DTYPES, torch's dtype
 * constants, Tensor.type(), the typed array's dtype in torch.tensor() and its range checks come from it); a test
 * checks that the native side has the same rows.
 */
const DTYPE_TABLE = {
  float32: { type: 'FloatTensor', array: Float32Array, range: null },
  float64: { type: 'DoubleTensor', array: Float64Array, range: null },
  float16: { type: 'HalfTensor', array: Float32Array, range: null },
  bfloat16: { type: 'BFloat16Tensor', array: Float32Array, range: null },
  int64: { type: 'LongTensor', array: BigInt64Array, range: { min: -(2n ** 63n), max: 2n ** 63n - 1n } },
  int32: { type: 'IntTensor', array: Int32Array, range: { min: -(2n ** 31n), max: 2n ** 31n - 1n } },
  int16: { type: 'ShortTensor', array: Int16Array, range: { min: -(2n ** 15n), max: 2n ** 15n - 1n } },
  int8: { type: 'CharTensor', array: Int8Array, range: { min: -128n, max: 127n } },
  uint8: { type: 'ByteTensor', array: Uint8Array, range: { min: 0n, max: 255n } },
  bool: { type: 'BoolTensor', array: Uint8Array, range: null },
} as const;

/** 'float32', 'int64', ...: the dtype names, as PyTorch's without the `torch.` prefix. */
export type Dtype = keyof typeof DTYPE_TABLE;

export const DTYPES = Object.keys(DTYPE_TABLE) as readonly Dtype[];

/** @internal each dtype name mapped to itself: torch's dtype constants (`torch.float32`) are read from it */
export const DTYPE_CONSTANTS = Object.freeze(Object.fromEntries(DTYPES.map((d) => [d, d]))) as { readonly [D in Dtype]: D };

/**
 * @internal the dtype of a typed array's values: the first DTYPE_TABLE row that carries its kind (Uint8Array:
 * uint8), or null for any other value. By the array's tag, which holds across realms (vm contexts, jest), where
 * instanceof Float32Array does not.
 */
export function typedArrayDtype(value: unknown): Dtype | null {
  if (!ArrayBuffer.isView(value)) return null;
  const tag = (value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
  return DTYPES.find((d) => DTYPE_TABLE[d].array.name === tag) ?? null;
}

/** @internal the whole numbers an integer dtype holds, or null for floating point and bool */
export function integerRange(dtype: Dtype): { min: bigint; max: bigint } | null {
  return DTYPE_TABLE[dtype].range;
}

/**
 * @internal Whether a value can be an element of a `dtype` tensor, or null when every number can (floating point,
 * bool). Into an integer dtype a number is truncated toward zero, so it fits when its truncation lies in the range
 * (NaN and +-Infinity never do). The one check on every road from a JS value to an integer element: c10's own
 * misses int64's exact boundary (2 ** 63 arrives as a double and would be stored as -2 ** 63).
 */
export function fitsIn(dtype: Dtype): { fits: (v: number | bigint) => boolean; expected: string } | null {
  const range = integerRange(dtype);
  if (!range) return null;
  const lo = Number(range.min);
  const end = Number(range.max + 1n); // exact: a power of two
  return {
    fits: (v) => (typeof v === 'bigint' ? v >= range.min && v <= range.max : Math.trunc(v) >= lo && Math.trunc(v) < end),
    expected: `a value ${dtype} can hold (an integer in [${range.min}, ${range.max}])`,
  };
}

/** @internal `value`, to become an element of a `dtype` tensor: a RangeError naming `name` when it cannot be one. */
export function checkElement(name: string, value: number, dtype: Dtype): number {
  const check = fitsIn(dtype);
  if (check && !check.fits(value)) throw invalidValue(name, check.expected, value);
  return value;
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
  // Array.from, not map: it visits the holes of a sparse array (`new Array(2)`), which then fail as undefined.
  return Array.from(value, (d: unknown, i) => {
    if (rule.allowInfer && d === -1 && inferred++ === 0) return -1;
    return checkInt(`${name}[${i}]`, d, { min, expected });
  });
}

/**
 * Numbers as PyTorch takes them: `f(2, 3)`, `f([2, 3])`, as one array (still unchecked). An array or object among
 * several arguments (`f([2, 3], 1)`) is a TypeError naming `callee`: more arguments than it takes.
 */
function spreadArgs(callee: string, name: string, args: readonly unknown[]): unknown {
  if (args.length > 1 && args.some((a) => a !== null && typeof a === 'object')) {
    throw new TypeError(
      `${callee}() takes the ${name} as numbers or as one array of them, but received ${args.length} arguments, ` +
        `${describe(args.find((a) => a !== null && typeof a === 'object'))} among them`,
    );
  }
  return args.length === 1 && Array.isArray(args[0]) ? args[0] : [...args];
}

/** Shapes as PyTorch takes them: `f(2, 3)`, `f([2, 3])` (see spreadArgs). */
export function shapeArgs(callee: string, name: string, args: readonly unknown[], rule: ShapeRule = {}): number[] {
  return checkShape(name, spreadArgs(callee, name, args), rule);
}

export type TensorOther = Tensor | number;

/** A Tensor or a number operand; a number stored into a tensor of dtype `into` must fit it (checkElement). */
function otherHandle(name: string, other: unknown, into?: Dtype): NativeTensor | number {
  if (other instanceof Tensor) return other._h;
  if (typeof other === 'number') return into === undefined ? other : checkElement(name, other, into);
  throw invalidType(name, 'a Tensor or a number', other);
}

/** One index of Tensor.index(): see TensorIndex. */
function indexArg(name: string, value: unknown): NativeIndex {
  if (value === null || typeof value === 'boolean' || value === Ellipsis) return value;
  if (typeof value === 'number') return checkInt(name, value);
  if (value instanceof Slice) return [value.start, value.stop, value.step];
  if (value instanceof Tensor) return value._h;
  const expected = "an index: an integer, a boolean, a Slice, null (None), '...' (Ellipsis) or a Tensor";
  // ':' and '1:3' are Python's slice syntax, which JS lacks: say what to write instead.
  if (typeof value === 'string') throw invalidValue(name, `${expected} (Python's a:b:c is Slice(a, b, c))`, value);
  throw invalidType(name, expected, value);
}

/**
 * The index list of index() and index_put_(): one index, or a non-empty array of them (`t.index(0)` is
 * `t.index([0])`) holding at most one Ellipsis, as in Python (libtorch's C++ API would take a second one silently).
 */
function indicesArg(name: string, value: unknown): NativeIndex[] {
  if (!Array.isArray(value)) return [indexArg(name, value)];
  if (value.length === 0) throw invalidValue(name, 'an index or a non-empty array of them', value);
  const indices = Array.from(value, (v, i) => indexArg(`${name}[${i}]`, v));
  const second = indices.indexOf(Ellipsis, indices.indexOf(Ellipsis) + 1); // -1 also when there is none
  if (second !== -1) {
    throw invalidValue(`${name}[${second}]`, "an index other than '...': an index list holds one Ellipsis at most", value[second]);
  }
  return indices;
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

/** One dimension's `start:stop:step`, as made by `torch.indexing.Slice(start, stop, step)`; null is None. */
export class Slice {
  readonly start: number | null;
  readonly stop: number | null;
  readonly step: number;

  /** @internal made by torch.indexing.Slice(), which checks the arguments */
  constructor(start: number | null, stop: number | null, step: number) {
    this.start = start;
    this.stop = stop;
    this.step = step;
  }

  /** As it is made, None spelled out: `Slice(1, None, 1)`. */
  toString(): string {
    const part = (v: number | null) => (v === null ? 'None' : String(v));
    return `Slice(${part(this.start)}, ${part(this.stop)}, ${this.step})`;
  }

  [inspectCustom](): string {
    return this.toString();
  }
}

/** Python's `...` in an index list (`torch.indexing.Ellipsis`). */
export const Ellipsis = '...';

/**
 * One index of `t.index([...])`, as in PyTorch's C++ API (`t.index({...})`): an integer (negative counts from the
 * end), a `Slice`, null (None: a new dimension of size 1), '...' (Ellipsis), a boolean, or a Tensor (int64 indices,
 * or a bool mask).
 */
export type TensorIndex = number | boolean | null | typeof Ellipsis | Slice | Tensor;

/**
 * A multi-dimensional array of numbers in libtorch's memory (CPU or CUDA), with autograd. Python's `t[0, 1:]` is
 * `t.index([0, Slice(1)])` (JS has no slice syntax, and `t[0]` throws an Error saying so).
 */
/**
 * @internal Run after every backward(), in the order added: DistributedDataParallel averages its replicas' gradients
 * there (lib/nn/parallel.ts).
 */
export const afterBackward = new Set<() => void>();

/** The operators PyTorch's Tensor names, generated from libtorch's schemas (lib/ops) and installed by lib/index.ts. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface, @typescript-eslint/no-unsafe-declaration-merging
export interface Tensor extends TensorOps {}

export class Tensor {
  /** @internal the native handle */
  readonly _h: NativeTensor;

  /** @internal tensors come from torch.tensor(), torch.zeros(), operations and layers */
  constructor(handle: NativeTensor) {
    this._h = handle;
  }

  /** The shape, e.g. `[256, 1, 28, 28]`. */
  get shape(): Size {
    return Size.fromArray(native.tensorShape(this._h));
  }

  /** 'float32', 'int64', ... */
  get dtype(): Dtype {
    // One of DTYPES: the native side names only those (a test checks the lists agree).
    return native.tensorDtype(this._h) as Dtype;
  }

  get device(): Device {
    return parseDevice('device', native.tensorDevice(this._h));
  }

  get requires_grad(): boolean {
    return native.tensorRequiresGrad(this._h);
  }

  /** @throws Error (libtorch) when turned off on a tensor that is not a leaf. */
  set requires_grad(value: boolean) {
    native.tensorSetRequiresGrad(this._h, checkBool('requires_grad', value));
  }

  get is_leaf(): boolean {
    return native.tensorIsLeaf(this._h);
  }

  /** The gradient accumulated by backward(), or null. */
  get grad(): Tensor | null {
    return wrapOrNull(native.tensorGrad(this._h));
  }

  /** The name of the autograd node that made this tensor, e.g. 'NllLossBackward0'; null for leaves. */
  get grad_fn(): string | null {
    return native.tensorGradFn(this._h);
  }

  /** The number of dimensions. */
  dim(): number {
    checkArgCount('Tensor.dim', arguments.length, 0);
    return native.tensorShape(this._h).length;
  }

  numel(): number {
    checkArgCount('Tensor.numel', arguments.length, 0);
    return native.tensorNumel(this._h);
  }

  /** `size()` is the shape; `size(d)` one dimension of it (negative d counts from the end). */
  size(): Size;
  size(dim: number): number;
  size(dim?: number): Size | number {
    checkArgCount('Tensor.size', arguments.length, 1);
    const shape = native.tensorShape(this._h);
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
    return new Tensor(native.tensorTo(this._h, to.device, to.dtype));
  }

  /** `to('float32')`. */
  float(): Tensor {
    checkArgCount('Tensor.float', arguments.length, 0);
    return new Tensor(native.tensorTo(this._h, null, 'float32'));
  }

  /** `to('int64')`. */
  long(): Tensor {
    checkArgCount('Tensor.long', arguments.length, 0);
    return new Tensor(native.tensorTo(this._h, null, 'int64'));
  }

  /**
   * As PyTorch's: `type()` is the legacy type name ('torch.FloatTensor', 'torch.cuda.LongTensor', ...);
   * `type(dtype)` is `to(dtype)`, also given such a name (`type('torch.cuda.FloatTensor')` moves to CUDA,
   * `type('torch.FloatTensor')` to the CPU).
   * @example torch.zeros(2).type() === 'torch.FloatTensor'; t.type(torch.float64)
   * @throws TypeError for a dtype that is not a string; RangeError for an unknown dtype or type name.
   */
  type(): string;
  type(dtype: Dtype | string): Tensor;
  type(dtype?: Dtype | string): string | Tensor {
    checkArgCount('Tensor.type', arguments.length, 1);
    if (dtype === undefined) {
      return `torch.${native.tensorDevice(this._h) === 'cpu' ? '' : 'cuda.'}${DTYPE_TABLE[this.dtype].type}`;
    }
    if ((DTYPES as readonly string[]).includes(dtype)) return new Tensor(native.tensorTo(this._h, null, dtype));
    const name = typeof dtype === 'string' ? /^torch\.(cuda\.)?(\w+)$/.exec(dtype) : null;
    const target = name && DTYPES.find((d) => DTYPE_TABLE[d].type === name[2]);
    if (!target) {
      const expected = `a dtype (${DTYPES.map((d) => `'${d}'`).join(', ')}) or a type name ('torch.FloatTensor', ...)`;
      throw (typeof dtype === 'string' ? invalidValue : invalidType)('dtype', expected, dtype);
    }
    return new Tensor(native.tensorTo(this._h, name![1] ? 'cuda' : 'cpu', target));
  }

  /**
   * The value of a one-element tensor as a number (a boolean for dtype bool; int64 values beyond 2^53 lose precision).
   * @throws Error (libtorch) when the tensor has more than one element.
   */
  item(): number | boolean {
    checkArgCount('Tensor.item', arguments.length, 0);
    return native.tensorItem(this._h);
  }

  /** The values as nested arrays of numbers (booleans for dtype bool); a number for a 0-d tensor. */
  tolist(): unknown {
    checkArgCount('Tensor.tolist', arguments.length, 0);
    const data = native.tensorData(this._h);
    const bool = this.dtype === 'bool';
    const shape = native.tensorShape(this._h);
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
    return native.tensorData(this._h);
  }

  /** `reshape(-1, 1, 28, 28)` or `reshape([-1, 1, 28, 28])`; copies only when it must. */
  reshape(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.tensorReshape(this._h, shapeArgs('Tensor.reshape', 'shape', shape, { allowInfer: true })));
  }

  /**
   * `view(-1, 1, 28, 28)`: the same memory seen with another shape.
   * @throws Error (libtorch) when the sizes do not match or the memory layout does not allow a view.
   */
  view(...shape: number[] | [number[]]): Tensor {
    return new Tensor(native.tensorView(this._h, shapeArgs('Tensor.view', 'shape', shape, { allowInfer: true })));
  }

  /**
   * Python's `t[...]`, as PyTorch's C++ API writes it (`t.index({...})`): an array of indices, one per dimension
   * from the first, or one index alone. Each is an integer (negative counts from the end), a
   * `torch.indexing.Slice(start, stop, step)` (null for None; step > 0), null (None: a new dimension of size 1),
   * '...' (Ellipsis: as many `Slice()` as it takes), a boolean, or a Tensor (int64 indices, or a bool mask).
   * Integers and slices give a view sharing memory; tensor indices give a copy.
   * @example
   * const { Slice, None } = torch.indexing;
   * t.index(0)                      // t[0]
   * t.index([Slice(), 1])           // t[:, 1]
   * t.index([Slice(1, null, 2)])    // t[1::2]
   * t.index(['...', None])          // t[..., None]
   * t.index(t.gt(0))                // t[t > 0]
   * @throws TypeError / RangeError naming indices[i]; Error (libtorch) for an index out of range or too many indices.
   */
  index(indices: TensorIndex | TensorIndex[]): Tensor {
    checkArgCount('Tensor.index', arguments.length, 1);
    return new Tensor(native.tensorIndex(this._h, indicesArg('indices', indices)));
  }

  /**
   * Python's `t[...] = values` in place, as PyTorch's C++ API writes it (`t.index_put_({...}, values)`): the indices
   * are index()'s, `values` a number or a Tensor broadcast to the indexed shape. Returns this tensor.
   * @example t.index_put_([t.lt(0)], 0)   // t[t < 0] = 0
   * @throws TypeError / RangeError naming indices[i] or values; Error (libtorch) for an index out of range, a shape
   *   mismatch, or a leaf that requires grad.
   */
  index_put_(indices: TensorIndex | TensorIndex[], values: TensorOther): this {
    checkArgCount('Tensor.index_put_', arguments.length, 2);
    native.tensorIndexPut(this._h, indicesArg('indices', indices), otherHandle('values', values, this.dtype));
    return this;
  }

  /**
   * Sets requires_grad in place, as the property does; returns this.
   * @throws Error (libtorch) when turned off on a tensor that is not a leaf.
   */
  requires_grad_(requires_grad = true): this {
    checkArgCount('Tensor.requires_grad_', arguments.length, 1);
    native.tensorSetRequiresGrad(this._h, checkBool('requires_grad', requires_grad));
    return this;
  }

  /**
   * Back-propagates from this tensor, accumulating into the `.grad` of the leaves that require grad.
   * @throws Error (libtorch) for a non-scalar tensor without `gradient`, or one that does not require grad.
   */
  backward(gradient?: Tensor): void {
    checkArgCount('Tensor.backward', arguments.length, 1);
    if (gradient !== undefined && !(gradient instanceof Tensor)) throw invalidType('gradient', 'a Tensor', gradient);
    native.tensorBackward(this._h, gradient ? gradient._h : null);
    for (const fn of afterBackward) fn();
  }

  /** Frees the native memory now rather than at garbage collection. Any later use throws. Safe to call twice. */
  dispose(): void {
    checkArgCount('Tensor.dispose', arguments.length, 0);
    native.tensorDispose(this._h);
  }

  /** Whether dispose() was called. */
  get is_disposed(): boolean {
    return native.tensorIsDisposed(this._h);
  }

  /**
   * JSON.stringify, loggers and jest's diffs give a Tensor as it prints (`"tensor([1., 2.])"`, summarised when
   * large), as JSON.stringify gives a Date its string: its handle (an External, or a BigInt inside torch.tidy) would
   * come out as `{}` or fail with a message about BigInt. Its values are `t.tolist()`. (Python's json.dumps
   * refuses a tensor; a log line that throws would be lost.)
   */
  toJSON(): string {
    return this.toString();
  }

  /** As PyTorch prints it: `tensor([[0.1000, 0.2000]], dtype=torch.float64)`. */
  toString(): string {
    if (native.tensorIsDisposed(this._h)) return 'tensor(<disposed>)';
    return formatTensor({
      shape: native.tensorShape(this._h),
      dtype: this.dtype,
      data: native.tensorData(this._h),
      device: native.tensorDevice(this._h),
      requiresGrad: native.tensorRequiresGrad(this._h),
      gradFn: native.tensorGradFn(this._h),
    });
  }

  [inspectCustom](): string {
    return this.toString();
  }
}

// Brackets cannot index a Tensor: JS reads t[0, 1] as t[1] and has no t[1:3]. Left alone, t[0] would read
// undefined and t[0] = 1 would add a plain property: silent wrong answers. So Tensor.prototype's own prototype is a
// Proxy that throws for index keys, naming the spelling to use. A lookup that finds its property on the instance or
// on Tensor.prototype (every method and getter) stops before the Proxy, so ordinary use costs nothing more; only
// misses reach it.
const INDEX_KEY = /^-?\d+$/;

function indexingError(key: string): Error {
  return new Error(
    `A Tensor cannot be indexed with brackets (t[${key}]): write t.index(${key}) to read and ` +
      `t.index_put_(${key}, value) to write, as in PyTorch's C++ API (slices: torch.indexing.Slice)`,
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

/** topk()'s keywords. */
/** max() / min(): over all elements, or over one dimension with the indices. */
/**
 * What `max(dim)`, `min(dim)` and `topk(k)` return, as PyTorch's torch.return_types.max: the values and their int64
 * indices along the dimension, read as `.values` / `.indices` or destructured as `[values, indices]`.
 */
export class ValuesIndices implements Iterable<Tensor> {
  readonly values: Tensor;
  readonly indices: Tensor;
  readonly #op: string;

  /** @internal */
  constructor(op: string, values: Tensor, indices: Tensor) {
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

/**
 * @internal Makes `t`, when made inside torch.tidy(), outlive every scope, owned by the garbage collector; a no-op
 * for any other. Its handle becomes its owner (native/tensor.h: an External naming the same slot, with the finalizer),
 * so that whatever holds the handle from now on (a second Tensor over it, as `F.relu(x, true)` gives, a cache, a
 * native call's arguments) keeps the tensor alive, as any handle made outside a scope does.
 */
export function keepAlive(t: Tensor): void {
  adopt(t, native.tensorKeep(t._h));
}

function adopt(t: Tensor, owner: NativeOwner | undefined): void {
  if (owner !== undefined) (t as { _h: NativeTensor })._h = owner as unknown as NativeTensor;
}

/**
 * @internal Gives the tensors of a tidy's result the owners scopeEnd returned for their handles (each handle's
 * owner at its first place in `handles`; two Tensors over one handle, as `torch.sigmoid_(a)` and `a`, share it).
 */
export function adoptOwners(tensors: readonly Tensor[], handles: readonly NativeTensor[], found: readonly (NativeOwner | undefined)[] | undefined): void {
  if (found === undefined) return;
  const byHandle = new Map<NativeTensor, NativeOwner>();
  for (let i = 0; i < handles.length; i++) if (found[i] !== undefined) byHandle.set(handles[i], found[i]!);
  for (const t of tensors) adopt(t, byHandle.get(t._h));
}

/** Pushes `x` when it may hold a tensor (an object): a result of a million numbers costs a loop, not a stack. */
function pushObject(stack: unknown[], x: unknown): void {
  if (x !== null && typeof x === 'object') stack.push(x);
}

/**
 * @internal The tensors in a value (a tidy's result, a module attribute's value): itself, or in arrays, Maps, Sets and
 * objects, at any depth, each once.
 */
export function tensorsIn(value: unknown): Tensor[] {
  const handles: Tensor[] = [];
  if (value === null || typeof value !== 'object') return handles;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof Tensor) handles.push(v);
    else if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) continue;
    else if (Array.isArray(v)) for (const x of v) pushObject(stack, x);
    else if (v instanceof Map) for (const [k, x] of v) { pushObject(stack, k); pushObject(stack, x); }
    else if (v instanceof Set) for (const x of v) pushObject(stack, x);
    else for (const x of Object.values(v)) pushObject(stack, x);
  }
  return handles;
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
