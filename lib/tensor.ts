/**
 * Tensor: a JS view of one libtorch tensor, with PyTorch's names. Values live in native memory; V8 is told their
 * size, so garbage collection frees them even in loops that never call dispose().
 */
import type { NativeDtype, NativeTensor, NativeTypedArray } from '../binding';
import { Device, DeviceLike, parseDevice } from './device';
import { formatTensor, inspectCustom } from './format';
import { checkBool, checkInt, invalidType, invalidValue, isOptions } from './validate';

export type Dtype = NativeDtype;

export const DTYPES: readonly Dtype[] = [
  'float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool',
];

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

/** A shape given as an array or as separate numbers; `allowInfer` permits one -1 (view / reshape). */
export function checkShape(name: string, value: unknown, allowInfer = false): number[] {
  if (!Array.isArray(value)) throw invalidType(name, 'an array of non-negative integers', value);
  let inferred = 0;
  return value.map((d, i) => {
    if (allowInfer && d === -1 && inferred++ === 0) return -1;
    return checkInt(`${name}[${i}]`, d, { min: 0, expected: allowInfer ? 'a non-negative integer or one -1' : 'a non-negative integer' });
  });
}

/** Shapes as PyTorch takes them: `f(2, 3)`, `f([2, 3])`. */
function shapeArgs(name: string, args: readonly unknown[], allowInfer = false): number[] {
  return checkShape(name, args.length === 1 && Array.isArray(args[0]) ? args[0] : [...args], allowInfer);
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
    if (target.device !== undefined) result.device = String(parseDevice('device', target.device));
    if (target.dtype !== undefined) result.dtype = checkDtype('dtype', target.dtype);
  } else if (typeof target === 'string' && (DTYPES as readonly string[]).includes(target)) {
    result.dtype = target as Dtype;
  } else {
    result.device = String(parseDevice('device', target));
  }
  if (dtype !== undefined) result.dtype = checkDtype('dtype', dtype);
  return result;
}

/** A multi-dimensional array of numbers in libtorch's memory (CPU or CUDA), with autograd. */
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
    return this._h.dtype();
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
    return this._h.shape().length;
  }

  numel(): number {
    return this._h.numel();
  }

  /** `size()` is the shape; `size(d)` one dimension of it (negative d counts from the end). */
  size(): Size;
  size(dim: number): number;
  size(dim?: number): Size | number {
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
    const to = parseTo(target, dtype);
    return new Tensor(this._h.to(to.device, to.dtype));
  }

  /** `to('float32')`. */
  float(): Tensor {
    return new Tensor(this._h.to(null, 'float32'));
  }

  /** `to('int64')`. */
  long(): Tensor {
    return new Tensor(this._h.to(null, 'int64'));
  }

  /**
   * The value of a one-element tensor as a number (a boolean for dtype bool; int64 values beyond 2^53 lose precision).
   * @throws Error (libtorch) when the tensor has more than one element.
   */
  item(): number | boolean {
    return this._h.item();
  }

  /** The values as nested arrays of numbers (booleans for dtype bool); a number for a 0-d tensor. */
  tolist(): unknown {
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
    return this._h.data();
  }

  /** Indices of the maxima over `dim` (over all elements when omitted). */
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(this._h.argmax(dimArg('dim', dim), checkBool('keepdim', keepdim)));
  }

  /** Sum over all elements, or over `dim` (a number or an array of them). */
  sum(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(this._h.reduce('sum', dimsArg('dim', dim), checkBool('keepdim', keepdim)));
  }

  /** Mean over all elements, or over `dim`. Floating-point tensors only (libtorch's rule). */
  mean(dim?: number | number[], keepdim = false): Tensor {
    return new Tensor(this._h.reduce('mean', dimsArg('dim', dim), checkBool('keepdim', keepdim)));
  }

  /** The smallest element. */
  min(): Tensor {
    return new Tensor(this._h.reduce('amin', null, false));
  }

  /** The largest element. */
  max(): Tensor {
    return new Tensor(this._h.reduce('amax', null, false));
  }

  /** Element-wise equality (broadcasting): a bool tensor. */
  eq(other: TensorOther): Tensor {
    return new Tensor(this._h.binary('eq', otherHandle('other', other)));
  }

  add(other: TensorOther): Tensor {
    return new Tensor(this._h.binary('add', otherHandle('other', other)));
  }

  sub(other: TensorOther): Tensor {
    return new Tensor(this._h.binary('sub', otherHandle('other', other)));
  }

  mul(other: TensorOther): Tensor {
    return new Tensor(this._h.binary('mul', otherHandle('other', other)));
  }

  div(other: TensorOther): Tensor {
    return new Tensor(this._h.binary('div', otherHandle('other', other)));
  }

  matmul(other: Tensor): Tensor {
    if (!(other instanceof Tensor)) throw invalidType('other', 'a Tensor', other);
    return new Tensor(this._h.binary('matmul', other._h));
  }

  exp(): Tensor {
    return new Tensor(this._h.unary('exp'));
  }

  abs(): Tensor {
    return new Tensor(this._h.unary('abs'));
  }

  log(): Tensor {
    return new Tensor(this._h.unary('log'));
  }

  sigmoid(): Tensor {
    return new Tensor(this._h.unary('sigmoid'));
  }

  relu(): Tensor {
    return new Tensor(this._h.unary('relu'));
  }

  /** A new tensor with its own copy of the values (autograd-tracked). */
  clone(): Tensor {
    return new Tensor(this._h.unary('clone'));
  }

  /** The same values, cut off from autograd. */
  detach(): Tensor {
    return new Tensor(this._h.unary('detach'));
  }

  /** `reshape(-1, 1, 28, 28)` or `reshape([-1, 1, 28, 28])`; copies only when it must. */
  reshape(...shape: number[] | [number[]]): Tensor {
    return new Tensor(this._h.reshape(shapeArgs('shape', shape, true)));
  }

  /**
   * `view(-1, 1, 28, 28)`: the same memory seen with another shape.
   * @throws Error (libtorch) when the sizes do not match or the memory layout does not allow a view.
   */
  view(...shape: number[] | [number[]]): Tensor {
    return new Tensor(this._h.view(shapeArgs('shape', shape, true)));
  }

  /** Rows (or slices along `dim`) picked by an int64 index tensor. */
  index_select(dim: number, index: Tensor): Tensor {
    if (!(index instanceof Tensor)) throw invalidType('index', 'a Tensor', index);
    return new Tensor(this._h.indexSelect(checkInt('dim', dim), index._h));
  }

  /**
   * Back-propagates from this tensor, accumulating into the `.grad` of the leaves that require grad.
   * @throws Error (libtorch) for a non-scalar tensor without `gradient`, or one that does not require grad.
   */
  backward(gradient?: Tensor): void {
    if (gradient !== undefined && !(gradient instanceof Tensor)) throw invalidType('gradient', 'a Tensor', gradient);
    this._h.backward(gradient ? gradient._h : null);
  }

  /** Frees the native memory now rather than at garbage collection. Any later use throws. Safe to call twice. */
  dispose(): void {
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

/** @internal */
export function wrapOrNull(handle: NativeTensor | null): Tensor | null {
  return handle ? new Tensor(handle) : null;
}

/** @internal the handle of a Tensor argument, or a TypeError naming it */
export function handleOf(name: string, value: unknown): NativeTensor {
  if (!(value instanceof Tensor)) throw invalidType(name, 'a Tensor', value);
  return value._h;
}
