/**
 * Data sets and loaders, as torch.utils.data: a DataLoader hands out batches that native code gathers from tensors
 * held in memory (one gather per batch, on the data set's device), never example by example in JS.
 */
import type { NativeBatchSource, NativeTensor } from '../binding';
import { native } from './binding';
import { defaultGroup } from './process_group';
import { keepAlive, Tensor } from './tensor';
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
    // A data set outlives any torch.tidy() its tensors were made in.
    keepAlive(X);
    keepAlive(y);
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

/**
 * The examples of a data set at the given indices, in that order, as torch.utils.data.Subset(dataset, indices):
 * `new Subset(train_iter.dataset, [0, 1, 2])`. It keeps the data set's transform (load_data_fashion_mnist's resize
 * and ToTensor scaling happen as batches are drawn, as before). Indices that run on from one to the next (the first N
 * examples, say) share the data set's memory; any others are gathered once, on first use.
 * @example const first1000 = new DataLoader(new Subset(train_iter.dataset, [...Array(1000).keys()]), { batch_size: 256, shuffle: true });
 * @throws TypeError when dataset is not a Dataset or indices not an iterable of integers; RangeError for an index
 *   outside 0..dataset.length - 1.
 */
export class Subset implements Dataset {
  readonly dataset: Dataset;
  readonly indices: readonly number[];
  private cache: { from: NativeTensor; source: NativeBatchSource } | null = null;

  constructor(dataset: Dataset, indices: Iterable<number>) {
    checkArgCount('Subset', arguments.length, 2);
    if (dataset === null || typeof dataset !== 'object' || typeof (dataset as Dataset)._source !== 'function') {
      throw invalidType('dataset', 'a Dataset (e.g. a TensorDataset)', dataset);
    }
    if (indices === null || typeof indices !== 'object' || typeof (indices as Iterable<number>)[Symbol.iterator] !== 'function') {
      throw invalidType('indices', 'an iterable of example indices', indices);
    }
    const n = dataset.length;
    this.dataset = dataset;
    this.indices = Object.freeze([...indices].map((v, i) => {
      const k = checkInt(`indices[${i}]`, v, { min: 0, expected: `an index 0..${n - 1}` });
      if (k >= n) throw invalidValue(`indices[${i}]`, `an index 0..${n - 1} (the data set holds ${n} examples)`, v);
      return k;
    }));
  }

  get length(): number {
    return this.indices.length;
  }

  /** @internal the data set's tensors narrowed (a run of indices) or gathered (any others) to the subset */
  _source(): NativeBatchSource {
    const source = this.dataset._source();
    if (this.cache?.from === source.x) return this.cache.source;
    const idx = this.indices;
    const start = idx.length ? idx[0] : 0;
    const run = idx.every((k, i) => k === start + i);
    const index = run ? null : new Tensor(native.fromData(Int32Array.from(idx), [idx.length], 'int64', native.tensorDevice(source.x)));
    const pick = (t: NativeTensor): NativeTensor => {
      const tensor = new Tensor(t);
      const picked = index ? tensor.index_select(0, index.to(tensor.device)) : tensor.narrow(0, start, idx.length);
      // Cached for later epochs: kept even when first read inside torch.tidy() (its handle then its owner).
      keepAlive(picked);
      return picked._h;
    };
    this.cache = { from: source.x, source: { ...source, x: pick(source.x), y: pick(source.y) } };
    return this.cache.source;
  }
}

export interface DistributedSamplerOptions {
  /** Ranks sharing the data set (default: the default process group's world size). */
  num_replicas?: number;
  /** This rank, 0 .. num_replicas - 1 (default: its rank in the default process group). */
  rank?: number;
  /** Reshuffle on every epoch (default true): the same order on every rank, drawn from seed + epoch. */
  shuffle?: boolean;
  /** The shuffle's seed (default 0), the same on every rank: an integer 0 .. 2^64 - 1 (a bigint above 2^53 - 1). */
  seed?: number | bigint;
  /** Drop the tail that does not divide evenly across ranks (default false: repeat the first examples to fill it). */
  drop_last?: boolean;
}

const MAX_SEED = 2n ** 64n - 1n;

// An integer seed 0 .. 2^64 - 1, as torch.Generator.manual_seed takes (PyTorch also wraps negative ones; we refuse
// them, as torch.manual_seed here does): a number (a safe integer) or a bigint.
function checkSeed(value: unknown): number | bigint {
  const expected = 'an integer in 0..2^64-1 (a bigint above 2^53-1)';
  if (typeof value === 'bigint') {
    if (value < 0n || value > MAX_SEED) throw invalidValue('seed', expected, value);
    return value;
  }
  return checkInt('seed', value, { min: 0, expected });
}

/**
 * torch.randperm(n, generator=torch.Generator().manual_seed(seed)), as PyTorch's DistributedSampler draws it, so
 * that a seed shuffles alike here and in PyTorch: libtorch's CPU generator is an MT19937 seeded with the seed's low
 * 32 bits (PyTorch's seeds 0 and 2^32 shuffle alike too), and randperm swaps r[i] with r[i + random() % (n - i)].
 * (libtorch 2.x draws 64-bit numbers instead for n >= 2^32 / 20, far beyond what an Int32Array of indices holds here.)
 */
function randperm(n: number, seed: bigint): Int32Array {
  const N = 624;
  const M = 397;
  const mt = new Uint32Array(N);
  mt[0] = Number(seed & 0xffffffffn);
  for (let i = 1; i < N; i++) mt[i] = Math.imul(1812433253, mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
  let next = N;
  const random = (): number => {
    if (next === N) {
      for (let k = 0; k < N; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % N] & 0x7fffffff);
        mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      next = 0;
    }
    let y = mt[next++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  };
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n - 1; i++) {
    const j = i + (random() % (n - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * This rank's share of a data set, as torch.utils.data.DistributedSampler: the (shuffled) indices padded to a
 * multiple of num_replicas, then every num_replicas-th from `rank`, so the ranks' shares are disjoint and equal in
 * size. Give it to a DataLoader (`sampler`), and call set_epoch(epoch) before each epoch for a new shuffle
 * (train_ch6 does). The shuffle is PyTorch's: torch.randperm from a generator seeded with `seed + epoch`, the same on
 * every rank, so each rank gets the indices PyTorch's DistributedSampler would give it.
 * @example const loader = new DataLoader(dataset, { batch_size: 128, sampler: new DistributedSampler(dataset) });
 * @throws TypeError / RangeError naming the argument; Error when num_replicas or rank is left to a default process
 *   group that does not exist.
 */
export class DistributedSampler implements Iterable<number> {
  readonly dataset: Dataset;
  readonly num_replicas: number;
  readonly rank: number;
  readonly shuffle: boolean;
  readonly seed: number | bigint;
  readonly drop_last: boolean;
  /** Examples this rank gets per epoch. */
  readonly num_samples: number;
  /** num_samples times num_replicas. */
  readonly total_size: number;
  private epoch = 0;

  constructor(dataset: Dataset, options?: DistributedSamplerOptions);
  constructor(dataset: Dataset, num_replicas?: number, rank?: number, shuffle?: boolean, seed?: number | bigint, drop_last?: boolean);
  constructor(dataset: Dataset, ...args: unknown[]) {
    if (dataset === null || typeof dataset !== 'object' || typeof (dataset as Dataset)._source !== 'function') {
      throw invalidType('dataset', 'a Dataset (e.g. a TensorDataset)', dataset);
    }
    if (args.length === 1 && args[0] !== null && typeof args[0] === 'object') checkOptions('options', args[0]);
    const a = parseArgs('DistributedSampler', ['num_replicas', 'rank', 'shuffle', 'seed', 'drop_last'], args);
    this.dataset = dataset;
    this.num_replicas = checkInt('num_replicas', a.num_replicas ?? defaultGroup().size(), { min: 1 });
    this.rank = checkInt('rank', a.rank ?? defaultGroup().rank(), { min: 0 });
    if (this.rank >= this.num_replicas) {
      throw invalidValue('rank', `an integer in 0..${this.num_replicas - 1} (num_replicas ${this.num_replicas})`, this.rank);
    }
    this.shuffle = checkBool('shuffle', a.shuffle ?? true);
    this.seed = checkSeed(a.seed ?? 0);
    this.drop_last = checkBool('drop_last', a.drop_last ?? false);
    const n = dataset.length;
    const r = this.num_replicas;
    this.num_samples = this.drop_last && n % r !== 0 ? Math.ceil((n - r) / r) : Math.ceil(n / r);
    this.total_size = this.num_samples * r;
  }

  /** The number of indices this rank gets per epoch. */
  get length(): number {
    return this.num_samples;
  }

  /**
   * Sets the epoch, which seeds the next shuffle (seed + epoch): call it before each epoch.
   * @throws TypeError / RangeError for an epoch that is not a non-negative integer, or takes seed + epoch past 2^64 - 1.
   */
  set_epoch(epoch: number): void {
    checkArgCount('DistributedSampler.set_epoch', arguments.length, 1);
    checkInt('epoch', epoch, { min: 0 });
    if (BigInt(this.seed) + BigInt(epoch) > MAX_SEED) {
      throw invalidValue('epoch', `an integer whose sum with seed (${this.seed}) is at most 2^64-1`, epoch);
    }
    this.epoch = epoch;
  }

  private _indices(): Int32Array {
    const n = this.dataset.length;
    const all = this.shuffle ? randperm(n, BigInt(this.seed) + BigInt(this.epoch)) : Int32Array.from({ length: n }, (_, i) => i);
    const mine = new Int32Array(this.num_samples);
    for (let i = 0; i < this.num_samples; i++) mine[i] = all[(this.rank + i * this.num_replicas) % n];
    return mine;
  }

  *[Symbol.iterator](): Iterator<number> {
    yield* this._indices();
  }

  /** @internal this rank's indices as an int64 tensor on `device`, for the native batching */
  _order(device: string): NativeTensor {
    const indices = this._indices();
    return native.fromData(indices, [indices.length], 'int64', device);
  }
}

export interface DataLoaderOptions {
  /** Examples per batch (default 1). */
  batch_size?: number;
  /** Reshuffle on every pass (default false); the order follows torch.manual_seed. */
  shuffle?: boolean;
  /** Drop the last, partial batch (default false: keep it). */
  drop_last?: boolean;
  /** Take the examples this sampler gives (a DistributedSampler), in its order; not with shuffle. */
  sampler?: DistributedSampler;
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
  readonly sampler: DistributedSampler | null;

  constructor(dataset: Dataset, options?: DataLoaderOptions);
  constructor(dataset: Dataset, batch_size: number, shuffle?: boolean, drop_last?: boolean, sampler?: DistributedSampler);
  constructor(dataset: Dataset, ...args: unknown[]) {
    if (dataset === null || typeof dataset !== 'object' || typeof (dataset as Dataset)._source !== 'function') {
      throw invalidType('dataset', 'a Dataset (e.g. a TensorDataset)', dataset);
    }
    // A lone number is the positional batch_size; a lone object must be plain options.
    if (args.length === 1 && args[0] !== null && typeof args[0] === 'object') checkOptions('options', args[0]);
    const a = parseArgs('DataLoader', ['batch_size', 'shuffle', 'drop_last', 'sampler'], args);
    this.dataset = dataset;
    this.batch_size = checkInt('batch_size', a.batch_size ?? 1, { min: 1 });
    this.shuffle = checkBool('shuffle', a.shuffle ?? false);
    this.drop_last = checkBool('drop_last', a.drop_last ?? false);
    if (a.sampler !== undefined && !(a.sampler instanceof DistributedSampler)) {
      throw invalidType('sampler', 'a DistributedSampler', a.sampler);
    }
    this.sampler = a.sampler ?? null;
    if (this.sampler && this.shuffle) throw invalidValue('shuffle', 'false with a sampler (sampler option is mutually exclusive with shuffle)', true);
  }

  /** The number of examples in one pass: the data set's, or the sampler's share of it. */
  private _examples(): number {
    return this.sampler ? this.sampler.length : this.dataset.length;
  }

  /** The number of batches in one pass. */
  get length(): number {
    const n = this._examples();
    return this.drop_last ? Math.floor(n / this.batch_size) : Math.ceil(n / this.batch_size);
  }

  /**
   * @internal the order of one pass (on the data's device): the sampler's indices, a fresh permutation when
   * shuffling, else null (stored order)
   */
  _order(source: NativeBatchSource): NativeTensor | null {
    if (this.sampler) return this.sampler._order(native.tensorDevice(source.x));
    return this.shuffle ? native.randperm(this.dataset.length, native.tensorDevice(source.x)) : null;
  }

  *[Symbol.iterator](): Iterator<[Tensor, Tensor]> {
    const source = this.dataset._source();
    // Used by every later next(), inside a torch.tidy() or not: kept with a Tensor that the loop reads.
    const handle = this._order(source);
    const order = handle ? new Tensor(handle) : null;
    if (order) keepAlive(order);
    const n = this._examples();
    for (let b = 0; b < this.length; b++) {
      const [X, y] = native.batch(source, order ? order._h : null, b * this.batch_size, Math.min(n, (b + 1) * this.batch_size));
      yield [new Tensor(X), new Tensor(y)];
    }
  }
}
