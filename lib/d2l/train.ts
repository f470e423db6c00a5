/**
 * train_ch6 and evaluate_accuracy_gpu as the chapter runs them. For a built-in net and a DataLoader, each batch's
 * gather, forward, loss, backward and SGD step run in one native call on a worker thread, and the running metrics
 * stay native until read; the event loop keeps turning throughout.
 */
import { SingleBar } from 'cli-progress';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { NativeHold, NativeModule, NativeProcessGroup, NativeTrainer } from '../../binding';
import { native } from '../binding';
import { DataLoader } from '../data';
import { Device, DeviceLike, parseDevice } from '../device';
import { ScriptModule, trace } from '../jit';
import { handleOfModule, holdModules, Module, nativeRoots, ownState } from '../nn/module';
import { DistributedDataParallel } from '../nn/parallel';
import { Conv2d, Linear } from '../nn/layers';
import { CrossEntropyLoss } from '../nn/loss';
import { xavier_uniform_ } from '../nn/init';
import { SGD } from '../optim';
import { no_grad } from '../torch';
import { Tensor } from '../tensor';
import { atCaller, checkArgCount, checkBool, checkFunction, checkInt, checkNumber, checkOptions, invalidType, parseArgs } from '../validate';
import { Animator } from './animator';
import { accuracy, Accumulator, Timer, try_gpu } from './utils';

type Batches = Iterable<[Tensor, Tensor]>;

/** Running figures, as train_ch6 passes them to on_batch and on_epoch. */
export interface TrainProgress {
  /** 1-based epoch. */
  epoch: number;
  /** Batches done in this epoch. */
  batch: number;
  num_batches: number;
  /** Mean training loss over the epoch so far. */
  loss: number;
  /** Training accuracy over the epoch so far. */
  train_acc: number;
  /** Examples trained in this epoch so far. */
  examples: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  train_acc: number;
  test_acc: number;
  /** Training time of the epoch (evaluation excluded), in seconds. */
  seconds: number;
}

export interface TrainResult {
  loss: number;
  train_acc: number;
  test_acc: number;
  /** Examples trained per second of training time (evaluation excluded), as d2l reports it. */
  examples_per_sec: number;
  device: string;
  history: EpochRecord[];
}

/**
 * What train_ch6 needs of an AbortSignal: a structural type, so that the package's typings need neither the DOM
 * library nor @types/node. An AbortController's signal fits it.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface TrainOptions {
  /** Called after each batch (this makes train_ch6 read the metrics every batch, which costs on CUDA). */
  on_batch?: (progress: TrainProgress) => void;
  /** Called after each epoch's evaluation. */
  on_epoch?: (record: EpochRecord) => void;
  /** Stops training between batches; train_ch6 then rejects with an AbortError and the net stays usable. */
  signal?: AbortSignalLike;
  /** Write the Animator's figure (train loss, train acc, test acc) to this SVG file after every epoch. */
  plot?: string;
  /** Print d2l's lines and, on a terminal, a progress line per epoch (default true). */
  verbose?: boolean;
  /**
   * On a CUDA device, capture the fused training step (forward, loss, backward, SGD, metrics) as a CUDA graph after
   * two eager batches and replay it for every further batch of the same shape: one launch per batch instead of
   * hundreds (default true). A capture libtorch refuses falls back to eager steps. No effect on the CPU.
   */
  cuda_graph?: boolean;
  /**
   * On the CPU, while a net written in JS trains, keep its convolutions' weights and the input batches channels-last
   * (NHWC, PyTorch's `torch.channels_last`), which oneDNN's convolutions take without reordering at every call; the
   * weights are back in the default layout when train_ch6 returns (on_batch and on_epoch see them channels-last: the
   * same values, other strides). Default: on unless the net runs batch norm (GoogLeNet's step ~1.3x faster with it
   * here; ResNet's, batch norm after every convolution, ~8 % slower at 2 threads). The same numbers up to float
   * rounding. Not with DistributedDataParallel.
   */
  channels_last?: boolean;
}

// Per net, the calls that run it natively off the main thread take turns: a train_ch6 (whole, for a second
// train_ch6) and, between its runs of batches, an evaluate_accuracy_gpu (from on_batch, say) queue behind each other
// instead of failing on the native hold (native/hold.h).
const trainings = new WeakMap<Module, Promise<unknown>>();
const turns = new WeakMap<Module, Promise<unknown>>();

/** Runs fn when the net's earlier turns are done; the next turn waits for this one. */
async function inTurn<T>(net: Module, fn: () => Promise<T>): Promise<T> {
  const previous = turns.get(net) ?? Promise.resolve();
  const mine = previous.catch(() => undefined).then(fn);
  turns.set(net, mine);
  try {
    return await mine;
  } finally {
    if (turns.get(net) === mine) turns.delete(net);
  }
}

// What a training's hold says the net is doing (its opening broadcast under DistributedDataParallel says the same).
const TRAINED = 'trained by train_ch6';

/**
 * A training's hold on its net (native/hold.h), from after its initialisation to its end: meanwhile every other use
 * of the net, its parameters, gradients or an optimizer over them throws. The hold is lent to each native call of
 * the training, and let go of only for train_ch6's own synchronous steps and while the user's callbacks run.
 */
class NetHold {
  readonly native: NativeHold | null;
  /** Whether the net is held now (false while without() lets it go, and after release()). */
  held = true;
  readonly activity = TRAINED;
  private readonly unmark: () => void;

  constructor(net: Module) {
    const roots = nativeRoots(net);
    // The memory of every parameter and buffer too: those of modules written in JS are in no libtorch module.
    const tensors = [...net.parameters(), ...net.buffers()].map((t) => t._h);
    this.native = roots.length || tensors.length ? new native.Hold(roots, TRAINED, tensors) : null;
    // And the modules themselves, for those that have no tensors to hold (a Dropout's train() and eval()).
    this.unmark = holdModules(net, this);
  }

  /**
   * Runs fn (synchronous: no other JS runs meanwhile) with the net free, unless an evaluation started elsewhere is
   * running on it under this hold (then fn meets that evaluation's refusal, as any other caller would).
   */
  without<T>(fn: () => T): T {
    // Within another without() (evaluate_accuracy_gpu called from on_batch): the net is free already, and stays so
    // until the outer one ends.
    if (!this.held) return fn();
    const released = this.native ? this.native.release() : true;
    if (released) this.held = false;
    try {
      return fn();
    } finally {
      if (released) {
        this.native?.acquire();
        this.held = true;
      }
    }
  }

  release(): void {
    this.native?.release();
    this.held = false;
    this.unmark();
  }
}

// The hold of the training under way on a net, which evaluate_accuracy_gpu borrows between runs of batches.
const holds = new WeakMap<Module, NetHold>();

function abortError(signal: AbortSignalLike): Error {
  const error = new Error('train_ch6 was aborted', { cause: signal.reason });
  error.name = 'AbortError';
  (error as Error & { code: string }).code = 'ABORT_ERR';
  return error;
}

function checkBatches(name: string, value: unknown): Batches {
  if (value === null || typeof value !== 'object' || typeof (value as Batches)[Symbol.iterator] !== 'function') {
    throw invalidType(name, 'an iterable of [X, y] batches (a DataLoader)', value);
  }
  return value as Batches;
}

function checkSignal(value: unknown): AbortSignalLike | undefined {
  if (value === undefined) return undefined;
  const s = value as AbortSignalLike;
  if (s === null || typeof s !== 'object' || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function' ||
      typeof s.removeEventListener !== 'function') {
    throw invalidType('signal', 'an AbortSignal', value);
  }
  return s;
}

/**
 * Batches that can be iterated once per epoch: a one-shot iterable (a generator, an iterator) is read into an
 * array once, so that no batch is lost to the shape check and every epoch sees the same batches.
 */
function reiterable(data: Batches): Batches {
  if (data instanceof DataLoader || Array.isArray(data)) return data;
  const iterator = data[Symbol.iterator]();
  return (iterator as unknown) === data ? [...(iterator as unknown as Iterable<[Tensor, Tensor]>)] : data;
}

/** The libtorch module that runs a net natively: its own, or that of the net a DistributedDataParallel wraps. */
function nativeNet(net: Module): NativeModule | undefined {
  return handleOfModule(net instanceof DistributedDataParallel ? net.module : net);
}

/** Whether the native loop can run: a built-in net and one of our DataLoaders. */
function fastPath(net: Module, data: Batches): { handle: NativeModule; loader: DataLoader } | null {
  const handle = nativeNet(net);
  return handle && data instanceof DataLoader ? { handle, loader: data } : null;
}

/**
 * The accuracy of net over a data set, as d2l.evaluate_accuracy_gpu: eval mode, no grad, on the device of the
 * net's first parameter unless `device` is given. Runs off the main thread for a built-in net and a DataLoader;
 * it waits for a train_ch6 run of batches on the same net to end first (and that training for it).
 * @throws TypeError for a bad argument; rejects with libtorch's Error when the net does not fit the data.
 */
export async function evaluate_accuracy_gpu(net: Module, data_iter: Batches, device?: DeviceLike): Promise<number> {
  const caller = new Error();
  checkArgCount('evaluate_accuracy_gpu', arguments.length, 3);
  if (!(net instanceof Module)) throw invalidType('net', 'an nn.Module', net);
  checkBatches('data_iter', data_iter);
  const dev = device === undefined ? undefined : parseDevice('device', device);
  try {
    const [correct, count] = await inTurn(net, () => evaluate(net, data_iter, dev, null));
    return count ? correct / count : 0;
  } catch (error) {
    throw atCaller(error, caller);
  }
}

/** [correct, count] of net's predictions over a data set. */
async function evaluate(net: Module, data_iter: Batches, device: Device | undefined, trainer: NativeTrainer | null): Promise<[number, number]> {
  // Under a training's hold when one is under way (this runs between its runs of batches), else free.
  const hold = holds.get(net);
  const free = <T>(fn: () => T): T => (hold ? hold.without(fn) : fn());
  free(() => net.eval());
  const params = net.parameters();
  const dev: Device = device ?? (params.length ? params[0].device : parseDevice('device', 'cpu'));
  const fast = fastPath(net, data_iter);
  // A net written in JS that train_ch6 traced: its eval-mode graph, off the main thread too.
  const traced = traces.get(net);
  if (fast || (traced && data_iter instanceof DataLoader)) {
    const loader = data_iter as DataLoader;
    const [correct, count] = await native.evaluate(fast ? fast.handle : traced!.eval._h, loader.dataset._source(), loader.batch_size,
                                                   trainer, hold?.native ?? null);
    return [correct, count];
  }
  const metric = new Accumulator(2);
  for (const [X, y] of data_iter) {
    const [x, t] = [X.to(dev), y.to(dev)];
    metric.add(free(() => no_grad(() => accuracy(net.forward(x), t))), t.numel());
    await nextTurn();
  }
  return [metric[0], metric[1]];
}

/** The largest label in a data set: from the tensors for our loaders, else from one batch. */
function maxLabel(data: Batches, batch: [Tensor, Tensor]): number {
  if (data instanceof DataLoader) return Number(new Tensor(data.dataset._source().y).max().item());
  return Number(batch[1].max().item());
}

/**
 * Runs the net on two examples of the first batch before training, so a net that does not fit fails early.
 * Off the main thread for a built-in net: a first forward can take tens of ms while oneDNN builds its kernels.
 */
async function probe(net: Module, data: Batches, dev: Device, hold: NetHold): Promise<void> {
  const [X, y] = firstBatch(data, 2);
  const classes = maxLabel(data, [X, y]) + 1;
  const x = firstRows(X, 2);
  let out: unknown;
  const wasTraining = net.training;
  try {
    hold.without(() => net.eval());
    const handle = nativeNet(net);
    out = handle
      ? new Tensor(await handle.forwardAsync(x.to(dev)._h, hold.native))
      : hold.without(() => no_grad(() => net.forward(x.to(dev))));
  } catch (error) {
    // A forward that returns something other than a Tensor stays a TypeError (Module's check); the rest is an Error.
    const Kind = error instanceof TypeError ? TypeError : Error;
    throw new Kind(`train_ch6: the net cannot take a batch of shape ${X.shape} from train_iter: ${(error as Error).message}`);
  } finally {
    hold.without(() => net.train(wasTraining));
  }
  if (!(out instanceof Tensor)) {
    throw new TypeError(`train_ch6: ${net.constructor.name}.forward() must return a Tensor, but it returned ${describe(out)}`);
  }
  const B = x.shape[0];
  if (out.dim() !== 2 || out.shape[0] !== B || out.shape[1] < classes) {
    throw new Error(
      `train_ch6: the net maps a batch of shape ${x.shape} to ${out.shape}; expected [${B}, ${classes}] ` +
        `(one logit per class: the labels go up to ${classes - 1})`,
    );
  }
}

/**
 * The first examples of a data set, as a batch [X, y]: the first n straight from the data set for our loaders
 * (iterating would draw a shuffle and shift the seeded random sequence), else the whole first batch.
 */
function firstBatch(data: Batches, n: number): [Tensor, Tensor] {
  if (data instanceof DataLoader) {
    if (data.length === 0) throw new RangeError('Expected train_iter to yield batches, but it yields none');
    const [x, t] = native.batch(data.dataset._source(), null, 0, Math.min(n, data.dataset.length));
    return [new Tensor(x), new Tensor(t)];
  }
  const first = data[Symbol.iterator]().next();
  if (first.done) throw new RangeError('Expected train_iter to yield batches, but it yields none');
  const [X, y] = first.value as [Tensor, Tensor];
  if (!(X instanceof Tensor) || !(y instanceof Tensor)) {
    throw invalidType('train_iter', 'an iterable of [X, y] batches of Tensors', first.value);
  }
  return [X, y];
}

/** Examples 0 .. n-1 of X (the first ones again where X has fewer). */
function firstRows(X: Tensor, n: number): Tensor {
  if (X.shape[0] === n) return X;
  const rows = Array.from({ length: n }, (_, i) => i % X.shape[0]);
  return X.index_select(0, new Tensor(native.fromData(BigInt64Array.from(rows.map(BigInt)), [n], 'int64', null)));
}

/** A net written in JS, traced for train_ch6's worker thread: its forward in training mode and in eval mode. */
interface Traced {
  train: ScriptModule;
  eval: ScriptModule;
}

// The traces of the nets written in JS that train_ch6 is training (evaluate uses the eval-mode one).
const traces = new WeakMap<Module, Traced>();

/**
 * Traces a net written in JS (torch.jit.trace), so that train_ch6 runs its steps and evaluations on a worker thread
 * as it runs a built-in net's: the forward in training mode and in eval mode (under no_grad), each traced on 3 and
 * on 2 examples of the first batch, yielding to the event loop between traces. What the trace's forward did to the
 * net's state is undone (batch norm's running statistics, num_batches_tracked). Null, and the net trains through
 * the JS API on the main thread as before, when:
 * - the forward cannot be traced (it fails on these examples, returns no Tensor, ...);
 * - the two traces of a mode differ: the forward depends on the batch's size or values in a way a graph cannot
 *   follow (it reads X.shape[0] or item() into JS, which a trace freezes as a constant; a branch on a value);
 * - the forward replaces a parameter or buffer instead of updating it in place (d2l's from-scratch BatchNorm
 *   assigns this.moving_mean anew each step: a graph's outputs cannot be assigned to attributes).
 * Control flow that depends on the data in a way both traces share (the same branch taken for 2 and 3 examples)
 * is frozen as taken, as PyTorch's torch.jit.trace freezes it.
 */
async function traceNet(net: Module, X: Tensor, dev: Device, hold: NetHold): Promise<Traced | null> {
  // The training's hold is in place from the start (nothing else changes the net between traces), let go of only
  // for each trace's synchronous work.
  const wasTraining = net.training;
  // Each module's own tensor attributes: to see whether a forward replaced one, and to undo what it did.
  const owned = net.named_modules().map(([, m]) => ({ m, own: ownState(m) }));
  const saved = hold.without(() => no_grad(() => owned.map(({ own }) => own.map(([, t]) => t.clone()))));
  const replaced = () => owned.some(({ m, own }) => own.some(([name, t]) => (m as unknown as Record<string, unknown>)[name] !== t));
  const [x3, x2] = [firstRows(X, 3).to(dev), firstRows(X, 2).to(dev)];
  try {
    const traced: Partial<Traced> = {};
    for (const mode of ['train', 'eval'] as const) {
      const graphs: string[] = [];
      let module: ScriptModule | null = null;
      for (const x of [x3, x2]) {
        module = hold.without(() => {
          net.train(mode === 'train');
          const m = mode === 'train' ? trace(net, x) : no_grad(() => trace(net, x));
          return replaced() ? null : m;
        });
        if (!module) return null;
        graphs.push(module._h.graph(false));
        await nextTurn();
      }
      if (graphs[0] !== graphs[1]) return null;
      traced[mode] = module!;
    }
    return traced as Traced;
  } catch {
    return null;
  } finally {
    // The state as it was: the same tensors under the same names, with the same values.
    hold.without(() => {
      no_grad(() => owned.forEach(({ m, own }, i) => own.forEach(([name, t], j) => {
        const attributes = m as unknown as Record<string, unknown>;
        if (attributes[name] !== t) attributes[name] = t;
        t.copy_(saved[i][j]);
      })));
      net.train(wasTraining);
    });
  }
}

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? `an object (${value.constructor?.name ?? 'Object'})` : `${String(value)} (${typeof value})`;
}

/** Batch counts after which train_ch6 reads the metrics: d2l's fifths of an epoch, plus what callbacks need. */
function checkpoints(num_batches: number, everyBatch: boolean, progress: boolean): number[] {
  const points = new Set<number>([num_batches]);
  const fifth = Math.max(1, Math.floor(num_batches / 5));
  const step = everyBatch ? 1 : progress ? Math.max(1, Math.min(fifth, Math.ceil(num_batches / 50))) : fifth;
  for (let b = step; b < num_batches; b += step) points.add(b);
  for (let b = fifth; b < num_batches; b += fifth) points.add(b);
  return [...points].sort((a, b) => a - b);
}

/**
 * Trains a net, as d2l.train_ch6: Xavier-uniform initialisation of every Conv2d and Linear weight, `net.to(device)`,
 * SGD(lr) on the mean cross-entropy, evaluate_accuracy_gpu on test_iter after each epoch, and d2l's closing lines:
 *     loss 0.470, train acc 0.823, test acc 0.772
 *     21334.5 examples/sec on cpu
 * With a built-in net and DataLoaders, every batch's step runs natively off the main thread (the event loop keeps
 * turning); otherwise each batch runs through the JS API, yielding to the event loop between batches. A one-shot
 * iterable (a generator) is read once and its batches reused every epoch.
 * While it trains, the net, its parameters and gradients and any optimizer over them refuse to be used (an Error
 * saying so); a second train_ch6 on the same net waits for the first to finish.
 * A net wrapped in nn.parallel.DistributedDataParallel trains on every rank of the default process group at once:
 * rank 0's initialisation is broadcast, each step averages the gradients across ranks (inside the native step), a
 * DistributedSampler of train_iter gets set_epoch(epoch), the loss and accuracy counts are summed across ranks, and
 * rank 0 alone prints and plots. Every rank must call it with the same arguments.
 * @example await d2l.train_ch6(net, train_iter, test_iter, 10, 0.9, d2l.try_gpu());
 * @throws TypeError / RangeError naming the argument (num_epochs, lr, ...) before anything runs; rejects with an
 *   Error when the net does not fit the data or train_iter is empty (before training), or with an AbortError.
 */
export async function train_ch6(
  net: Module,
  train_iter: Batches,
  test_iter: Batches,
  num_epochs: number,
  lr: number,
  device: DeviceLike = try_gpu(),
  options: TrainOptions = {},
): Promise<TrainResult> {
  const caller = new Error();
  checkArgCount('train_ch6', arguments.length, 7);
  if (!(net instanceof Module)) throw invalidType('net', 'an nn.Module', net);
  checkBatches('train_iter', train_iter);
  checkBatches('test_iter', test_iter);
  checkInt('num_epochs', num_epochs, { min: 1 });
  checkNumber('lr', lr, { gt: 0 });
  const dev = parseDevice('device', device);
  const o = parseArgs('train_ch6', ['on_batch', 'on_epoch', 'signal', 'plot', 'verbose', 'cuda_graph', 'channels_last'], [checkOptions('options', options)]);
  const settings: Settings = {
    on_batch: o.on_batch === undefined ? undefined : checkFunction<(p: TrainProgress) => void>('on_batch', o.on_batch),
    on_epoch: o.on_epoch === undefined ? undefined : checkFunction<(r: EpochRecord) => void>('on_epoch', o.on_epoch),
    signal: checkSignal(o.signal),
    plot: o.plot === undefined ? undefined : typeof o.plot === 'string' ? o.plot : (() => { throw invalidType('plot', 'a file path', o.plot); })(),
    verbose: checkBool('verbose', o.verbose ?? true),
    cuda_graph: checkBool('cuda_graph', o.cuda_graph ?? true),
    channels_last: o.channels_last === undefined ? undefined : checkBool('channels_last', o.channels_last),
  };

  const previous = trainings.get(net) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => train(net, train_iter, test_iter, num_epochs, lr, dev, settings));
  trainings.set(net, run);
  try {
    return await run;
  } catch (error) {
    throw atCaller(error, caller);
  } finally {
    if (trainings.get(net) === run) trainings.delete(net);
  }
}

interface Settings {
  on_batch?: (p: TrainProgress) => void;
  on_epoch?: (r: EpochRecord) => void;
  signal?: AbortSignalLike;
  plot?: string;
  verbose: boolean;
  cuda_graph: boolean;
  channels_last: boolean | undefined;
}

/** Running loss sum, correct count and examples of an epoch so far. */
type Metrics = [number, number, number];

/** Trains one epoch, calling report(batches done, metrics) at the points it chooses; resolves with training seconds. */
interface Runner {
  num_batches(): number;
  epoch(report: Report, points: (num_batches: number) => number[]): Promise<number>;
}

/** Takes the metrics so far; a DistributedDataParallel training sums them across ranks first (hence a Promise). */
type Report = (done: number, metrics: Metrics) => void | Promise<void>;

/** The sums of `values` over the group's ranks. */
async function sumAcrossRanks(group: NativeProcessGroup, values: number[]): Promise<number[]> {
  const t = native.fromData(Float64Array.from(values), [values.length], 'float64', null);
  await group.allReduce(t, 'sum');
  return Array.from(native.tensorData(t) as Float64Array);
}

/** A built-in net over a DataLoader: runs of batches in single native calls (the fast path). */
function loaderRunner(net: Module, hold: NetHold, trainer: NativeTrainer, loader: DataLoader, signal?: AbortSignalLike): Runner {
  return {
    num_batches: () => loader.length,
    async epoch(report, points) {
      const source = loader.dataset._source();
      const order = loader._order(source);
      trainer.resetMetrics();
      let seconds = 0;
      let start = 0;
      for (const end of points(loader.length)) {
        const result = await inTurn(net, () => {
          hold.without(() => net.train());
          return trainer.run(source, order, loader.batch_size, start, end, hold.native);
        });
        seconds += result.seconds;
        if (result.cancelled || signal?.aborted) throw abortError(signal!);
        await report(end, trainer.metrics());
        start = end;
      }
      return seconds;
    },
  };
}

/** A built-in net over any other iterable of batches: one native step per batch, off the main thread. */
function stepRunner(net: Module, hold: NetHold, trainer: NativeTrainer, batches: Batches, signal?: AbortSignalLike): Runner {
  let count = batches instanceof DataLoader || Array.isArray(batches) ? batches.length : -1;
  return {
    num_batches: () => (count >= 0 ? count : (count = [...batches].length)),
    async epoch(report) {
      trainer.resetMetrics();
      let seconds = 0;
      let done = 0;
      for (const [X, y] of batches) {
        if (signal?.aborted) throw abortError(signal);
        const result = await inTurn(net, () => {
          hold.without(() => net.train());
          return trainer.step(X._h, y._h, hold.native);
        });
        seconds += result.seconds;
        await report(++done, trainer.metrics());
      }
      return seconds;
    },
  };
}

/** A net written in JS: each batch through the JS API, yielding to the event loop between batches. */
function jsRunner(net: Module, hold: NetHold, batches: Batches, lr: number, dev: Device, signal?: AbortSignalLike): Runner {
  const optimizer = new SGD(net.parameters(), { lr });
  const loss = new CrossEntropyLoss();
  let count = batches instanceof DataLoader || Array.isArray(batches) ? batches.length : -1;
  return {
    num_batches: () => (count >= 0 ? count : (count = [...batches].length)),
    async epoch(report) {
      const metric = new Accumulator(3);
      let seconds = 0;
      let done = 0;
      for (const [X, y] of batches) {
        if (signal?.aborted) throw abortError(signal);
        const t0 = performance.now();
        hold.without(() => {
          net.train();
          const [x, t] = [X.to(dev), y.to(dev)];
          optimizer.zero_grad();
          const y_hat = net.forward(x);
          const l = loss.forward(y_hat, t);
          l.backward();
          optimizer.step();
          metric.add(Number(l.item()) * t.shape[0], accuracy(y_hat, t), t.shape[0]);
        });
        seconds += (performance.now() - t0) / 1000;
        await report(++done, [metric[0], metric[1], metric[2]]);
        await nextTurn();
      }
      return seconds;
    },
  };
}

/** What train_ch6 shows and tells while it trains: the Animator, the progress line, on_batch and on_epoch. */
class Reporter {
  readonly animator: Animator;
  readonly progress: boolean;
  train_l = NaN;
  train_acc = NaN;
  examples = 0;
  private bar?: SingleBar;
  private epoch = 0;
  private num_batches = 0;
  private started = 0;

  /**
   * `lead`: this process prints and plots (false on ranks other than 0 of a DistributedDataParallel training);
   * `lockstep`: report at the same batches on every rank (each report is a collective then), whatever each shows.
   */
  constructor(private readonly num_epochs: number, private readonly s: Settings, private readonly hold: NetHold,
              private readonly lead: boolean, private readonly lockstep: boolean) {
    // d2l's xlim is [1, num_epochs]; one epoch needs room for its fifths.
    const xlim: [number, number] = num_epochs > 1 ? [1, num_epochs] : [0, 1];
    this.animator = new Animator({ xlabel: 'epoch', xlim, legend: ['train loss', 'train acc', 'test acc'] });
    this.progress = s.verbose && lead && process.stdout.isTTY === true;
  }

  startEpoch(epoch: number, num_batches: number): void {
    [this.epoch, this.num_batches, this.started] = [epoch, num_batches, performance.now()];
    if (!this.progress) return;
    this.bar = new SingleBar({
      format: `epoch ${epoch + 1}/${this.num_epochs} [{bar}] {value}/{total} batches | loss {loss} | train acc {acc} | {speed} examples/sec`,
      hideCursor: true,
      clearOnComplete: false,
    });
    this.bar.start(num_batches, 0, { loss: '-', acc: '-', speed: '-' });
  }

  /** The batch points at which to report: d2l's fifths, every batch for on_batch, more often for the progress line. */
  points = (num_batches: number): number[] => checkpoints(num_batches, !!this.s.on_batch, this.progress && !this.lockstep);

  batch = (done: number, metrics: Metrics): void => {
    [this.train_l, this.train_acc, this.examples] = [metrics[0] / metrics[2], metrics[1] / metrics[2], metrics[2]];
    const fifth = Math.max(1, Math.floor(this.num_batches / 5));
    if (done % fifth === 0 || done === this.num_batches) {
      this.animator.add(this.epoch + done / this.num_batches, [point(this.train_l), point(this.train_acc), null]);
    }
    const on_batch = this.s.on_batch;
    if (on_batch) {
      const progress = {
        epoch: this.epoch + 1, batch: done, num_batches: this.num_batches, loss: this.train_l, train_acc: this.train_acc,
        examples: this.examples,
      };
      this.hold.without(() => on_batch(progress));
    }
    const seconds = Math.max((performance.now() - this.started) / 1000, 1e-9);
    this.bar?.update(done, { loss: this.train_l.toFixed(3), acc: this.train_acc.toFixed(3), speed: (this.examples / seconds).toFixed(1) });
  };

  async endEpoch(record: EpochRecord): Promise<void> {
    this.bar?.stop();
    this.bar = undefined;
    this.animator.add(record.epoch, [null, null, point(record.test_acc)]);
    const on_epoch = this.s.on_epoch;
    if (on_epoch) this.hold.without(() => on_epoch(record));
    if (this.s.plot && this.lead) await this.animator.save(this.s.plot);
  }

  stop(): void {
    this.bar?.stop();
  }
}

// A diverging run (loss NaN) leaves a gap in the figure, as matplotlib would, instead of failing the training.
function point(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

async function train(net: Module, train_data: Batches, test_iter: Batches, num_epochs: number, lr: number,
                     dev: Device, s: Settings): Promise<TrainResult> {
  if (s.signal?.aborted) throw abortError(s.signal);
  const batches = reiterable(train_data);
  net.apply((m) => {
    if (m instanceof Linear || m instanceof Conv2d) xavier_uniform_(m.weight);
  });
  net.to(dev);
  // DistributedDataParallel: every rank starts from rank 0's initialisation, averages its gradients in each step
  // and sums its metrics with the others'; rank 0 alone prints.
  const ddp = net instanceof DistributedDataParallel ? net : null;
  // Off the main thread, the net held as it is for the rest of the training: it waits for every rank to get here.
  if (ddp) await inTurn(net, () => ddp._broadcast_parameters(TRAINED));
  const lead = !ddp || ddp._group.rank() === 0;
  const show = s.verbose && lead;
  const handle = nativeNet(net);
  const hold = new NetHold(net);
  holds.set(net, hold);
  let trainer: NativeTrainer | null = null;
  const reporter = new Reporter(num_epochs, s, hold, lead, ddp !== null);
  const report: Report = ddp ? async (done, m) => reporter.batch(done, (await sumAcrossRanks(ddp._group, m)) as Metrics) : reporter.batch;
  const onAbort = () => trainer?.cancel();
  s.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = new Timer();
  const history: EpochRecord[] = [];
  let test_acc = NaN;
  try {
    // A net written in JS runs on the worker thread too, as its traced graph, where it can be traced (traceNet).
    const traced = handle || ddp ? null : await traceNet(net, firstBatch(batches, 3)[0], dev, hold);
    if (traced) traces.set(net, traced);
    if (handle || traced) {
      trainer = hold.without(() => new native.Trainer(handle ?? traced!.train._h, new SGD(net.parameters(), { lr })._h,
        { reduction: 'mean', ignore_index: -100, label_smoothing: 0, weight: null }, { cudaGraph: s.cuda_graph, channelsLast: s.channels_last },
        ddp?._group ?? null));
    }
    await inTurn(net, () => probe(net, batches, dev, hold));
    // One runner, chosen once: the native loop for a built-in net (whole runs of batches from a DataLoader, or one
    // given batch at a time), the JS API for a net written in JS.
    const loader = trainer && batches instanceof DataLoader ? batches : null;
    const runner = hold.without(() => trainer
      ? loader ? loaderRunner(net, hold, trainer, loader, s.signal) : stepRunner(net, hold, trainer, batches, s.signal)
      : jsRunner(net, hold, batches, lr, dev, s.signal));
    if (show) console.log('training on', String(dev));
    for (let epoch = 0; epoch < num_epochs; epoch++) {
      if (batches instanceof DataLoader) batches.sampler?.set_epoch(epoch);
      reporter.startEpoch(epoch, runner.num_batches());
      const seconds = await runner.epoch(report, reporter.points);
      if (reporter.examples === 0) throw new RangeError('Expected train_iter to yield batches, but it yields none');
      timer.add(seconds);
      const tested = await inTurn(net, () => evaluate(net, test_iter, undefined, trainer));
      const [correct, count] = ddp ? await sumAcrossRanks(ddp._group, tested) : tested;
      test_acc = count ? correct / count : 0;
      if (s.signal?.aborted) throw abortError(s.signal);
      const record = { epoch: epoch + 1, loss: reporter.train_l, train_acc: reporter.train_acc, test_acc, seconds };
      history.push(record);
      await reporter.endEpoch(record);
    }
  } finally {
    reporter.stop();
    s.signal?.removeEventListener('abort', onAbort);
    // After the evaluations queued on the net meanwhile, which run under this hold.
    await inTurn(net, async () => {
      // channels_last: the weights back in PyTorch's default layout (the trainer's runs are all over by now).
      trainer?.restoreLayout();
      holds.delete(net);
      traces.delete(net);
      hold.release();
    });
  }
  const { train_l, train_acc, examples } = reporter;
  const examples_per_sec = (examples * num_epochs) / timer.sum();
  if (show) {
    console.log(`loss ${train_l.toFixed(3)}, train acc ${train_acc.toFixed(3)}, test acc ${test_acc.toFixed(3)}`);
    console.log(`${examples_per_sec.toFixed(1)} examples/sec on ${String(dev)}`);
  }
  return { loss: train_l, train_acc, test_acc, examples_per_sec, device: String(dev), history };
}
