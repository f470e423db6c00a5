/**
 * The typed surface of the native addon (build/Release/lenet_torch.node): exactly what native/ exports.
 * lib/ validates arguments before calling any of this; the native side trusts them. Users never touch it directly.
 */

/**
 * dtype names as lib/ passes them: lib/tensor.ts holds the list (its Dtype), the native side maps each to an
 * at::ScalarType, and a test checks the two lists agree. A plain string here, so that this file (published with the
 * package's typings) imports nothing.
 */
export type NativeDtype = string;

/** The typed arrays that carry tensor values across the boundary. */
export type NativeTypedArray =
  | Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array;

/**
 * One index of libtorch's t.index({...}): an integer, a boolean, null (None), '...' (Ellipsis), a slice as
 * [start | null, stop | null, step > 0], or a tensor (int64 indices or a bool mask).
 */
export type NativeIndex = number | boolean | null | '...' | [number | null, number | null, number] | NativeTensor;

/**
 * The handle of one at::Tensor: an opaque value (a napi External, or a BigInt inside torch.tidy(): see
 * native/tensor.h) made only by native functions, read and changed
 * through the tensor functions of Binding (tensorShape(h), ...). Any other value passed where a handle is expected is
 * a TypeError; a disposed handle is an Error.
 */
export interface NativeTensor {
  readonly __brand: 'NativeTensor';
}

/**
 * What frees a tensor whose handle was made inside torch.tidy() once it outlives the scope: kept by the JS side as
 * long as the handle is used (lib/tensor.ts keepAlive).
 */
export interface NativeOwner {
  readonly __brand: 'NativeOwner';
}

export type NativeModuleKind =
  | 'Conv2d' | 'Linear' | 'AvgPool2d' | 'MaxPool2d' | 'Sigmoid' | 'ReLU' | 'Tanh' | 'Flatten' | 'Reshape' | 'Sequential';

/** A handle over a libtorch module; a Sequential's children are the very modules passed in. */
export declare class NativeModule {
  /** Options are complete and validated (lib/nn/layers.ts); children only for 'Sequential'. */
  constructor(kind: NativeModuleKind, options: object, children?: NativeModule[]);
  forward(input: NativeTensor): NativeTensor;
  /** forward() on a worker thread in no-grad mode, under `hold` when it covers this module (else one of its own). */
  forwardAsync(input: NativeTensor, hold: NativeHold | null): Promise<NativeTensor>;
  /** Recursive, in registration order: [['0.weight', t], ...]. */
  namedParameters(): [string, NativeTensor][];
  /**
   * PyTorch's state_dict order (depth first, each module's parameters then buffers): detached tensors sharing memory
   * with them. Throws the hold's Error while the net is held.
   */
  stateDict(): [string, NativeTensor][];
  train(mode: boolean): void;
  to(device: string | null, dtype: NativeDtype | null): void;
  /**
   * This module's own parameter `name` takes the tensor's values, sharing its memory, and stays the same leaf with
   * requires_grad; its gradient is cleared. lib/ checks the name, shape, dtype and device first.
   */
  setParameter(name: string, value: NativeTensor): void;
}

export interface NativeSGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weight_decay: number;
  nesterov: boolean;
}

export declare class NativeSGD {
  constructor(params: NativeTensor[], options: NativeSGDOptions);
  zeroGrad(setToNone: boolean): void;
  step(): void;
  setLr(lr: number): void;
}

export interface NativeCrossEntropyOptions {
  reduction: 'mean' | 'sum' | 'none';
  ignore_index: number;
  label_smoothing: number;
  weight: NativeTensor | null;
}

/** A data set held natively, and how its stored examples become model inputs (see native/data.h). */
export interface NativeBatchSource {
  /** [N, ...] examples: uint8 images or any tensor. */
  x: NativeTensor;
  /** [N] labels. */
  y: NativeTensor;
  /** Multiply X by this after converting it to float32 (1 / 255 is ToTensor); null leaves X as stored. */
  scale: number | null;
  /** Bilinear (antialiased) resize of [N, C, H, W] images to [h, w]; null for none. */
  resize: [number, number] | null;
}

export interface NativeRunResult {
  /** Wall time of the run on the worker thread, device work included. */
  seconds: number;
  /** Batches trained. */
  batches: number;
  /** Whether cancel() stopped the run early. */
  cancelled: boolean;
}

/** The native training loop over one net and optimizer (native/train.h). One run at a time. */
export declare class NativeTrainer {
  /**
   * cudaGraph: on CUDA, capture the step as a CUDA graph and replay it (native/train.cc). channelsLast: a traced net
   * on the CPU trains with its 4-D parameters and inputs channels-last, until restoreLayout() (native/train.h);
   * undefined: unless its graph runs batch norm. With `group`,
   * each step averages the gradients across its ranks before the SGD step (DistributedDataParallel).
   */
  constructor(net: NativeModule | NativeScriptModule, optimizer: NativeSGD, loss: NativeCrossEntropyOptions,
              options: { cudaGraph: boolean; channelsLast: boolean | undefined }, group: NativeProcessGroup | null);
  /** Trains batches [first, last) of `source` taken in `order` (a permutation) or stored order, off the main thread. */
  run(source: NativeBatchSource, order: NativeTensor | null, batchSize: number, first: number, last: number,
      hold: NativeHold | null): Promise<NativeRunResult>;
  /** Trains one given batch off the main thread. */
  step(X: NativeTensor, y: NativeTensor, hold: NativeHold | null): Promise<NativeRunResult>;
  /** [sum of loss x batch size, correct predictions, examples] since resetMetrics(). */
  metrics(): [number, number, number];
  resetMetrics(): void;
  /** Stops a run after its current batch, and an evaluation given this trainer (sticky). */
  cancel(): void;
  /** channelsLast: the 4-D parameters (and gradients) back in the default layout; refused while a run is under way. */
  restoreLayout(): void;
}

/**
 * A hold over nets in use (native/hold.h): while it is held, every call that reads or writes their modules,
 * parameters, gradients or optimizers throws. Native work given the hold runs under it.
 */
export declare class NativeHold {
  /** Holds at once; an Error if any part is held already. */
  constructor(modules: NativeModule[], activity: string, tensors?: NativeTensor[]);
  acquire(): void;
  /** Lets go, unless native work runs under the hold: then keeps it and returns false. */
  release(): boolean;
}

/** An open PyTorch zip archive, between readArchive and readRecords (an opaque handle; each is read once). */
export interface NativeArchive {
  readonly __brand: 'NativeArchive';
}

/**
 * A c10d process group (native/distributed.h), made by initProcessGroup. Collectives take their turn on the calling
 * thread, in call order; the ranks' agreement check, the collective and the wait run off it (but for the blocking
 * ones), and they reach the backend in turn.
 */
export declare class NativeProcessGroup {
  private constructor();
  rank(): number;
  size(): number;
  backend(): string;
  /** In place; 'avg' is the sum divided by the world size. */
  allReduce(tensor: NativeTensor, op: 'sum' | 'product' | 'min' | 'max' | 'avg'): Promise<void>;
  /** In place, from rank `src`. */
  broadcast(tensor: NativeTensor, src: number): Promise<void>;
  barrier(): Promise<void>;
  /** Blocks: the parameters' gradients averaged across ranks in place (a missing one counts as zeros). */
  averageGradients(params: NativeTensor[]): void;
  /**
   * Blocks: the ranks' parameter layouts compared (the same Error on every rank when they differ), then rank 0's
   * values copied into every rank's, in place.
   */
  broadcastParameters(params: NativeTensor[]): void;
  /** broadcastParameters off the main thread, the modules' trees held for `activity` until it settles. */
  broadcastParametersAsync(modules: NativeModule[], params: NativeTensor[], activity: string): Promise<void>;
  /** This handle lets go of the group; later calls throw. */
  destroy(): void;
}

/**
 * A TorchScript module (native/jit.h): made by jitLoad or jitTrace. Its methods run off the main thread, several at
 * once; train(), to() and load_state_dict's copy are refused while any runs.
 */
export declare class NativeScriptModule {
  private constructor();
  /**
   * Runs the method `name` on `args` (as many as signature() allows; converted by its schema on the calling thread:
   * a TypeError naming the schema for a wrong type), with grad mode as it is on the calling thread; resolves with its result as JS
   * values (tensors, numbers, strings, booleans, arrays for lists and tuples, Maps for dicts, null for None).
   */
  runMethod(name: string, args: unknown[]): Promise<unknown>;
  methodNames(): string[];
  /**
   * [the method's schema as a caller writes the call, without self: 'forward(Tensor x, int n=1) -> Tensor', the
   * fewest arguments it takes, the most]; an Error naming the module's methods when it has none of that name.
   */
  signature(name: string): [string, number, number];
  /** Every parameter, recursively, with its dotted name; the tensors are the module's own. */
  namedParameters(): [string, NativeTensor][];
  /** Parameters and buffers, depth first, detached, sharing memory. */
  stateDict(): [string, NativeTensor][];
  train(mode: boolean): void;
  isTraining(): boolean;
  to(device: string | null, dtype: NativeDtype | null): void;
  save(path: string): void;
  /** forward's TorchScript source. */
  code(): string;
  /** forward's graph; without shapes (withShapes false), what traces on batches of other sizes share. */
  graph(withShapes?: boolean): string;
  /** Throws the Error that train() and to() throw while method calls run or a net sharing the parameters trains. */
  checkIdle(what: string): void;
}

export type NativeInit =
  | 'xavier_uniform_' | 'xavier_normal_' | 'normal_' | 'uniform_' | 'constant_' | 'zeros_' | 'ones_';

export interface Binding {
  Module: typeof NativeModule;
  SGD: typeof NativeSGD;
  Hold: typeof NativeHold;

  /** Whether `value` is a tensor's handle (disposed or not). */
  isTensorHandle(value: unknown): value is NativeTensor;
  tensorShape(tensor: NativeTensor): number[];
  tensorDtype(tensor: NativeTensor): NativeDtype;
  /** 'cpu', 'cuda:0', ... */
  tensorDevice(tensor: NativeTensor): string;
  tensorNumel(tensor: NativeTensor): number;
  tensorRequiresGrad(tensor: NativeTensor): boolean;
  tensorSetRequiresGrad(tensor: NativeTensor, value: boolean): void;
  /** PyTorch's `t.data = other`: the tensor takes other's storage, dtype and device, keeping its autograd identity. */
  tensorSetData(tensor: NativeTensor, other: NativeTensor): void;
  tensorIsLeaf(tensor: NativeTensor): boolean;
  /** The name of the autograd node that made the tensor (e.g. 'NllLossBackward0'), or null for a leaf. */
  tensorGradFn(tensor: NativeTensor): string | null;
  tensorGrad(tensor: NativeTensor): NativeTensor | null;
  tensorTo(tensor: NativeTensor, device: string | null, dtype: NativeDtype | null): NativeTensor;
  tensorItem(tensor: NativeTensor): number | boolean;
  /** A row-major copy; bool becomes Uint8Array, float16/bfloat16 Float32Array. */
  tensorData(tensor: NativeTensor): NativeTypedArray;
  tensorReshape(tensor: NativeTensor, shape: number[]): NativeTensor;
  tensorView(tensor: NativeTensor, shape: number[]): NativeTensor;
  /** libtorch's t.index({...}) over the indices of NativeIndex. */
  tensorIndex(tensor: NativeTensor, indices: NativeIndex[]): NativeTensor;
  /** libtorch's t.index_put_({...}, value), in place. */
  tensorIndexPut(tensor: NativeTensor, indices: NativeIndex[], value: NativeTensor | number): void;
  tensorBackward(tensor: NativeTensor, gradient: NativeTensor | null): void;
  /** A number two handles of the same tensor share (its TensorImpl's address), to deduplicate parameters. */
  tensorIdentity(tensor: NativeTensor): number;
  /** Frees the tensor now; later calls with this handle throw. Safe to call twice. */
  tensorDispose(tensor: NativeTensor): void;
  tensorIsDisposed(tensor: NativeTensor): boolean;
  /** Opens a torch.tidy() scope on this thread: handles made until scopeEnd are the scope's, with no finalizer. */
  scopeBegin(): void;
  /**
   * Closes the innermost scope: `keep`'s handles go to the scope around it, or to the garbage collector, its others
   * are freed. In the last case owners[i], when set, is keep[i]'s owner, to be kept as long as its Tensor.
   */
  scopeEnd(keep: NativeTensor[]): (NativeOwner | undefined)[] | undefined;
  /** A handle made inside a scope outlives every scope (torch.keep) while its owner lives; a no-op (undefined) outside. */
  tensorKeep(tensor: NativeTensor): NativeOwner | undefined;

  /** A copy of the data, of the given shape (its element count must match: an Error otherwise). */
  fromData(data: NativeTypedArray, shape: number[], dtype: NativeDtype | null, device: string | null): NativeTensor;
  /** Writes bytes into a contiguous CPU tensor's memory at a byte offset (RangeError if they do not fit). */
  copyInto(tensor: NativeTensor, byteOffset: number, bytes: Uint8Array): void;
  full(shape: number[], value: number, dtype: NativeDtype | null, device: string | null): NativeTensor;
  /** Uninitialised memory: only for callers that then write every element (the IDX decoder). */
  empty(shape: number[], dtype: NativeDtype | null, device: string | null): NativeTensor;
  random(kind: 'rand' | 'randn', shape: number[], dtype: NativeDtype | null, device: string | null): NativeTensor;
  randint(low: number, high: number, shape: number[], dtype: NativeDtype | null, device: string | null): NativeTensor;
  randperm(n: number, device: string | null): NativeTensor;
  arange(start: number, end: number, step: number, dtype: NativeDtype | null, device: string | null): NativeTensor;
  /** torch.cat / torch.stack of a non-empty list along dim. */
  join(op: 'cat' | 'stack', tensors: NativeTensor[], dim: number): NativeTensor;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(): void;
  /** Bytes held by tensors on cuda:index (libtorch's caching allocator); 0 on a build without CUDA. */
  cudaMemoryAllocated(index: number): number;
  setGradEnabled(enabled: boolean): void;
  isGradEnabled(): boolean;

  crossEntropy(input: NativeTensor, target: NativeTensor, options: NativeCrossEntropyOptions): NativeTensor;
  /** Fills `tensor` in place without autograd history: a, b are gain / mean, std / low, high / value. */
  init(kind: NativeInit, tensor: NativeTensor, a: number, b: number): void;
  /** Clears the gradients of `params`: to undefined (no memset) or to zeros. */
  zeroGrad(params: NativeTensor[], setToNone: boolean): void;

  /**
   * Every aten operator's schema in this libtorch, sorted: 'aten::add.Tensor(Tensor self, Tensor other, *, Scalar
   * alpha=1) -> Tensor' (native/ops.cc reads them from c10::Dispatcher).
   */
  opSchemas(): string[];
  /** An id for callOp of operator `aten` (all its overloads) under the name `display` errors use; -1 if absent. */
  opLookup(aten: string, display: string): number;
  /**
   * Calls the overload of operator `id` that takes the arguments (self first for a method, 0 for a function),
   * keyword arguments in `kwargs` (0 for none: napi_typeof answers a number at its first test, null and undefined
   * near its last): the result as the
   * schema says (a handle, an array, {values, indices} for named results, a number...). A TypeError naming the
   * operator and argument, listing the overloads, when none takes them.
   */
  callOp(id: number, kwargs: Record<string, unknown> | 0, self: NativeTensor | 0 | undefined, ...args: unknown[]): unknown;

  /** Throws the hold's Error when any of the modules' trees is held (see NativeHold). */
  checkNotHeld(modules: NativeModule[], tensors?: NativeTensor[]): void;

  /** Examples [start, end) of `source` in `order` (or stored order) as one batch [X, y]. */
  batch(source: NativeBatchSource, order: NativeTensor | null, start: number, end: number): [NativeTensor, NativeTensor];
  Trainer: typeof NativeTrainer;
  /**
   * [correct, count, cancelled] of net's argmax predictions over the source, in no-grad mode, off the main thread;
   * it stops early (cancelled true, count = examples seen) when `trainer` is cancelled.
   */
  evaluate(net: NativeModule | NativeScriptModule, source: NativeBatchSource, batchSize: number, trainer: NativeTrainer | null,
           hold: NativeHold | null): Promise<[number, number, boolean]>;

  /**
   * For torch.save: per tensor [storage, storage offset, strides, storage numel], where storage is the index of the
   * first tensor that shares its memory.
   */
  storageLayout(tensors: NativeTensor[]): [number, number, number[], number][];
  /**
   * Writes a PyTorch zip archive off the main thread: `pickle` as data.pkl, then the whole memory of storages[i] as
   * data/i (copied before this returns), into a temporary file beside `path`, flushed to disk, then renamed over
   * `path` (a device or FIFO is written directly). Rejects naming the path and the errno (ENOSPC) when it cannot be
   * written; the old file at `path` is then left as it was.
   */
  writeArchive(path: string, pickle: Uint8Array, storages: NativeTensor[]): Promise<void>;
  /**
   * Opens a PyTorch zip archive off the main thread (a regular file only: a FIFO or a device is refused, never waited
   * on) and reads data.pkl: resolves with its bytes, every record's name ('data/0', 'version', ...) with the size the
   * archive declares for it once inflated, and the open archive for readRecords or closeArchive. Rejects with
   * libtorch's message for a file that is not one.
   */
  readArchive(path: string): Promise<[Uint8Array, [string, number][], NativeArchive]>;
  /**
   * Reads records names[i] off the main thread, each as a CPU uint8 tensor, refusing (before inflating it) one whose
   * declared size is not nbytes[i]; then closes the archive.
   */
  readRecords(archive: NativeArchive, names: string[], nbytes: number[]): Promise<NativeTensor[]>;
  /** Closes an archive whose records will not be read. */
  closeArchive(archive: NativeArchive): void;
  /** A storage's bytes (a 1-D uint8 tensor) read as `dtype`, as_strided(size, stride, offset); lib/ checks the bounds. */
  fromStorage(bytes: NativeTensor, dtype: NativeDtype, size: number[], stride: number[], offset: number): NativeTensor;
  /** Copies sources[i] into destinations[i] in place, without autograd (dtype converted, device kept); all checked first. */
  copyTensors(destinations: NativeTensor[], sources: NativeTensor[]): void;

  ScriptModule: typeof NativeScriptModule;
  /** torch::jit::load off the main thread, every tensor mapped to `mapLocation` when given; rejects with libtorch's message. */
  jitLoad(path: string, mapLocation: string | null): Promise<NativeScriptModule>;
  /**
   * Traces fn() (a net's forward on the example inputs, run on this thread) into a ScriptModule whose forward takes
   * `inputs`: `modules` lists [dotted path, class name, training] parents first ('' first), `state` each parameter
   * and buffer once as [dotted name, tensor, is buffer]; the module holds those very tensors.
   */
  jitTrace(fn: () => NativeTensor, inputs: NativeTensor[], modules: [string, string, boolean][],
           state: [string, NativeTensor, boolean][]): NativeScriptModule;

  ProcessGroup: typeof NativeProcessGroup;
  /**
   * The default group's rendezvous (native/distributed.cc): rank 0 serves a TCPStore on host:port; resolves once all
   * worldSize ranks have met and the backend is connected. Rejects naming the fault: the backend missing from this
   * build, the port taken, a world-size mismatch, a timeout.
   */
  initProcessGroup(backend: string, host: string, port: number, rank: number, worldSize: number,
                   timeoutMs: number): Promise<NativeProcessGroup>;
  /** The c10d backends this build has: 'gloo', 'nccl'. */
  distributedBackends: string[];

  /** Turns the faster CPU kernels of native/kernels.h on or off (tests and benchmarks compare with libtorch's). */
  setFastKernels(enabled: boolean): void;
  /** How many times a direct loop of native/kernels.cc has run in this process (tests: which road a call took). */
  directKernelCalls(): number;
  /**
   * The SIMD target the direct loops of native/kernels-simd.cc run now: 'avx512', 'avx2', 'sse4', 'neon' or
   * 'default' (the portable fallback).
   */
  cpuCapability(): string;
  /** The SIMD targets this build has and this CPU runs, best first (the first is the default). */
  cpuCapabilities: string[];
  /** Makes the direct loops run `name` (one of cpuCapabilities), or the best one again with 'auto'; RangeError else. */
  setCpuCapability(name: string): void;

  /** The dtype names native/common.cc maps to libtorch's types. */
  dtypes: string[];
  /** The libtorch version the addon was built against, e.g. '1.13.0'. */
  torchVersion: string;
  /** Whether that libtorch has CUDA. */
  cudaBuild: boolean;
}
