/**
 * train_ch6 and evaluate_accuracy_gpu as the chapter runs them. For a built-in net and a DataLoader, each batch's
 * gather, forward, loss, backward and SGD step run in one native call on a worker thread, and the running metrics
 * stay native until read; the event loop keeps turning throughout.
 */
import { SingleBar } from 'cli-progress';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { NativeModule } from '../../binding';
import { native } from '../binding';
import { DataLoader } from '../data';
import { Device, DeviceLike, parseDevice } from '../device';
import { handleOfModule, Module } from '../nn/module';
import { Conv2d, Linear } from '../nn/layers';
import { CrossEntropyLoss } from '../nn/loss';
import { xavier_uniform_ } from '../nn/init';
import { SGD } from '../optim';
import { no_grad } from '../torch';
import { Tensor } from '../tensor';
import { checkBool, checkFunction, checkInt, checkNumber, checkOptions, invalidType, parseArgs } from '../validate';
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

export interface TrainOptions {
  /** Called after each batch (this makes train_ch6 read the metrics every batch, which costs on CUDA). */
  on_batch?: (progress: TrainProgress) => void;
  /** Called after each epoch's evaluation. */
  on_epoch?: (record: EpochRecord) => void;
  /** Stops training between batches; train_ch6 then rejects with an AbortError and the net stays usable. */
  signal?: AbortSignal;
  /** Write the Animator's figure (train loss, train acc, test acc) to this SVG file after every epoch. */
  plot?: string;
  /** Print d2l's lines and, on a terminal, a progress line per epoch (default true). */
  verbose?: boolean;
}

// Trainings queued per net: a second train_ch6 on a net waits for the first to finish.
const queues = new WeakMap<Module, Promise<unknown>>();

function abortError(signal: AbortSignal): Error {
  const error = new Error('train_ch6 was aborted', { cause: signal.reason });
  error.name = 'AbortError';
  (error as Error & { code: string }).code = 'ABORT_ERR';
  return error;
}

/** Re-throws a native rejection with the caller's stack, so it points at the train_ch6 call. */
function atCaller(error: unknown, caller: Error): Error {
  const e = error instanceof Error || (error && typeof error === 'object' && 'message' in error) ? (error as Error) : new Error(String(error));
  if (!/\n\s+at /.test(e.stack ?? '') || !e.stack?.includes(caller.stack?.split('\n')[2] ?? '\0')) {
    e.stack = `${e.name}: ${e.message}\n${(caller.stack ?? '').split('\n').slice(1).join('\n')}`;
  }
  return e;
}

function checkBatches(name: string, value: unknown): Batches {
  if (value === null || typeof value !== 'object' || typeof (value as Batches)[Symbol.iterator] !== 'function') {
    throw invalidType(name, 'an iterable of [X, y] batches (a DataLoader)', value);
  }
  return value as Batches;
}

/** Whether the native loop can run: a built-in net and one of our DataLoaders. */
function fastPath(net: Module, data: Batches): { handle: NativeModule; loader: DataLoader } | null {
  const handle = handleOfModule(net);
  return handle && data instanceof DataLoader ? { handle, loader: data } : null;
}

/**
 * The accuracy of net over a data set, as d2l.evaluate_accuracy_gpu: eval mode, no grad, on the device of the
 * net's first parameter unless `device` is given. Runs off the main thread for a built-in net and a DataLoader.
 * @throws TypeError for a bad argument; rejects with libtorch's Error when the net does not fit the data.
 */
export async function evaluate_accuracy_gpu(net: Module, data_iter: Batches, device?: DeviceLike): Promise<number> {
  const caller = new Error();
  if (!(net instanceof Module)) throw invalidType('net', 'an nn.Module', net);
  checkBatches('data_iter', data_iter);
  net.eval();
  const params = net.parameters();
  const dev: Device = device === undefined ? (params.length ? params[0].device : parseDevice('device', 'cpu')) : parseDevice('device', device);
  const fast = fastPath(net, data_iter);
  if (fast) {
    try {
      const [correct, count] = await native.evaluate(fast.handle, fast.loader.dataset._source(), fast.loader.batch_size);
      return count ? correct / count : 0;
    } catch (error) {
      throw atCaller(error, caller);
    }
  }
  const metric = new Accumulator(2);
  for (const [X, y] of data_iter) {
    const [x, t] = [X.to(dev), y.to(dev)];
    metric.add(no_grad(() => accuracy(net.forward(x), t)), t.numel());
    await nextTurn();
  }
  return metric[1] ? metric[0] / metric[1] : 0;
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
async function probe(net: Module, data: Batches, dev: Device): Promise<number> {
  let X: Tensor;
  let y: Tensor;
  if (data instanceof DataLoader) {
    // Straight from the data set: iterating would draw a shuffle and shift the seeded random sequence.
    if (data.length === 0) throw new RangeError('Expected train_iter to yield batches, but it yields none');
    const [x, t] = native.batch(data.dataset._source(), null, 0, Math.min(2, data.dataset.length));
    [X, y] = [new Tensor(x), new Tensor(t)];
  } else {
    const first = data[Symbol.iterator]().next();
    if (first.done) throw new RangeError('Expected train_iter to yield batches, but it yields none');
    [X, y] = first.value as [Tensor, Tensor];
  }
  const classes = maxLabel(data, [X, y]) + 1;
  const x = X.shape[0] > 2 ? X.index_select(0, new Tensor(native.arange(0, 2, 1, 'int64', null))) : X;
  let out: Tensor;
  const wasTraining = net.training;
  try {
    net.eval();
    const handle = handleOfModule(net);
    out = handle ? new Tensor(await handle.forwardAsync(x.to(dev)._h)) : no_grad(() => net.forward(x.to(dev)));
  } catch (error) {
    throw new Error(`train_ch6: the net cannot take a batch of shape ${X.shape} from train_iter: ${(error as Error).message}`);
  } finally {
    net.train(wasTraining);
  }
  const B = x.shape[0];
  if (out.dim() !== 2 || out.shape[0] !== B || out.shape[1] < classes) {
    throw new Error(
      `train_ch6: the net maps a batch of shape ${x.shape} to ${out.shape}; expected [${B}, ${classes}] ` +
        `(one logit per class: the labels go up to ${classes - 1})`,
    );
  }
  return classes;
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
 * turning); otherwise each batch runs through the JS API, yielding to the event loop between batches.
 * A second train_ch6 on the same net waits for the first to finish.
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
  if (!(net instanceof Module)) throw invalidType('net', 'an nn.Module', net);
  checkBatches('train_iter', train_iter);
  checkBatches('test_iter', test_iter);
  checkInt('num_epochs', num_epochs, { min: 1 });
  checkNumber('lr', lr, { gt: 0 });
  const dev = parseDevice('device', device);
  const o = parseArgs('train_ch6', ['on_batch', 'on_epoch', 'signal', 'plot', 'verbose'], [checkOptions('options', options)]);
  const on_batch = o.on_batch === undefined ? undefined : checkFunction<(p: TrainProgress) => void>('on_batch', o.on_batch);
  const on_epoch = o.on_epoch === undefined ? undefined : checkFunction<(r: EpochRecord) => void>('on_epoch', o.on_epoch);
  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.aborted !== 'boolean')) {
    throw invalidType('signal', 'an AbortSignal', signal);
  }
  if (o.plot !== undefined && typeof o.plot !== 'string') throw invalidType('plot', 'a file path', o.plot);
  const verbose = checkBool('verbose', o.verbose ?? true);

  const previous = queues.get(net) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() =>
    train(net, train_iter, test_iter, num_epochs, lr, dev, { on_batch, on_epoch, signal, plot: o.plot as string | undefined, verbose }),
  );
  queues.set(net, run);
  try {
    return await run;
  } catch (error) {
    throw atCaller(error, caller);
  } finally {
    if (queues.get(net) === run) queues.delete(net);
  }
}

interface Settings {
  on_batch?: (p: TrainProgress) => void;
  on_epoch?: (r: EpochRecord) => void;
  signal?: AbortSignal;
  plot?: string;
  verbose: boolean;
}

async function train(net: Module, train_iter: Batches, test_iter: Batches, num_epochs: number, lr: number,
                     dev: Device, s: Settings): Promise<TrainResult> {
  if (s.signal?.aborted) throw abortError(s.signal);
  net.apply((m) => {
    if (m instanceof Linear || m instanceof Conv2d) xavier_uniform_(m.weight);
  });
  net.to(dev);
  await probe(net, train_iter, dev);
  if (s.verbose) console.log('training on', String(dev));
  const optimizer = new SGD(net.parameters(), { lr });
  const loss = new CrossEntropyLoss();
  // d2l's xlim is [1, num_epochs]; one epoch needs room for its fifths.
  const xlim: [number, number] = num_epochs > 1 ? [1, num_epochs] : [0, 1];
  const animator = new Animator({ xlabel: 'epoch', xlim, legend: ['train loss', 'train acc', 'test acc'] });
  // A diverging run (loss NaN) leaves a gap in the figure, as matplotlib would, instead of failing the training.
  const point = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null);
  const timer = new Timer();
  const fast = fastPath(net, train_iter);
  // The native loop, for a built-in net: whole runs of batches from a DataLoader, or one given batch at a time.
  const handle = handleOfModule(net);
  const trainer = handle
    ? new native.Trainer(handle, optimizer._h, { reduction: 'mean', ignore_index: -100, label_smoothing: 0, weight: null })
    : null;
  const onAbort = () => trainer?.cancel();
  s.signal?.addEventListener('abort', onAbort, { once: true });
  const showProgress = s.verbose && process.stdout.isTTY === true;
  const history: EpochRecord[] = [];
  let train_l = NaN;
  let train_acc = NaN;
  let test_acc = NaN;
  let examples = 0;
  try {
    for (let epoch = 0; epoch < num_epochs; epoch++) {
      net.train();
      const epochTimer = new Timer();
      let bar: SingleBar | undefined;
      let num_batches: number;
      const report = (done: number, metrics: [number, number, number]) => {
        [train_l, train_acc, examples] = [metrics[0] / metrics[2], metrics[1] / metrics[2], metrics[2]];
        const fifth = Math.max(1, Math.floor(num_batches / 5));
        if (done % fifth === 0 || done === num_batches) animator.add(epoch + done / num_batches, [point(train_l), point(train_acc), null]);
        s.on_batch?.({ epoch: epoch + 1, batch: done, num_batches, loss: train_l, train_acc, examples });
        bar?.update(done, {
          loss: train_l.toFixed(3), acc: train_acc.toFixed(3),
          speed: (examples / Math.max(epochTimer.sum(), 1e-9)).toFixed(1),
        });
      };
      if (fast && trainer) {
        const { loader } = fast;
        const source = loader.dataset._source();
        const order = loader._order(source);
        num_batches = loader.length;
        bar = showProgress ? progressBar(epoch, num_epochs, num_batches) : undefined;
        trainer.resetMetrics();
        let start = 0;
        for (const end of checkpoints(num_batches, !!s.on_batch, showProgress)) {
          const result = await trainer.run(source, order, loader.batch_size, start, end);
          epochTimer.add(result.seconds);
          if (result.cancelled || s.signal?.aborted) throw abortError(s.signal!);
          report(end, trainer.metrics());
          start = end;
        }
      } else {
        // Any other iterable of batches: a built-in net still steps natively off the main thread, one batch per
        // call; a net written in JS steps through the JS API. Either way the event loop turns between batches.
        const batches = train_iter instanceof DataLoader || Array.isArray(train_iter) ? train_iter : [...train_iter];
        num_batches = batches instanceof DataLoader ? batches.length : (batches as [Tensor, Tensor][]).length;
        bar = showProgress ? progressBar(epoch, num_epochs, num_batches) : undefined;
        const metric = new Accumulator(3);
        trainer?.resetMetrics();
        let i = 0;
        for (const [X, y] of batches) {
          if (s.signal?.aborted) throw abortError(s.signal);
          if (trainer) {
            const result = await trainer.step(X._h, y._h);
            epochTimer.add(result.seconds);
            report(++i, trainer.metrics());
            continue;
          }
          const t0 = performance.now();
          const [x, t] = [X.to(dev), y.to(dev)];
          optimizer.zero_grad();
          const y_hat = net.forward(x);
          const l = loss.forward(y_hat, t);
          l.backward();
          optimizer.step();
          metric.add(Number(l.item()) * t.shape[0], accuracy(y_hat, t), t.shape[0]);
          epochTimer.add((performance.now() - t0) / 1000);
          report(++i, [metric[0], metric[1], metric[2]]);
          await nextTurn();
        }
      }
      bar?.stop();
      if (examples === 0) throw new RangeError('Expected train_iter to yield batches, but it yields none');
      timer.add(epochTimer.sum());
      test_acc = await evaluate_accuracy_gpu(net, test_iter);
      animator.add(epoch + 1, [null, null, point(test_acc)]);
      const record = { epoch: epoch + 1, loss: train_l, train_acc, test_acc, seconds: epochTimer.sum() };
      history.push(record);
      s.on_epoch?.(record);
      if (s.plot) await animator.save(s.plot);
    }
  } finally {
    s.signal?.removeEventListener('abort', onAbort);
  }
  const examples_per_sec = (examples * num_epochs) / timer.sum();
  if (s.verbose) {
    console.log(`loss ${train_l.toFixed(3)}, train acc ${train_acc.toFixed(3)}, test acc ${test_acc.toFixed(3)}`);
    console.log(`${examples_per_sec.toFixed(1)} examples/sec on ${String(dev)}`);
  }
  return { loss: train_l, train_acc, test_acc, examples_per_sec, device: String(dev), history };
}

function progressBar(epoch: number, num_epochs: number, num_batches: number): SingleBar {
  const bar = new SingleBar({
    format: `epoch ${epoch + 1}/${num_epochs} [{bar}] {value}/{total} batches | loss {loss} | train acc {acc} | {speed} examples/sec`,
    hideCursor: true,
    clearOnComplete: false,
  });
  bar.start(num_batches, 0, { loss: '-', acc: '-', speed: '-' });
  return bar;
}
