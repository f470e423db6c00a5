/** d2l's small helpers: Timer, Accumulator, accuracy, try_gpu, try_all_gpus. */
import { native } from '../binding';
import { Device, device } from '../device';
import { Tensor } from '../tensor';
import { checkArgCount, checkInt, invalidType } from '../validate';

/** Records running times, as d2l.Timer: start(), stop() (returns the lap in seconds), avg(), sum(), cumsum(). */
export class Timer {
  readonly times: number[] = [];
  private started = 0;

  constructor() {
    checkArgCount('Timer', arguments.length, 0);
    this.start();
  }

  start(): void {
    checkArgCount('Timer.start', arguments.length, 0);
    this.started = performance.now();
  }

  /** Stops the timer, records the lap and returns it in seconds. */
  stop(): number {
    checkArgCount('Timer.stop', arguments.length, 0);
    this.times.push((performance.now() - this.started) / 1000);
    return this.times[this.times.length - 1];
  }

  /** Adds a lap measured elsewhere (e.g. on a worker thread), in seconds. */
  add(seconds: number): void {
    checkArgCount('Timer.add', arguments.length, 1);
    this.times.push(seconds);
  }

  avg(): number {
    checkArgCount('Timer.avg', arguments.length, 0);
    return this.times.length ? this.sum() / this.times.length : 0;
  }

  sum(): number {
    checkArgCount('Timer.sum', arguments.length, 0);
    return this.times.reduce((a, b) => a + b, 0);
  }

  cumsum(): number[] {
    checkArgCount('Timer.cumsum', arguments.length, 0);
    let total = 0;
    return this.times.map((t) => (total += t));
  }
}

/**
 * Sums over n variables, as d2l.Accumulator: `metric.add(a, b, c)`, read with `metric[0]`.
 * @throws RangeError when n is not a positive integer (at most 65536); TypeError when add() is given more than n
 *   values.
 */
export class Accumulator {
  [index: number]: number;
  readonly data: number[];

  constructor(n: number) {
    checkArgCount('Accumulator', arguments.length, 1);
    // A bound well past any use, so that a wrong n is a RangeError rather than an out-of-memory abort of the process.
    if (checkInt('n', n, { min: 1 }) > 2 ** 16) throw new RangeError(`Expected n to be at most 65536 but received ${n}`);
    this.data = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) Object.defineProperty(this, i, { get: () => this.data[i], enumerable: true });
  }

  /** Adds each argument to its variable (numbers; a one-element Tensor is read with item()). */
  add(...args: (number | Tensor)[]): void {
    checkArgCount('Accumulator.add', args.length, this.data.length);
    args.forEach((a, i) => {
      const v = a instanceof Tensor ? Number(a.item()) : a;
      if (typeof v !== 'number') throw invalidType(`args[${i}]`, 'a number', a);
      this.data[i] += v;
    });
  }

  reset(): void {
    checkArgCount('Accumulator.reset', arguments.length, 0);
    this.data.fill(0);
  }
}

/**
 * The number of correct predictions, as d2l.accuracy: y_hat holds logits [B, C] (or labels [B]), y labels [B].
 * @throws TypeError when y_hat or y is not a Tensor.
 */
export function accuracy(y_hat: Tensor, y: Tensor): number {
  checkArgCount('accuracy', arguments.length, 2);
  if (!(y_hat instanceof Tensor)) throw invalidType('y_hat', 'a Tensor', y_hat);
  if (!(y instanceof Tensor)) throw invalidType('y', 'a Tensor', y);
  const labels = y_hat.dim() > 1 && y_hat.shape[1] > 1 ? y_hat.argmax(1) : y_hat;
  return Number(labels.to(y.dtype).eq(y).sum().item());
}

/** cuda:i when it exists, else the CPU, as d2l.try_gpu. */
export function try_gpu(i = 0): Device {
  checkArgCount('try_gpu', arguments.length, 1);
  checkInt('i', i, { min: 0 });
  return native.cudaDeviceCount() >= i + 1 ? device(`cuda:${i}`) : device('cpu');
}

/** Every CUDA device, or [cpu] when there are none, as d2l.try_all_gpus. */
export function try_all_gpus(): Device[] {
  checkArgCount('try_all_gpus', arguments.length, 0);
  const n = native.cudaDeviceCount();
  return n ? Array.from({ length: n }, (_, i) => device(`cuda:${i}`)) : [device('cpu')];
}
