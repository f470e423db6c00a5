/**
 * The `torch` namespace: tensor creation, seeding, threads, devices, CUDA queries and grad mode, named as in PyTorch.
 */
import { types } from 'node:util';
import type { NativeTypedArray } from '../binding';
import { native } from './binding';
import { Device, DeviceLike, device, parseDevice } from './device';
import { DataLoader, TensorDataset } from './data';
import { checkDtype, checkShape, Dtype, Size, Tensor } from './tensor';
import {
  checkBool,
  checkFunction,
  checkInt,
  checkNumber,
  checkOptions,
  invalidType,
  invalidValue,
  isOptions,
} from './validate';

export { Device, device, Size, Tensor };
export type { DeviceLike, Dtype };
export type { Dataset, DataLoaderOptions } from './data';

/** torch.utils.data: DataLoader and TensorDataset, batched natively. */
export const utils = { data: { DataLoader, TensorDataset } };

/** dtype constants, as `torch.float32`; every API also takes the plain string. */
export const float32: Dtype = 'float32';
export const float64: Dtype = 'float64';
export const float16: Dtype = 'float16';
export const bfloat16: Dtype = 'bfloat16';
export const int64: Dtype = 'int64';
export const int32: Dtype = 'int32';
export const int16: Dtype = 'int16';
export const int8: Dtype = 'int8';
export const uint8: Dtype = 'uint8';
export const bool: Dtype = 'bool';
/** PyTorch's aliases for the same dtypes. */
export const float: Dtype = 'float32';
export const long: Dtype = 'int64';

/** The libtorch version the native addon was built against, e.g. '1.13.0'. */
export const __version__: string = native.torchVersion;

export interface CreationOptions {
  dtype?: Dtype;
  device?: DeviceLike;
  requires_grad?: boolean;
}

export interface TensorOptions extends CreationOptions {
  /** Reshape the data to this shape (its element count must match). */
  shape?: number[];
}

type Nested = number | boolean | bigint | Nested[];
export type TensorData = Nested | NativeTypedArray;

interface Creation {
  dtype: Dtype | null;
  device: string | null;
  requiresGrad: boolean;
}

function creationOptions(options: CreationOptions): Creation {
  return {
    dtype: options.dtype === undefined ? null : checkDtype('dtype', options.dtype),
    device: options.device === undefined ? null : String(parseDevice('device', options.device)),
    requiresGrad: options.requires_grad === undefined ? false : checkBool('requires_grad', options.requires_grad),
  };
}

function finish(t: Tensor, c: Creation): Tensor {
  if (c.requiresGrad) t.requires_grad = true;
  return t;
}

// util.types checks work across realms (vm contexts, jest), where instanceof Float32Array does not.
function isTypedArray(value: unknown): value is NativeTypedArray {
  return (
    types.isFloat32Array(value) || types.isFloat64Array(value) || types.isInt32Array(value) ||
    types.isInt16Array(value) || types.isInt8Array(value) || types.isUint8Array(value) || types.isBigInt64Array(value)
  );
}

/** Shape and flat values of nested arrays; a RangeError names the first ragged place, a TypeError a non-number. */
function flatten(data: Nested): { shape: number[]; values: Nested[]; kind: 'number' | 'boolean' | 'bigint' } {
  const shape: number[] = [];
  for (let level: Nested = data; Array.isArray(level); level = level[0]) shape.push(level.length);
  const values: Nested[] = [];
  const walk = (node: Nested, dim: number, where: string) => {
    if (dim === shape.length) {
      if (Array.isArray(node)) throw invalidValue(`data${where}`, 'a number (the array is ragged)', node);
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim]) {
      throw invalidValue(`data${where}`, `an array of length ${shape[dim]} (the array is ragged)`, node);
    }
    node.forEach((child, i) => walk(child, dim + 1, `${where}[${i}]`));
  };
  walk(data, 0, '');
  const first = values.length ? typeof values[0] : 'number';
  if (first !== 'number' && first !== 'boolean' && first !== 'bigint') {
    throw invalidType('data', 'numbers, booleans or bigints (possibly nested in arrays)', values[0]);
  }
  values.forEach((v, i) => {
    if (typeof v !== first) throw invalidType(`data (element ${i})`, `a ${first} like the first element`, v);
  });
  return { shape, values, kind: first as 'number' | 'boolean' | 'bigint' };
}

/**
 * A tensor holding a copy of `data`: a number, nested arrays, or a typed array.
 * The dtype follows the data: numbers give float32 (a JS number does not say whether it is an integer; pass
 * `{dtype: 'int64'}` for class labels), booleans bool, bigints int64, a typed array its own type
 * (Float32Array float32, Int32Array int32, BigInt64Array int64, ...).
 * @example torch.tensor([[1, 2], [3, 4]]); torch.tensor([0, 2, 1], {dtype: torch.int64})
 * @throws TypeError for data that is not numbers; RangeError for ragged arrays or a `shape` that does not match.
 */
export function tensor(data: TensorData, options: TensorOptions = {}): Tensor {
  const opts = checkOptions('options', options) as TensorOptions;
  const c = creationOptions(opts);
  let array: NativeTypedArray;
  let shape: number[];
  if (isTypedArray(data)) {
    array = data;
    shape = [data.length];
  } else if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint' || Array.isArray(data)) {
    const flat = flatten(data);
    shape = flat.shape;
    if (flat.kind === 'bigint') {
      array = BigInt64Array.from(flat.values as bigint[]);
    } else if (flat.kind === 'boolean') {
      array = Uint8Array.from(flat.values as boolean[], (b) => (b ? 1 : 0));
      if (c.dtype === null) c.dtype = 'bool';
    } else {
      array = Float64Array.from(flat.values as number[]);
      if (c.dtype === null) c.dtype = 'float32';
    }
  } else {
    throw invalidType('data', 'a number, an array of numbers or a typed array', data);
  }
  if (opts.shape !== undefined) {
    const wanted = checkShape('shape', opts.shape);
    const count = wanted.reduce((a, b) => a * b, 1);
    if (count !== array.length) {
      throw invalidValue('shape', `a shape holding ${array.length} elements (the data's length)`, opts.shape);
    }
    shape = wanted;
  }
  return finish(new Tensor(native.fromData(array, shape, c.dtype, c.device, false)), c);
}

/**
 * Splits PyTorch-style creation arguments: `f(2, 3)`, `f([2, 3])`, `f([2, 3], {dtype})`, `f({size: [2, 3]})`.
 */
function sizeAndOptions(args: unknown[]): { size: number[]; options: CreationOptions } {
  let options: Record<string, unknown> = {};
  let rest = args;
  if (rest.length && isOptions(rest[rest.length - 1])) {
    options = { ...(rest[rest.length - 1] as Record<string, unknown>) };
    rest = rest.slice(0, -1);
  }
  let size: unknown = rest.length === 1 && Array.isArray(rest[0]) ? rest[0] : rest;
  if ('size' in options) {
    if (rest.length) throw new TypeError("got multiple values for argument 'size'");
    size = options.size;
    delete options.size;
  }
  for (const key of Object.keys(options)) {
    if (!['dtype', 'device', 'requires_grad'].includes(key)) throw new TypeError(`got an unexpected keyword argument '${key}'`);
  }
  return { size: checkShape('size', size), options };
}

/** `(2, 3)`, `([2, 3])`, `([2, 3], options)`, `(2, 3, options)`, `({size: [2, 3], ...options})`. */
export type SizeArgs =
  | number[]
  | [number[], CreationOptions?]
  | [...number[], CreationOptions]
  | [CreationOptions & { size: number[] }];

/** A tensor of zeros: `torch.zeros(2, 3)`, `torch.zeros([2, 3], {dtype: torch.int64})`. */
export function zeros(...args: SizeArgs): Tensor {
  const { size, options } = sizeAndOptions(args);
  const c = creationOptions(options);
  return finish(new Tensor(native.full(size, 0, c.dtype, c.device)), c);
}

/** A tensor of ones. */
export function ones(...args: SizeArgs): Tensor {
  const { size, options } = sizeAndOptions(args);
  const c = creationOptions(options);
  return finish(new Tensor(native.full(size, 1, c.dtype, c.device)), c);
}

/** A tensor filled with `fill_value`. */
export function full(size: number[], fill_value: number, options: CreationOptions = {}): Tensor {
  const c = creationOptions(checkOptions('options', options));
  return finish(new Tensor(native.full(checkShape('size', size), checkNumber('fill_value', fill_value, { expected: 'a number' }), c.dtype, c.device)), c);
}

/** Uniform random values in [0, 1): `torch.rand([1, 1, 28, 28])`. Seeded by torch.manual_seed. */
export function rand(...args: SizeArgs): Tensor {
  const { size, options } = sizeAndOptions(args);
  const c = creationOptions(options);
  return finish(new Tensor(native.random('rand', size, c.dtype, c.device)), c);
}

/** Standard normal random values. */
export function randn(...args: SizeArgs): Tensor {
  const { size, options } = sizeAndOptions(args);
  const c = creationOptions(options);
  return finish(new Tensor(native.random('randn', size, c.dtype, c.device)), c);
}

/** Random integers in [low, high), int64 by default: `torch.randint(0, 10, [256])`. */
export function randint(low: number, high: number, size: number[], options: CreationOptions = {}): Tensor {
  const c = creationOptions(checkOptions('options', options));
  checkInt('low', low);
  checkInt('high', high);
  if (high <= low) throw invalidValue('high', `an integer greater than low (${low})`, high);
  return finish(new Tensor(native.randint(low, high, checkShape('size', size), c.dtype ?? 'int64', c.device)), c);
}

/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, options: { device?: DeviceLike } = {}): Tensor {
  const opts = checkOptions('options', options) as { device?: DeviceLike };
  const dev = opts.device === undefined ? null : String(parseDevice('device', opts.device));
  return new Tensor(native.randperm(checkInt('n', n, { min: 0 }), dev));
}

/** `arange(end)` or `arange(start, end, step = 1)`: int64 when all are integers, else float32. */
export function arange(start: number, end?: number, step = 1, options: CreationOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  checkNumber('start', start);
  checkNumber('end', end);
  checkNumber('step', step);
  if (step === 0) throw invalidValue('step', 'a non-zero number', step);
  const c = creationOptions(checkOptions('options', options));
  const integral = [start, end, step].every(Number.isInteger);
  return finish(new Tensor(native.arange(start, end, step, c.dtype ?? (integral ? 'int64' : 'float32'), c.device)), c);
}

/** Seeds libtorch's generators (CPU and CUDA), as torch.manual_seed: weights, rand*, and data shuffling. */
export function manual_seed(seed: number): void {
  native.manualSeed(checkInt('seed', seed, { min: 0 }));
}

/** Sets the number of threads libtorch uses within an operation. */
export function set_num_threads(n: number): void {
  native.setNumThreads(checkInt('n', n, { min: 1 }));
}

export function get_num_threads(): number {
  return native.getNumThreads();
}

/** CUDA queries, as torch.cuda. */
export const cuda = {
  /** Whether this build of libtorch has CUDA and a device is visible. */
  is_available(): boolean {
    return native.cudaIsAvailable();
  },
  /** The number of visible CUDA devices (0 without CUDA). */
  device_count(): number {
    return native.cudaDeviceCount();
  },
  /** Waits for all queued CUDA work to finish (a no-op without CUDA). */
  synchronize(): void {
    native.cudaSynchronize();
  },
  /**
   * Bytes held by tensors on a CUDA device (default cuda:0), as torch.cuda.memory_allocated; 0 without CUDA.
   * @throws RangeError for a device that is not a CUDA device.
   */
  memory_allocated(device: DeviceLike | number = 0): number {
    const dev = typeof device === 'number' ? parseDevice('device', `cuda:${checkInt('device', device, { min: 0 })}`) : parseDevice('device', device);
    if (dev.type !== 'cuda') throw invalidValue('device', 'a CUDA device', device);
    return native.cudaBuild ? native.cudaMemoryAllocated(dev.index ?? 0) : 0;
  },
};

/**
 * Runs `fn` with autograd off and returns its result, as `with torch.no_grad():`. `fn` must be synchronous:
 * grad mode is per thread and restored as soon as `fn` returns.
 * @example const acc = torch.no_grad(() => net.forward(X).argmax(1).eq(y).sum().item());
 */
export function no_grad<T>(fn: () => T): T {
  checkFunction('fn', fn);
  const previous = native.isGradEnabled();
  native.setGradEnabled(false);
  let result: T;
  try {
    result = fn();
  } finally {
    native.setGradEnabled(previous);
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    throw new TypeError('no_grad(fn): fn returned a Promise, but grad mode only covers synchronous code');
  }
  return result;
}

/** Whether autograd records operations on this thread. */
export function is_grad_enabled(): boolean {
  return native.isGradEnabled();
}

/** @internal for callers that already hold a Device */
export function deviceString(name: string, value: unknown): string {
  return String(parseDevice(name, value));
}
