/**
 * Data sets and loaders, as torch.utils.data: a DataLoader hands out batches that native code gathers from tensors
 * held in memory (one gather per batch, on the data set's device), never example by example in JS.
 */
import type { NativeBatchSource, NativeTensor } from '../binding';
import { native } from './binding';
import { Tensor } from './tensor';
import { checkArgCount, checkBool, checkInt, checkOptions, invalidType, invalidValue, parseArgs } from './validate';

/** A data set whose examples live in native memory; what DataLoader (and train_ch6's native loop) batch from. */
export interface Dataset {
  /** The number of examples. */
  readonly length: number;
  /** @internal the tensors and transform the native side batches from */
  _source(): NativeBatchSource;
}

/**
 * Examples from tensors sharing their first dimension, as torch.utils.data.TensorDataset(X, y).
 * @throws TypeError if X or y is not a Tensor; RangeError if their first dimensions differ.
 */
export class TensorDataset implements Dataset {
  readonly tensors: [Tensor, Tensor];

  constructor(X: Tensor, y: Tensor) {
    checkArgCount('TensorDataset', arguments.length, 2);
    if (!(X instanceof Tensor)) throw invalidType('X', 'a Tensor', X);
    if (!(y instanceof Tensor)) throw invalidType('y', 'a Tensor', y);
    if (X.dim() === 0 || y.dim() === 0 || X.shape[0] !== y.shape[0]) {
      throw invalidValue('y', `a tensor with as many rows as X (${X.dim() ? X.shape[0] : 'a 0-d tensor'})`, y);
    }
    this.tensors = [X, y];
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  /** @internal */
  _source(): NativeBatchSource {
    return { x: this.tensors[0]._h, y: this.tensors[1]._h, scale: null, resize: null };
  }
}

export interface DataLoaderOptions {
  /** Examples per batch (default 1). */
  batch_size?: number;
  /** Reshuffle on every pass (default false); the order follows torch.manual_seed. */
  shuffle?: boolean;
  /** Drop the last, partial batch (default false: keep it). */
  drop_last?: boolean;
}

/**
 * Batches of a Dataset, as torch.utils.data.DataLoader: re-iterable (`for (const [X, y] of loader)`), with
 * `.length` the number of batches. A shuffling loader draws a new order on every pass.
 * @throws TypeError / RangeError naming the argument for a bad dataset or batch_size.
 */
export class DataLoader implements Iterable<[Tensor, Tensor]> {
  readonly dataset: Dataset;
  readonly batch_size: number;
  readonly shuffle: boolean;
  readonly drop_last: boolean;

  constructor(dataset: Dataset, options?: DataLoaderOptions);
  constructor(dataset: Dataset, batch_size: number, shuffle?: boolean);
  constructor(dataset: Dataset, ...args: unknown[]) {
    if (dataset === null || typeof dataset !== 'object' || typeof (dataset as Dataset)._source !== 'function') {
      throw invalidType('dataset', 'a Dataset (e.g. a TensorDataset)', dataset);
    }
    // A lone number is the positional batch_size; a lone object must be plain options.
    if (args.length === 1 && args[0] !== null && typeof args[0] === 'object') checkOptions('options', args[0]);
    const a = parseArgs('DataLoader', ['batch_size', 'shuffle', 'drop_last'], args);
    this.dataset = dataset;
    this.batch_size = checkInt('batch_size', a.batch_size ?? 1, { min: 1 });
    this.shuffle = checkBool('shuffle', a.shuffle ?? false);
    this.drop_last = checkBool('drop_last', a.drop_last ?? false);
  }

  /** The number of batches in one pass. */
  get length(): number {
    const n = this.dataset.length;
    return this.drop_last ? Math.floor(n / this.batch_size) : Math.ceil(n / this.batch_size);
  }

  /** @internal the order of one pass: a fresh permutation when shuffling (on the data's device), else null */
  _order(source: NativeBatchSource): NativeTensor | null {
    return this.shuffle ? native.randperm(this.dataset.length, source.x.device()) : null;
  }

  *[Symbol.iterator](): Iterator<[Tensor, Tensor]> {
    const source = this.dataset._source();
    const order = this._order(source);
    const n = this.dataset.length;
    for (let b = 0; b < this.length; b++) {
      const [X, y] = native.batch(source, order, b * this.batch_size, Math.min(n, (b + 1) * this.batch_size));
      yield [new Tensor(X), new Tensor(y)];
    }
  }
}
