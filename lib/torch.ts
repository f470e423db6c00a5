/**
 * The `torch` namespace: tensor creation, seeding, threads, devices, CUDA queries and grad mode, named as in PyTorch.
 */
import { types } from 'node:util';
import type { NativeTensor, NativeTypedArray } from '../binding';
import { native } from './binding';
import { Device, DeviceLike, device, parseDevice } from './device';
import { DataLoader, DistributedSampler, Subset, TensorDataset } from './data';
import * as distributed from './distributed';
import { gradModeTaken } from './grad_mode';
import * as jit from './jit';
import * as nn from './nn';
import * as optim from './optim';
import { adoptOwners, checkDtype, checkElement, checkShape, Dtype, DTYPE_CONSTANTS, fitsIn, handleOf, keepAlive, shapeArgs, Size, Tensor, tensorsIn, typedArrayDtype } from './tensor';
import * as indexing from './indexing';
import { namespace } from './ops';
import type { FftOps, LinalgOps, SpecialOps } from './ops';

// Every operator of PyTorch's torch namespace that libtorch implements, generated from the schemas (lib/ops); the
// functions written in this file win where both name one.
export * from './ops/torch-functions';
/** torch.linalg: the operators libtorch names linalg_*, generated from the schemas. */
export const linalg = Object.freeze(namespace('linalg')) as unknown as LinalgOps;
/** torch.special: the operators libtorch names special_*, generated from the schemas. */
export const special = Object.freeze(namespace('special')) as unknown as SpecialOps;
/** torch.fft: the operators libtorch names fft_*, generated from the schemas. */
export const fft = Object.freeze(namespace('fft')) as unknown as FftOps;
import {
  checkArgCount,
  checkBool,
  checkFunction,
  checkInt,
  checkNumber,
  checkOptions,
  invalidType,
  invalidValue,
  isOptions,
  parseArgs,
} from './validate';

export { Device, device, indexing, Size, Tensor };
export type { DeviceLike, Dtype };
export type { TensorIndex } from './tensor';
export { load, save } from './serialization';
export type { LoadOptions, Saveable } from './serialization';
export type { Dataset, DataLoaderOptions, DistributedSamplerOptions } from './data';
export { distributed, jit };
/** torch.nn and torch.optim: the very namespaces the package exports as `nn` and `optim` (PyTorch's `from torch import
 * nn`), so that `torch.optim.SGD(net.parameters(), {lr})` and `torch.nn.functional.relu` read as the book writes them. */
export { nn, optim };

/** torch.utils.data: DataLoader, TensorDataset, Subset and DistributedSampler, batched natively. */
export const utils = { data: { DataLoader, DistributedSampler, Subset, TensorDataset } };

/** dtype constants, as `torch.float32`; every API also takes the plain string. */
export const { float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool } = DTYPE_CONSTANTS;
/** PyTorch's aliases for the same dtypes. */
export const float: Dtype = float32;
export const long: Dtype = int64;

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

/** The options object of a creation function: {dtype, device, requires_grad}, unknown keys refused. */
function creationKeywords(callee: string, options: unknown): CreationOptions {
  return parseArgs(callee, ['dtype', 'device', 'requires_grad'], [checkOptions('options', options)]) as CreationOptions;
}

function finish(t: Tensor, c: Creation): Tensor {
  if (c.requiresGrad) t.requires_grad = true;
  return t;
}

/** One of the typed arrays the dtype table carries values in (see typedArrayDtype). */
function isTypedArray(value: unknown): value is NativeTypedArray {
  return typedArrayDtype(value) !== null;
}

/**
 * Shape and flat values of nested arrays. A hole (an empty slot of a sparse array) or a non-number is a TypeError
 * naming its place, a ragged array a RangeError naming the first ragged place.
 */
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
    // A for loop, not forEach: forEach skips holes, and a skipped hole would leave fewer values than the shape holds.
    for (let i = 0; i < node.length; i++) {
      if (!(i in node)) throw new TypeError(`Expected data${where}[${i}] to be a number but the array has a hole there (an empty slot)`);
      walk(node[i], dim + 1, `${where}[${i}]`);
    }
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
 * A RangeError naming the first value that `dtype` cannot hold: integer dtypes refuse NaN, +-Infinity and values
 * outside their range (finite values in range are truncated toward zero, as PyTorch does: 1.7 -> 1).
 */
function checkFits(values: ArrayLike<number | bigint>, dtype: Dtype): void {
  const check = fitsIn(dtype);
  if (!check) return;
  for (let i = 0; i < values.length; i++) {
    if (!check.fits(values[i])) throw invalidValue(`data (element ${i})`, check.expected, values[i]);
  }
}

/**
 * A tensor holding a copy of `data`: a number, nested arrays, or a typed array.
 * The dtype follows the data: numbers give float32 (a JS number does not say whether it is an integer; pass
 * `{dtype: 'int64'}` for class labels), booleans bool, bigints int64, a typed array its own type
 * (Float32Array float32, Int32Array int32, BigInt64Array int64, ...). Into an integer dtype, fractions are truncated
 * toward zero as in PyTorch (1.7 -> 1).
 * @example torch.tensor([[1, 2], [3, 4]]); torch.tensor([0, 2, 1], {dtype: torch.int64})
 * @throws TypeError for data that is not numbers or has holes (`[1, , 3]`); RangeError for ragged arrays, a `shape`
 *   that does not match, or a value the dtype cannot hold (NaN, Infinity or out of range for an integer dtype, a
 *   bigint beyond int64).
 */
export function tensor(data: TensorData, options: TensorOptions = {}): Tensor {
  checkArgCount('tensor', arguments.length, 2);
  const opts = parseArgs('tensor', ['dtype', 'device', 'requires_grad', 'shape'], [checkOptions('options', options)]) as TensorOptions;
  const c = creationOptions(opts);
  let array: NativeTypedArray;
  let shape: number[];
  if (isTypedArray(data)) {
    // Node-API cannot read a SharedArrayBuffer; the values are copied anyway.
    array = types.isSharedArrayBuffer(data.buffer) ? data.slice() : data;
    shape = [data.length];
    if (c.dtype !== null && c.dtype !== typedArrayDtype(array)) checkFits(array, c.dtype);
  } else if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint' || Array.isArray(data)) {
    const flat = flatten(data);
    shape = flat.shape;
    if (flat.kind === 'bigint') {
      // BigInt64Array.from would wrap a bigint beyond int64 silently (2n ** 64n -> 0n).
      checkFits(flat.values as bigint[], 'int64');
      array = BigInt64Array.from(flat.values as bigint[]);
    } else if (flat.kind === 'boolean') {
      array = Uint8Array.from(flat.values as boolean[], (b) => (b ? 1 : 0));
      if (c.dtype === null) c.dtype = 'bool';
    } else {
      array = Float64Array.from(flat.values as number[]);
      if (c.dtype === null) c.dtype = 'float32';
    }
    if (c.dtype !== null && flat.kind !== 'boolean') checkFits(array, c.dtype);
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
  return finish(new Tensor(native.fromData(array, shape, c.dtype, c.device)), c);
}

/**
 * Splits PyTorch-style creation arguments: `f(2, 3)`, `f([2, 3])`, `f([2, 3], {dtype})`, `f({size: [2, 3]})`;
 * keyword errors are parseArgs' own.
 */
function sizeAndOptions(callee: string, args: readonly unknown[]): { size: number[]; options: CreationOptions } {
  const keywords = args.length && isOptions(args[args.length - 1]) ? [args[args.length - 1]] : [];
  const sizes = keywords.length ? args.slice(0, -1) : args;
  const positional = sizes.length ? [shapeArgs(callee, 'size', sizes)] : [];
  const a = parseArgs(callee, ['size', 'dtype', 'device', 'requires_grad'], [...positional, ...keywords]);
  return { size: checkShape('size', a.size ?? []), options: a as CreationOptions };
}

/** `(2, 3)`, `([2, 3])`, `([2, 3], options)`, `(2, 3, options)`, `({size: [2, 3], ...options})`. */
export type SizeArgs =
  | number[]
  | [number[], CreationOptions?]
  | [...number[], CreationOptions]
  | [CreationOptions & { size: number[] }];

/** A creation function taking sizes as PyTorch does (see SizeArgs); `make` gets checked, complete arguments. */
function sizeCreation(
  callee: string,
  make: (size: number[], dtype: Dtype | null, device: string | null) => NativeTensor,
): (...args: SizeArgs) => Tensor {
  const create = (...args: SizeArgs): Tensor => {
    const { size, options } = sizeAndOptions(callee, args);
    const c = creationOptions(options);
    return finish(new Tensor(make(size, c.dtype, c.device)), c);
  };
  return Object.defineProperty(create, 'name', { value: callee });
}

/** A tensor of zeros: `torch.zeros(2, 3)`, `torch.zeros([2, 3], {dtype: torch.int64})`. */
export const zeros = sizeCreation('zeros', (size, dtype, dev) => native.full(size, 0, dtype, dev));

/** A tensor of ones: `torch.ones(2, 3)`. */
export const ones = sizeCreation('ones', (size, dtype, dev) => native.full(size, 1, dtype, dev));

/** Uniform random values in [0, 1): `torch.rand([1, 1, 28, 28])`. Seeded by torch.manual_seed. */
export const rand = sizeCreation('rand', (size, dtype, dev) => native.random('rand', size, dtype, dev));

/** Standard normal random values: `torch.randn(2, 3)`. Seeded by torch.manual_seed. */
export const randn = sizeCreation('randn', (size, dtype, dev) => native.random('randn', size, dtype, dev));

/** A tensor filled with `fill_value` (float32 unless `dtype` says otherwise). */
export function full(size: number[], fill_value: number, options: CreationOptions = {}): Tensor {
  checkArgCount('full', arguments.length, 3);
  const c = creationOptions(creationKeywords('full', options));
  // NaN and +-Infinity fill a float tensor, as in PyTorch; an integer dtype takes only the integers it holds.
  if (typeof fill_value !== 'number') throw invalidType('fill_value', 'a number', fill_value);
  const value = checkElement('fill_value', fill_value, c.dtype ?? 'float32');
  return finish(new Tensor(native.full(checkShape('size', size), value, c.dtype, c.device)), c);
}

/** Random integers in [low, high), int64 by default: `torch.randint(0, 10, [256])`. */
export function randint(low: number, high: number, size: number[], options: CreationOptions = {}): Tensor {
  checkArgCount('randint', arguments.length, 4);
  const c = creationOptions(creationKeywords('randint', options));
  checkInt('low', low);
  checkInt('high', high);
  if (high <= low) throw invalidValue('high', `an integer greater than low (${low})`, high);
  return finish(new Tensor(native.randint(low, high, checkShape('size', size), c.dtype ?? 'int64', c.device)), c);
}

/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, options: { device?: DeviceLike } = {}): Tensor {
  checkArgCount('randperm', arguments.length, 2);
  const opts = parseArgs('randperm', ['device'], [checkOptions('options', options)]) as { device?: DeviceLike };
  const dev = opts.device === undefined ? null : String(parseDevice('device', opts.device));
  return new Tensor(native.randperm(checkInt('n', n, { min: 0 }), dev));
}

/** `arange(end)` or `arange(start, end, step = 1)`: int64 when all are integers, else float32. */
export function arange(start: number, end?: number, step = 1, options: CreationOptions = {}): Tensor {
  checkArgCount('arange', arguments.length, 4);
  if (end === undefined) [start, end] = [0, start];
  checkNumber('start', start);
  checkNumber('end', end);
  checkNumber('step', step);
  if (step === 0) throw invalidValue('step', 'a non-zero number', step);
  const c = creationOptions(creationKeywords('arange', options));
  const dtype = c.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int64' : 'float32');
  checkElement('start', start, dtype);
  checkElement('end', end, dtype);
  checkElement('step', step, dtype);
  return finish(new Tensor(native.arange(start, end, step, dtype, c.device)), c);
}

/** cat() and stack(): `tensors` a non-empty array of Tensors, `dim` an integer (default 0), as PyTorch takes them. */
function join(op: 'cat' | 'stack', args: unknown[]): Tensor {
  const a = parseArgs(op, ['tensors', 'dim'], args, 1);
  if (!Array.isArray(a.tensors)) throw invalidType('tensors', 'an array of Tensors', a.tensors);
  if (a.tensors.length === 0) throw invalidValue('tensors', 'a non-empty array of Tensors', a.tensors);
  const tensors = Array.from(a.tensors, (t, i) => handleOf(`tensors[${i}]`, t));
  return new Tensor(native.join(op, tensors, checkInt('dim', a.dim ?? 0)));
}

/**
 * The tensors joined along an existing dimension, as torch.cat: `torch.cat([a, b])`, `torch.cat([a, b], 1)` or
 * `torch.cat([a, b], { dim: 1 })`.
 * @throws TypeError naming tensors[i] for a non-Tensor; RangeError for an empty list; Error (libtorch) for shapes
 *   that differ outside `dim` or a dim out of range.
 */
export function cat(tensors: readonly Tensor[], dim?: number): Tensor;
export function cat(tensors: readonly Tensor[], options: { dim?: number }): Tensor;
export function cat(...args: unknown[]): Tensor {
  return join('cat', args);
}

/**
 * The tensors, all of one shape, stacked along a new dimension `dim`, as torch.stack: `torch.stack([a, b])`,
 * `torch.stack([a, b], 1)` or `torch.stack([a, b], { dim: 1 })`.
 * @throws TypeError naming tensors[i] for a non-Tensor; RangeError for an empty list; Error (libtorch) for shapes
 *   that differ or a dim out of range.
 */
export function stack(tensors: readonly Tensor[], dim?: number): Tensor;
export function stack(tensors: readonly Tensor[], options: { dim?: number }): Tensor;
export function stack(...args: unknown[]): Tensor {
  return join('stack', args);
}

/** Seeds libtorch's generators (CPU and CUDA), as torch.manual_seed: weights, rand*, and data shuffling. */
export function manual_seed(seed: number): void {
  checkArgCount('manual_seed', arguments.length, 1);
  native.manualSeed(checkInt('seed', seed, { min: 0 }));
}

/** Sets the number of threads libtorch uses within an operation. */
export function set_num_threads(n: number): void {
  checkArgCount('set_num_threads', arguments.length, 1);
  native.setNumThreads(checkInt('n', n, { min: 1 }));
}

export function get_num_threads(): number {
  checkArgCount('get_num_threads', arguments.length, 0);
  return native.getNumThreads();
}

/** Backend queries, as torch.backends. */
export const backends = {
  cpu: {
    /**
     * The SIMD instruction set lenet-torch's own CPU kernels (the direct convolution loops) run, as PyTorch's
     * torch.backends.cpu.get_cpu_capability() spells it: 'AVX512', 'AVX2', 'SSE4', 'NEON' or 'DEFAULT' (portable
     * code). The best one the CPU has, unless the ATEN_CPU_CAPABILITY environment variable (PyTorch's: 'avx2',
     * 'default', ...) names a lower one at start-up.
     */
    get_cpu_capability(): string {
      checkArgCount('backends.cpu.get_cpu_capability', arguments.length, 0);
      return native.cpuCapability().toUpperCase();
    },
  },
};

/** CUDA queries, as torch.cuda. */
export const cuda = {
  /** Whether this build of libtorch has CUDA and a device is visible. */
  is_available(): boolean {
    checkArgCount('cuda.is_available', arguments.length, 0);
    return native.cudaIsAvailable();
  },
  /** The number of visible CUDA devices (0 without CUDA). */
  device_count(): number {
    checkArgCount('cuda.device_count', arguments.length, 0);
    return native.cudaDeviceCount();
  },
  /** Waits for all queued CUDA work to finish (a no-op without CUDA). */
  synchronize(): void {
    checkArgCount('cuda.synchronize', arguments.length, 0);
    native.cudaSynchronize();
  },
  /**
   * Bytes held by tensors on a CUDA device (default cuda:0), as torch.cuda.memory_allocated; 0 without CUDA.
   * @throws RangeError for a device that is not a CUDA device.
   */
  memory_allocated(device: DeviceLike | number = 0): number {
    checkArgCount('cuda.memory_allocated', arguments.length, 1);
    const dev = typeof device === 'number' ? parseDevice('device', `cuda:${checkInt('device', device, { min: 0 })}`) : parseDevice('device', device);
    if (dev.type !== 'cuda') throw invalidValue('device', 'a CUDA device', device);
    return native.cudaBuild ? native.cudaMemoryAllocated(dev.index ?? 0) : 0;
  },
};

/**
 * Runs `fn` with autograd off and returns its result, as `with torch.no_grad():`. `fn` must be synchronous:
 * grad mode is per thread and restored as soon as `fn` returns (a ScriptModule's `forward` may be returned: it takes
 * grad mode when called, `await torch.no_grad(() => model.forward(X))`).
 * @example const acc = torch.no_grad(() => net.forward(X).argmax(1).eq(y).sum().item());
 */
export function no_grad<T>(fn: () => T): T {
  checkArgCount('no_grad', arguments.length, 1);
  checkFunction('fn', fn);
  const previous = native.isGradEnabled();
  native.setGradEnabled(false);
  let result: T;
  try {
    result = fn();
  } finally {
    native.setGradEnabled(previous);
  }
  // A ScriptModule's method call took grad mode when it was made: its promise is fine.
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function' &&
      !gradModeTaken(result)) {
    throw new TypeError('no_grad(fn): fn returned a Promise, but grad mode only covers synchronous code');
  }
  return result;
}

/**
 * Runs `fn` and frees every tensor made inside it when it returns (or throws), except the tensors in its result (a
 * Tensor, or arrays, Maps, Sets and objects holding them), which live on: into the `tidy` around it, if any, else
 * until garbage collected. Outside `tidy` a result is freed when V8 collects its handle, tens of thousands at once;
 * inside, it costs no finalizer and its memory is reused at once, as Python frees a tensor when its last reference
 * goes: a JS forward of many small ops (a Residual block's) runs faster so, and holds less memory. Tensors made
 * inside and kept elsewhere must be passed to torch.keep (assigning one to a module attribute, nn.Parameter and
 * register_buffer keep it already); others read as disposed afterwards (an Error when used, never another tensor).
 * There is no such function in PyTorch (reference counting frees there); the name and its rules are
 * TensorFlow.js's `tf.tidy`. `fn` must be synchronous.
 * @example const loss = torch.tidy(() => loss_fn(net.forward(X), y));  // the activations are freed, the loss is not
 * @throws TypeError when fn is not a function or returns a Promise.
 */
export function tidy<T>(fn: () => T): T {
  checkArgCount('tidy', arguments.length, 1);
  checkFunction('fn', fn);
  native.scopeBegin();
  // Whatever happens (fn throws, a getter of its result throws), the scope ends: an open one would own every later
  // result on this thread.
  let keep: Tensor[] = [];
  try {
    const result = fn();
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      throw new TypeError('tidy(fn): fn returned a Promise, but tidy only covers synchronous code');
    }
    keep = tensorsIn(result);
    return result;
  } finally {
    // The results that leave the last scope come back with their owners (lib/tensor.ts keepAlive).
    const handles = keep.map((t) => t._h);
    adoptOwners(keep, handles, native.scopeEnd(handles));
  }
}

/**
 * Keeps a tensor made inside torch.tidy from being freed when the tidy ends, as TensorFlow.js's `tf.keep`: it lives
 * until garbage collected. Returns it. Outside tidy, a no-op.
 * @throws TypeError when t is not a Tensor; Error when it was disposed.
 */
export function keep<T extends Tensor>(t: T): T {
  checkArgCount('keep', arguments.length, 1);
  if (!(t instanceof Tensor)) throw invalidType('t', 'a Tensor', t);
  keepAlive(t);
  return t;
}

/** Whether autograd records operations on this thread. */
export function is_grad_enabled(): boolean {
  checkArgCount('is_grad_enabled', arguments.length, 0);
  return native.isGradEnabled();
}
