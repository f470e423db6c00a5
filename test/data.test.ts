import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { d2l, torch, Tensor } from '../lib';
import type { DataLoader } from '../lib/data';
import { mainThreadDuring, summary } from './main-thread';
import { failure, first, IDX_NAMES, idx, labelsOf, serve, tempDirs, writeIdxFiles } from './idx-files';

const { DataLoader: Loader, Subset, TensorDataset } = torch.utils.data;

/** Debian's dataset-fashion-mnist: the four published IDX files, recompressed. */
const DEBIAN = '/usr/share/datasets/fashion-mnist';
// The real .gz files: Debian's package, or wherever $FASHION_MNIST_DIR points (hosts without the package).
const REAL = process.env.FASHION_MNIST_DIR || DEBIAN;
const NAMES = IDX_NAMES;
// The first labels of each split, in file order (the published data set's own order).
const FIRST_TRAIN_LABELS = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5];
const FIRST_TEST_LABELS = [9, 2, 1, 1, 6, 1, 4, 6, 5, 7];

const tempDir = tempDirs('lenet-data-');

// ---- small IDX fixtures: the format as the loader reads it, with counts small enough to write in a test ----

/** Image i of a fixture is uniformly i * 20; its label is i % 10. */
const fixtureImages = (n: number, h = 28, w = 28) =>
  idx([n, h, w], Uint8Array.from({ length: n * h * w }, (_, k) => Math.floor(k / (h * w)) * 20));
const fixtureLabels = (n: number) => idx([n], Uint8Array.from({ length: n }, (_, i) => i % 10));

/** Writes a 10-example training split and a 5-example test split into dir; `replace` swaps one file's content. */
function writeFixture(dir: string, replace: Partial<Record<string, Buffer>> = {}, gzip = false): Record<string, string> {
  const content = {
    'train-images-idx3-ubyte': fixtureImages(10),
    'train-labels-idx1-ubyte': fixtureLabels(10),
    't10k-images-idx3-ubyte': fixtureImages(5),
    't10k-labels-idx1-ubyte': fixtureLabels(5),
    ...replace,
  } as Record<string, Buffer>;
  return writeIdxFiles(dir, content, gzip);
}

/** A URL on a port where nothing listens: one a server just released. */
async function closedPort(): Promise<string> {
  const mirror = await serve(tempDir());
  await mirror.close();
  return mirror.url;
}

describe('torch.utils.data.TensorDataset', () => {
  test('holds tensors sharing their first dimension; length is that dimension', () => {
    const X = torch.rand(6, 3);
    const y = torch.arange(6);
    const ds = new TensorDataset(X, y);
    expect(ds.length).toBe(6);
    expect(ds.tensors[0]).toBe(X);
    expect(ds.tensors[1]).toBe(y);
  });

  describe('BAD CALL', () => {
    test.each([
      ['X not a Tensor', () => new TensorDataset([1, 2] as never, torch.arange(2)), TypeError, /Expected X to be a Tensor/],
      ['y not a Tensor', () => new TensorDataset(torch.arange(2), [1, 2] as never), TypeError, /Expected y to be a Tensor/],
      ['first dimensions that differ', () => new TensorDataset(torch.rand(3, 2), torch.arange(4)), RangeError, /Expected y .*as many rows as X \(3\)/],
      ['a 0-d tensor', () => new TensorDataset(torch.tensor(1), torch.arange(1)), RangeError, /Expected y/],
    ])('%s', (_, call, type, message) => {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    });
  });
});

describe('torch.utils.data.DataLoader', () => {
  // Example i is the row [i, 10 i] with label i, so a batch shows which examples it holds and that X and y agree.
  const X = torch.tensor(Array.from({ length: 10 }, (_, i) => [i, 10 * i]));
  const y = torch.arange(10);
  const dataset = new TensorDataset(X, y);
  const pass = (loader: DataLoader) => [...loader].map(([Xb, yb]) => {
    const rows = Xb.tolist() as number[][];
    expect(rows).toEqual(labelsOf(yb).map((i) => [i, 10 * i]));
    return labelsOf(yb);
  });

  test('batches in order, keeping the last partial batch; length is the number of batches', () => {
    const loader = new Loader(dataset, { batch_size: 4 });
    expect(loader.length).toBe(3);
    expect(pass(loader)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const [Xb, yb] = first(loader);
    expect(Xb.shape).toEqual([4, 2]);
    expect(Xb.dtype).toBe('float32');
    expect(yb.dtype).toBe('int64');
  });

  test('defaults: batch_size 1, no shuffle, the last batch kept', () => {
    const loader = new Loader(dataset);
    expect([loader.batch_size, loader.shuffle, loader.drop_last]).toEqual([1, false, false]);
    expect(loader.length).toBe(10);
    expect(pass(loader)).toEqual(Array.from({ length: 10 }, (_, i) => [i]));
  });

  test('drop_last drops the partial batch', () => {
    const loader = new Loader(dataset, { batch_size: 4, drop_last: true });
    expect(loader.length).toBe(2);
    expect(pass(loader)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(new Loader(dataset, { batch_size: 5, drop_last: true }).length).toBe(2);
  });

  test('is re-iterable: every pass starts over', () => {
    const loader = new Loader(dataset, { batch_size: 3 });
    expect(pass(loader)).toEqual(pass(loader));
    expect([...loader]).toHaveLength(4);
  });

  test('shuffle: each pass is a new permutation of all examples, following torch.manual_seed', () => {
    const loader = new Loader(dataset, { batch_size: 4, shuffle: true });
    torch.manual_seed(0);
    const a = pass(loader);
    const b = pass(loader);
    expect(a.map((batch) => batch.length)).toEqual([4, 4, 2]);
    expect(a.flat().sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(b.flat().sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a.flat()).not.toEqual(b.flat());
    torch.manual_seed(0);
    expect(pass(loader)).toEqual(a);
  });

  test("PyTorch's positional form: DataLoader(dataset, batch_size, shuffle)", () => {
    const loader = new Loader(dataset, 4, true);
    expect([loader.batch_size, loader.shuffle]).toEqual([4, true]);
    const alone = new Loader(dataset, 4);
    expect([alone.batch_size, alone.shuffle, alone.length]).toEqual([4, false, 3]);
  });

  test('an empty data set gives no batches', () => {
    const empty = new Loader(new TensorDataset(torch.zeros(0, 2), torch.zeros([0], { dtype: 'int64' })), { batch_size: 4, shuffle: true });
    expect(empty.length).toBe(0);
    expect([...empty]).toEqual([]);
  });

  describe('BAD CALL', () => {
    test.each([
      ['dataset not a Dataset', () => new Loader([X, y] as never), TypeError, /Expected dataset to be a Dataset/],
      ['batch_size 0', () => new Loader(dataset, { batch_size: 0 }), RangeError, /Expected batch_size to be a positive integer but received 0/],
      ['batch_size -1', () => new Loader(dataset, { batch_size: -1 }), RangeError, /batch_size/],
      ['batch_size 1.5', () => new Loader(dataset, 1.5), RangeError, /batch_size/],
      ["batch_size '4'", () => new Loader(dataset, { batch_size: '4' as never }), TypeError, /batch_size/],
      ['shuffle a string', () => new Loader(dataset, { shuffle: 'yes' as never }), TypeError, /Expected shuffle to be a boolean/],
      ['drop_last a number', () => new Loader(dataset, { drop_last: 1 as never }), TypeError, /drop_last/],
      ['options not a plain object', () => new Loader(dataset, new Map() as never), TypeError, /Expected options to be an options object/],
      ['an unknown option', () => new Loader(dataset, { batchsize: 4 } as never), TypeError, /unexpected keyword argument 'batchsize'/],
      ['batch_size twice', () => new Loader(dataset, 4 as never, { batch_size: 4 } as never), TypeError, /multiple values for argument 'batch_size'/],
    ])('%s', (_, call, type, message) => {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    });
  });
});

describe('torch.utils.data.Subset', () => {
  // Example i is the row [i, 10 i] with label i.
  const X = torch.tensor(Array.from({ length: 10 }, (_, i) => [i, 10 * i]));
  const y = torch.arange(10);
  const dataset = new TensorDataset(X, y);
  const labels = (loader: DataLoader) => [...loader].map(([Xb, yb]) => {
    expect(Xb.tolist()).toEqual(labelsOf(yb).map((i) => [i, 10 * i]));
    return labelsOf(yb);
  });

  test('the examples at the indices, in their order; length is the number of indices', () => {
    const first = new Subset(dataset, [0, 1, 2, 3, 4]);
    expect(first.length).toBe(5);
    expect(first.dataset).toBe(dataset);
    expect(first.indices).toEqual([0, 1, 2, 3, 4]);
    expect(labels(new Loader(first, { batch_size: 2 }))).toEqual([[0, 1], [2, 3], [4]]);
    expect(labels(new Loader(new Subset(dataset, [3, 4, 5]), { batch_size: 5 }))).toEqual([[3, 4, 5]]);
    expect(labels(new Loader(new Subset(dataset, new Set([9, 0, 7])), { batch_size: 5 }))).toEqual([[9, 0, 7]]);
    expect(labels(new Loader(new Subset(new Subset(dataset, [8, 6, 4, 2]), [3, 1]), { batch_size: 5 }))).toEqual([[2, 6]]);
    expect([...new Loader(new Subset(dataset, []), { batch_size: 2 })]).toEqual([]);
  });

  test('shuffled by a DataLoader within the subset only', () => {
    torch.manual_seed(0);
    const seen = labels(new Loader(new Subset(dataset, [2, 3, 4, 5]), { batch_size: 4, shuffle: true })).flat();
    expect([...seen].sort()).toEqual([2, 3, 4, 5]);
  });

  test('keeps the data set\'s transform: the first examples of Fashion-MNIST at resize 32, as the full loader gives them', async () => {
    const [train_iter] = await d2l.load_data_fashion_mnist(4, { resize: 32 });
    const [Xs, ys] = first(new Loader(new Subset(train_iter.dataset, [0, 1, 2, 3]), { batch_size: 4 }));
    const [Xa, ya] = first(new Loader(train_iter.dataset, { batch_size: 4 }));
    expect(Xs.shape).toEqual([4, 1, 32, 32]);
    expect(labelsOf(ys)).toEqual(labelsOf(ya));
    expect(Number(Xs.sub(Xa).abs().max().item())).toBe(0);
  });

  describe('BAD CALL', () => {
    test.each([
      ['dataset not a Dataset', () => new Subset([X, y] as never, [0]), TypeError, /Expected dataset to be a Dataset/],
      ['indices not iterable', () => new Subset(dataset, 3 as never), TypeError, /Expected indices to be an iterable of example indices/],
      ['an index past the end', () => new Subset(dataset, [0, 10]), RangeError, /Expected indices\[1\] to be an index 0..9 \(the data set holds 10 examples\) but received 10/],
      ['a negative index', () => new Subset(dataset, [-1]), RangeError, /indices\[0\]/],
      ['a fractional index', () => new Subset(dataset, [1.5]), RangeError, /indices\[0\]/],
      ['an index that is a string', () => new Subset(dataset, ['1'] as never), TypeError, /indices\[0\]/],
      ['no indices', () => new (Subset as unknown as new (d: unknown) => unknown)(dataset), TypeError, /Expected indices to be an iterable/],
      ['a third argument', () => new (Subset as unknown as new (...a: unknown[]) => unknown)(dataset, [0], true), TypeError, /Subset\(\) takes 2 arguments but 3 were given/],
    ])('%s', (_, call, type, message) => {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    });
  });
});

describe('d2l.load_array()', () => {
  const X = torch.arange(10).float().reshape(10, 1);
  const y = torch.arange(10);

  test('shuffles by default (is_train), covering every example each pass', () => {
    const loader = d2l.load_array([X, y], 4);
    expect(loader.shuffle).toBe(true);
    expect(loader.length).toBe(3);
    torch.manual_seed(1);
    const seen = [...loader].flatMap(([Xb, yb]) => {
      expect((Xb.tolist() as number[][]).map(([v]) => v)).toEqual(labelsOf(yb));
      return labelsOf(yb);
    });
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('is_train false keeps the order', () => {
    const loader = d2l.load_array([X, y], 4, false);
    expect([...loader].map(([, yb]) => labelsOf(yb))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });

  describe('BAD CALL', () => {
    test.each([
      ['data_arrays not a pair', () => d2l.load_array([X] as never, 4), TypeError, /Expected data_arrays to be a pair/],
      ['data_arrays not an array', () => d2l.load_array(X as never, 4), TypeError, /data_arrays/],
      ['features and labels of different lengths', () => d2l.load_array([X, torch.arange(9)], 4), RangeError, /Expected y/],
      ['batch_size 0', () => d2l.load_array([X, y], 0), RangeError, /batch_size/],
      ["batch_size '4'", () => d2l.load_array([X, y], '4' as never), TypeError, /batch_size/],
      ['is_train a number', () => d2l.load_array([X, y], 4, 1 as never), TypeError, /Expected is_train to be a boolean/],
    ])('%s', (_, call, type, message) => {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    });
  });
});

describe('d2l.get_fashion_mnist_labels()', () => {
  test('maps class indices to the text labels', () => {
    expect(d2l.get_fashion_mnist_labels([0, 9])).toEqual(['t-shirt', 'ankle boot']);
    expect(d2l.get_fashion_mnist_labels([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual([
      't-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot',
    ]);
    expect(d2l.get_fashion_mnist_labels([])).toEqual([]);
  });

  test('accepts a Tensor (a batch of y)', () => {
    expect(d2l.get_fashion_mnist_labels(torch.tensor([0, 9], { dtype: torch.int64 }))).toEqual(['t-shirt', 'ankle boot']);
    expect(d2l.get_fashion_mnist_labels(torch.tensor([[3], [8]], { dtype: torch.int64 }).reshape(-1))).toEqual(['dress', 'bag']);
  });

  describe('BAD CALL', () => {
    test.each([
      ['a string', () => d2l.get_fashion_mnist_labels('09' as never), TypeError, /Expected labels to be a Tensor or an iterable/],
      ['null', () => d2l.get_fashion_mnist_labels(null as never), TypeError, /labels/],
      ['an index of 10', () => d2l.get_fashion_mnist_labels([0, 10]), RangeError, /Expected labels\[1\] to be a class index 0\.\.9 but received 10/],
      ['a negative index', () => d2l.get_fashion_mnist_labels([-1]), RangeError, /labels\[0\]/],
      ['a fractional index', () => d2l.get_fashion_mnist_labels([1.5]), RangeError, /labels\[0\]/],
      ['a string index', () => d2l.get_fashion_mnist_labels(['1'] as never), TypeError, /labels\[0\]/],
    ])('%s', (_, call, type, message) => {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    });
  });
});

describe('d2l.load_data_fashion_mnist()', () => {
  describe('the real data set (Debian dataset-fashion-mnist)', () => {
    let train_iter: DataLoader;
    let test_iter: DataLoader;
    beforeAll(async () => {
      [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256);
    });

    test('60,000 training and 10,000 test examples in 235 and 40 batches of 256', () => {
      expect(train_iter.dataset.length).toBe(60000);
      expect(test_iter.dataset.length).toBe(10000);
      expect(train_iter.length).toBe(235);
      expect(test_iter.length).toBe(40);
      expect([train_iter.batch_size, train_iter.shuffle, train_iter.drop_last]).toEqual([256, true, false]);
      expect([test_iter.batch_size, test_iter.shuffle, test_iter.drop_last]).toEqual([256, false, false]);
    });

    test('a training pass: X float32 [B, 1, 28, 28] in [0, 1], y int64 [B], the last batch of 96 kept, pixel mean 0.2860', () => {
      let batches = 0;
      let examples = 0;
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      const counts = new Array(10).fill(0);
      let last: [Tensor, Tensor] | undefined;
      for (const [X, y] of train_iter) {
        expect(X.dtype).toBe('float32');
        expect(y.dtype).toBe('int64');
        expect(X.shape.slice(1)).toEqual([1, 28, 28]);
        expect(y.shape).toEqual([X.shape[0]]);
        batches += 1;
        examples += X.shape[0];
        sum += X.sum().item() as number;
        min = Math.min(min, X.min().item() as number);
        max = Math.max(max, X.max().item() as number);
        for (const c of labelsOf(y)) counts[c] += 1;
        last = [X, y];
      }
      expect(batches).toBe(235);
      expect(examples).toBe(60000);
      expect(last![0].shape).toEqual([96, 1, 28, 28]);
      expect(last![1].shape).toEqual([96]);
      // ToTensor: bytes 0..255 scaled to [0, 1], both ends present in the data.
      expect([min, max]).toEqual([0, 1]);
      expect((sum / (60000 * 28 * 28)).toFixed(4)).toBe('0.2860');
      // A shuffled pass still visits every example once: 6,000 of each class.
      expect(counts).toEqual(new Array(10).fill(6000));
    });

    test("the test set's last batch holds 16 examples; its batches come in file order", () => {
      const batches = [...test_iter];
      expect(batches).toHaveLength(40);
      expect(batches[0][0].shape).toEqual([256, 1, 28, 28]);
      expect(batches[39][0].shape).toEqual([16, 1, 28, 28]);
      expect(batches[39][1].shape).toEqual([16]);
      expect(labelsOf(batches[0][1]).slice(0, 10)).toEqual(FIRST_TEST_LABELS);
      expect(d2l.get_fashion_mnist_labels(batches[0][1]).slice(0, 3)).toEqual(['ankle boot', 'pullover', 'trouser']);
    });

    test('the training set holds the published examples in file order (unshuffled)', () => {
      const [, y] = first(new Loader(train_iter.dataset, { batch_size: 10 }));
      expect(labelsOf(y)).toEqual(FIRST_TRAIN_LABELS);
    });

    test('two passes over the training set come in different orders; two over the test set in the same', () => {
      const [, a] = first(train_iter);
      const [, b] = first(train_iter);
      expect(labelsOf(a)).not.toEqual(labelsOf(b));
      const [Xa, c] = first(test_iter);
      const [Xb, d] = first(test_iter);
      expect(labelsOf(c)).toEqual(labelsOf(d));
      expect(Xa.sum().item()).toBe(Xb.sum().item());
    });

    // What the main thread does while the data set loads, against how long the load takes (a ratio holds on a slow or
    // busy machine, where a fixed number of milliseconds does not). A stall in the loader repeats on every load, while
    // a machine busy with other work stalls a load only now and then: so each check passes when one of three loads
    // passes it.
    async function threeLoads(): Promise<ReturnType<typeof summary>[]> {
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(summary(await mainThreadDuring(() => d2l.load_data_fashion_mnist(256))));
      return runs;
    }

    test('the event loop keeps ticking while it loads: no gap longer than a quarter of the load', async () => {
      const runs = await threeLoads();
      expect(Math.min(...runs.map((r) => r.maxGap / r.elapsed))).toBeLessThan(0.25);
    });

    test('no native call on the main thread takes more than 5 % of the load (zero-filling the 47 MB image tensor there took 15-35 ms of a 300 ms load)', async () => {
      const runs = await threeLoads();
      expect(Math.min(...runs.map((r) => r.longest.ms / r.elapsed))).toBeLessThan(0.05);
    });

    test('torch.manual_seed(n) before iterating repeats the training order', () => {
      torch.manual_seed(42);
      const [Xa, a] = first(train_iter);
      torch.manual_seed(42);
      const [Xb, b] = first(train_iter);
      expect(labelsOf(a)).toEqual(labelsOf(b));
      expect(Xa.sum().item()).toBe(Xb.sum().item());
      torch.manual_seed(43);
      expect(labelsOf(first(train_iter)[1])).not.toEqual(labelsOf(a));
    });
  });

  describe('options', () => {
    test('resize: 32 gives [B, 1, 32, 32], values still in [0, 1] and close in mean to the 28x28 images', async () => {
      const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256, { resize: 32 });
      const [X, y] = first(train_iter);
      expect(X.shape).toEqual([256, 1, 32, 32]);
      expect(X.dtype).toBe('float32');
      expect(y.shape).toEqual([256]);
      const [T] = first(test_iter);
      expect(T.min().item()).toBeGreaterThanOrEqual(0);
      expect(T.max().item()).toBeLessThanOrEqual(1);
      const plain = first(new Loader(test_iter.dataset, { batch_size: 256 }));
      expect(T.mean().item() as number).toBeCloseTo(plain[0].mean().item() as number, 2);
      const batches = [...test_iter];
      expect(batches[39][0].shape).toEqual([16, 1, 32, 32]);
    });

    test('resize: [20, 24] gives [B, 1, 20, 24]', async () => {
      const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(64, { resize: [20, 24] });
      expect(first(train_iter)[0].shape).toEqual([64, 1, 20, 24]);
      const [X] = first(test_iter);
      expect(X.shape).toEqual([64, 1, 20, 24]);
      expect(X.min().item()).toBeGreaterThanOrEqual(0);
      expect(X.max().item()).toBeLessThanOrEqual(1);
    });

    test("device: 'cpu' (or torch.device('cpu')) keeps the data and the batches on the CPU", async () => {
      const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256, { device: 'cpu' });
      expect(String(first(train_iter)[0].device)).toBe('cpu');
      expect(String(first(test_iter)[1].device)).toBe('cpu');
      expect(train_iter.dataset.length).toBe(60000);
      const [again] = await d2l.load_data_fashion_mnist(256, { device: torch.device('cpu') });
      expect(String(first(again)[0].device)).toBe('cpu');
    });

    const withCuda = torch.cuda.is_available() ? test : test.skip;
    withCuda("device: 'cuda' keeps the data on the GPU and batches come out there (skipped: no CUDA)", async () => {
      const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256, { device: 'cuda' });
      const [X, y] = first(train_iter);
      expect(X.device.type).toBe('cuda');
      expect(y.device.type).toBe('cuda');
      expect(labelsOf(first(test_iter)[1]).slice(0, 10)).toEqual(FIRST_TEST_LABELS);
    });

    const noCuda = torch.cuda.is_available() ? test.skip : test;
    noCuda("EXPECTED FAILURE without CUDA: device: 'cuda' rejects with an Error, not a crash", async () => {
      expect(await failure(d2l.load_data_fashion_mnist(256, { root: writeFixtureDir(), device: 'cuda' }))).toMatch(/CUDA/);
    });
  });

  describe('where it looks', () => {
    const saved = process.env.FASHION_MNIST_DIR;
    afterEach(() => {
      if (saved === undefined) delete process.env.FASHION_MNIST_DIR;
      else process.env.FASHION_MNIST_DIR = saved;
    });

    test('root: a folder holding the four files, decompressed, loads from there', async () => {
      const root = tempDir();
      for (const name of NAMES) fs.writeFileSync(path.join(root, name), zlib.gunzipSync(fs.readFileSync(path.join(REAL, `${name}.gz`))));
      const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256, { root, download: false });
      expect(train_iter.dataset.length).toBe(60000);
      expect(test_iter.dataset.length).toBe(10000);
      expect(labelsOf(first(test_iter)[1]).slice(0, 10)).toEqual(FIRST_TEST_LABELS);
    });

    test('root is searched first and alone: its files win over the installed ones', async () => {
      const root = tempDir();
      writeFixture(root, {}, true);
      const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(4, { root });
      expect(train_iter.dataset.length).toBe(10);
      expect(test_iter.dataset.length).toBe(5);
      expect(train_iter.length).toBe(3);
      // Fixture image i is uniformly i * 20 (a byte), so ToTensor gives i * 20 / 255.
      const [X, y] = first(new Loader(test_iter.dataset, { batch_size: 5 }));
      expect(X.shape).toEqual([5, 1, 28, 28]);
      expect(labelsOf(y)).toEqual([0, 1, 2, 3, 4]);
      (X.mean([1, 2, 3]).tolist() as number[]).forEach((v, i) => expect(v).toBeCloseTo((i * 20) / 255, 6));
    });

    test("root in d2l's layout: root/FashionMNIST/raw", async () => {
      const root = tempDir();
      writeFixture(path.join(root, 'FashionMNIST', 'raw'));
      const [train_iter] = await d2l.load_data_fashion_mnist(256, { root });
      expect(train_iter.dataset.length).toBe(10);
    });

    test('EXPECTED FAILURE: root missing a file, download: false: an Error listing only root, and what is missing', async () => {
      const root = tempDir();
      const files = writeFixture(root);
      fs.rmSync(files['t10k-labels-idx1-ubyte']);
      const message = await failure(d2l.load_data_fashion_mnist(256, { root, download: false }));
      expect(message).toContain(`${root} (root): missing t10k-labels-idx1-ubyte`);
      expect(message).toContain(`${path.join(root, 'FashionMNIST', 'raw')} (root, d2l layout): no files`);
      expect(message).toContain('downloading is off (download: false)');
      expect(message).not.toContain(DEBIAN);
      expect(fs.existsSync(path.join(root, 'FashionMNIST'))).toBe(false);
    });

    test('$FASHION_MNIST_DIR: a folder of symlinks to the .gz files', async () => {
      const dir = tempDir();
      for (const name of NAMES) fs.symlinkSync(path.join(REAL, `${name}.gz`), path.join(dir, `${name}.gz`));
      process.env.FASHION_MNIST_DIR = dir;
      const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256);
      expect(train_iter.dataset.length).toBe(60000);
      expect(test_iter.dataset.length).toBe(10000);
    });

    test('$FASHION_MNIST_DIR is searched before the installed package', async () => {
      process.env.FASHION_MNIST_DIR = writeFixtureDir();
      const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256);
      expect(train_iter.dataset.length).toBe(10);
      expect(test_iter.dataset.length).toBe(5);
    });
  });

  describe('downloading (from a mirror on 127.0.0.1)', () => {
    let stderr: jest.SpyInstance;
    beforeEach(() => {
      stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    });
    afterEach(() => stderr.mockRestore());
    const raw = (root: string) => path.join(root, 'FashionMNIST', 'raw');

    test('missing files are downloaded into root/FashionMNIST/raw, checked (Debian recompressed them: SHA-256 of the content) and loaded', async () => {
      const served = tempDir();
      for (const name of NAMES) fs.symlinkSync(path.join(REAL, `${name}.gz`), path.join(served, `${name}.gz`));
      const mirror = await serve(served);
      try {
        const root = tempDir();
        const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256, { root, mirror: mirror.url });
        expect(train_iter.dataset.length).toBe(60000);
        expect(test_iter.dataset.length).toBe(10000);
        expect(mirror.requests.sort()).toEqual(NAMES.map((n) => `/${n}.gz`).sort());
        expect(fs.readdirSync(raw(root)).sort()).toEqual(NAMES.map((n) => `${n}.gz`).sort());
        for (const name of NAMES) {
          expect(fs.statSync(path.join(raw(root), `${name}.gz`)).size).toBe(fs.statSync(path.join(REAL, `${name}.gz`)).size);
        }
        const printed = stderr.mock.calls.map((args) => args.join(' ')).join('\n');
        expect(printed).toContain(`Downloading ${mirror.url}train-images-idx3-ubyte.gz`);
        expect(printed).toContain('Downloaded train-images-idx3-ubyte.gz (26.4 MB)');

        // Once downloaded, the files are found there: no more requests.
        const [again] = await d2l.load_data_fashion_mnist(256, { root, mirror: mirror.url });
        expect(again.dataset.length).toBe(60000);
        expect(mirror.requests).toHaveLength(4);
      } finally {
        await mirror.close();
      }
    });

    test('only the files still missing are downloaded; a mirror URL without a trailing slash works', async () => {
      const served = tempDir();
      for (const name of NAMES) fs.symlinkSync(path.join(REAL, `${name}.gz`), path.join(served, `${name}.gz`));
      const mirror = await serve(served);
      try {
        const root = tempDir();
        fs.mkdirSync(raw(root), { recursive: true });
        for (const name of ['train-labels-idx1-ubyte', 't10k-labels-idx1-ubyte']) {
          fs.copyFileSync(path.join(REAL, `${name}.gz`), path.join(raw(root), `${name}.gz`));
        }
        const [train_iter] = await d2l.load_data_fashion_mnist(256, { root, mirror: mirror.url.replace(/\/$/, '') });
        expect(train_iter.dataset.length).toBe(60000);
        expect(mirror.requests.sort()).toEqual(['/t10k-images-idx3-ubyte.gz', '/train-images-idx3-ubyte.gz']);
      } finally {
        await mirror.close();
      }
    });

    test('$FASHION_MNIST_MIRROR sets the mirror', async () => {
      const mirror = await serve(tempDir());
      const saved = process.env.FASHION_MNIST_MIRROR;
      process.env.FASHION_MNIST_MIRROR = mirror.url;
      try {
        const message = await failure(d2l.load_data_fashion_mnist(256, { root: tempDir() }));
        expect(message).toContain(`downloading from ${mirror.url}`);
        expect(mirror.requests).toEqual(['/train-images-idx3-ubyte.gz']);
      } finally {
        if (saved === undefined) delete process.env.FASHION_MNIST_MIRROR;
        else process.env.FASHION_MNIST_MIRROR = saved;
        await mirror.close();
      }
    });

    describe('EXPECTED FAILURE', () => {
      test('a file that is not the published one: checksum mismatch, and nothing kept', async () => {
        const served = tempDir();
        writeFixture(served, {}, true);
        const mirror = await serve(served);
        try {
          const root = tempDir();
          const message = await failure(d2l.load_data_fashion_mnist(256, { root, mirror: mirror.url }));
          expect(message).toMatch(/checksum mismatch/);
          expect(message).toContain(`${mirror.url}train-images-idx3-ubyte.gz: checksum mismatch`);
          expect(fs.readdirSync(raw(root))).toEqual([]);
        } finally {
          await mirror.close();
        }
      });

      test('HTTP 404: an Error naming the URL and the status', async () => {
        const mirror = await serve(tempDir());
        try {
          const message = await failure(d2l.load_data_fashion_mnist(256, { root: tempDir(), mirror: mirror.url }));
          expect(message).toMatch(/HTTP 404/);
          expect(message).toContain(`GET ${mirror.url}train-images-idx3-ubyte.gz: HTTP 404`);
        } finally {
          await mirror.close();
        }
      });

      test('nothing listening: an Error listing every place searched, the mirror, the apt package and FASHION_MNIST_DIR', async () => {
        const url = await closedPort();
        const root = tempDir();
        const message = await failure(d2l.load_data_fashion_mnist(256, { root, mirror: url }));
        for (const name of NAMES) expect(message).toContain(`${name}[.gz]`);
        expect(message).toContain(`${root} (root): no files`);
        expect(message).toContain(`${raw(root)} (root, d2l layout): no files`);
        expect(message).toContain(`downloading from ${url} into ${raw(root)} failed`);
        expect(message).toContain(`failed: GET ${url}train-images-idx3-ubyte.gz: fetch failed (connect ECONNREFUSED`);
        expect(message).toContain('apt-get install dataset-fashion-mnist');
        expect(message).toContain('FASHION_MNIST_DIR');
      });

      test('download: false: the same Error, and no request made', async () => {
        const mirror = await serve(tempDir());
        try {
          const root = tempDir();
          const message = await failure(d2l.load_data_fashion_mnist(256, { root, mirror: mirror.url, download: false }));
          expect(message).toContain(`${root} (root): no files`);
          expect(message).toContain(`${raw(root)} (root, d2l layout): no files`);
          expect(message).toContain('downloading is off (download: false)');
          expect(message).toContain('apt-get install dataset-fashion-mnist');
          expect(message).toContain('FASHION_MNIST_DIR');
          expect(mirror.requests).toEqual([]);
        } finally {
          await mirror.close();
        }
      });
    });
  });

  describe('EXPECTED FAILURE: a damaged file is an Error naming the file and the fault', () => {
    const train = 'train-images-idx3-ubyte';
    const labels = 'train-labels-idx1-ubyte';
    const cutGzip = (content: Buffer) => {
      const gz = zlib.gzipSync(content);
      return gz.subarray(0, gz.length - 10);
    };
    // [case, the file damaged (as it is named on disk), its content, the fault the message names]
    test.each([
      ['a truncated gzip file', `${train}.gz`, () => cutGzip(fixtureImages(10)), /not a valid gzip file \(unexpected end of file\)/],
      ['a bad magic number (a labels file in place of images)', train, () => fixtureLabels(10), /bad magic number 0x00000801, expected 0x00000803/],
      ['a bad magic number (not unsigned bytes)', labels, () => idx([10], new Uint8Array(10), 0x00000c01), /bad magic number 0x00000c01, expected 0x00000801/],
      ['a header cut short', train, () => idx([10, 28, 28], new Uint8Array(0)).subarray(0, 10), /truncated: the IDX header needs 16 bytes, the file has 10/],
      ['too short for any header', labels, () => Buffer.from([0, 0]), /truncated: 2 bytes/],
      ['images of 27x28', train, () => fixtureImages(10, 27, 28), /wrong dimensions \[10, 27, 28\], expected \[N, 28, 28\]/],
      ['fewer bytes than the header promises', train, () => fixtureImages(10).subarray(0, 16 + 9 * 784 + 100), /truncated: the header promises 7840 bytes of data \(\[10, 28, 28\]\) but the file holds 7156/],
      ['fewer bytes than the header promises, gzipped', `${train}.gz`, () => zlib.gzipSync(fixtureImages(10).subarray(0, 5000)), /truncated: the header promises 7840 bytes/],
      ['more bytes than the header promises', labels, () => Buffer.concat([fixtureLabels(10), Buffer.from([1])]), /corrupt: the header promises 10 bytes/],
      ['a label above 9', labels, () => idx([10], Uint8Array.from([0, 1, 2, 10, 4, 5, 6, 7, 8, 9])), /label 10 at index 3 is not a class 0\.\.9/],
    ])('%s', async (_, name, content, fault) => {
      const root = tempDir();
      writeFixture(root);
      const file = path.join(root, name);
      fs.rmSync(file.replace(/\.gz$/, ''));
      fs.writeFileSync(file, content());
      const message = await failure(d2l.load_data_fashion_mnist(256, { root, download: false }));
      expect(message).toContain(file);
      expect(message).toMatch(fault);
    });

    test('a gzip bomb (a 10-label header, then 2 GB of zeros in 2 MB): rejected as soon as the data runs past the header, having inflated little of it', async () => {
      const root = tempDir();
      writeFixture(root);
      const file = path.join(root, `${labels}.gz`);
      fs.rmSync(path.join(root, labels));
      // A gzip file may hold several members; each of these inflates to 16 MB.
      const zeros = zlib.gzipSync(Buffer.alloc(16 << 20));
      fs.writeFileSync(file, Buffer.concat([zlib.gzipSync(fixtureLabels(10)), ...new Array(128).fill(zeros)]));
      // Count what the loader inflates (zlib's streams hand each chunk to push()).
      let inflated = 0;
      const proto = zlib.Gunzip.prototype as unknown as { push(chunk: Buffer | null, encoding?: BufferEncoding): boolean };
      const push = proto.push;
      proto.push = function (chunk, encoding) {
        if (chunk) inflated += chunk.length;
        return push.call(this, chunk, encoding);
      };
      let message: string;
      try {
        message = await failure(d2l.load_data_fashion_mnist(256, { root, download: false }));
      } finally {
        delete (proto as { push?: unknown }).push;
      }
      expect(message).toBe(`${file}: corrupt: the header promises 10 bytes of data ([10]) but the file holds more`);
      expect(inflated).toBeLessThan(64 << 20); // of 2 GB
    });

    // [case, the file (as named on disk), its content, the fault the message names]
    test.each([
      ['an 8-byte labels file claiming 2^31 labels', labels, () => idx([2 ** 31], new Uint8Array(0)),
        /truncated: the header promises 2147483648 bytes of data \(\[2147483648\]\) but the file holds 0$/],
      ['a 16-byte images file claiming 2^31 images', train, () => idx([2 ** 31, 28, 28], new Uint8Array(0)),
        /truncated: the header promises 1683627180032 bytes of data \(\[2147483648, 28, 28\]\) but the file holds 0$/],
      ['a gzip file too small to hold what its header claims', `${labels}.gz`, () => zlib.gzipSync(idx([2 ** 31], new Uint8Array(0))),
        /truncated: the header promises 2147483648 bytes of data \(\[2147483648\]\) but a gzip file of \d+ bytes holds at most \d+$/],
    ])('a header claiming more than the file can hold, checked before allocating: %s', async (_, name, content, fault) => {
      const root = tempDir();
      writeFixture(root);
      const file = path.join(root, name);
      fs.rmSync(file.replace(/\.gz$/, ''));
      fs.writeFileSync(file, content());
      let message = '';
      const m = await mainThreadDuring(async () => (message = await failure(d2l.load_data_fashion_mnist(256, { root, download: false }))));
      // Refused before a tensor for the claimed data was made (the other three files load as usual).
      const claimed = m.calls.filter((c) => c.name === 'empty' && (c.args[0] as number[])[0] === 2 ** 31);
      expect(claimed).toEqual([]);
      expect(message.startsWith(`${file}: `)).toBe(true);
      expect(message).toMatch(fault);
    });

    test('label and image counts that differ: both files named', async () => {
      const root = tempDir();
      const files = writeFixture(root, { 't10k-labels-idx1-ubyte': fixtureLabels(4) });
      const message = await failure(d2l.load_data_fashion_mnist(256, { root }));
      expect(message).toBe(
        `${files['t10k-images-idx3-ubyte']} holds 5 images but ${files['t10k-labels-idx1-ubyte']} holds 4 labels: the counts must match`,
      );
    });
  });

  describe('BAD CALL', () => {
    test.each([
      ['batch_size 0', () => d2l.load_data_fashion_mnist(0), RangeError, /Expected batch_size to be a positive integer but received 0 \(number\)/],
      ['batch_size -1', () => d2l.load_data_fashion_mnist(-1), RangeError, /batch_size/],
      ['batch_size 1.5', () => d2l.load_data_fashion_mnist(1.5), RangeError, /batch_size/],
      ["batch_size '256'", () => d2l.load_data_fashion_mnist('256' as never), TypeError, /Expected batch_size to be a positive integer but received '256' \(string\)/],
      ['no batch_size', () => (d2l.load_data_fashion_mnist as (...a: unknown[]) => Promise<unknown>)(), TypeError, /batch_size/],
      ['resize 0', () => d2l.load_data_fashion_mnist(256, { resize: 0 }), RangeError, /Expected resize to be a positive integer/],
      ['resize [1]', () => d2l.load_data_fashion_mnist(256, { resize: [1] as never }), RangeError, /Expected resize to be .*pair/],
      ['resize [28, 0]', () => d2l.load_data_fashion_mnist(256, { resize: [28, 0] }), RangeError, /resize\[1\]/],
      ['resize -1', () => d2l.load_data_fashion_mnist(256, { resize: -1 }), RangeError, /Expected resize to be a positive integer/],
      ['resize 10000', () => d2l.load_data_fashion_mnist(1, { resize: 10000 }), RangeError, /Expected resize to be at most 4096 pixels a side but received 10000/],
      ['resize 1.5', () => d2l.load_data_fashion_mnist(256, { resize: 1.5 }), RangeError, /Expected resize to be a positive integer but received 1.5/],
      ['resize NaN', () => d2l.load_data_fashion_mnist(256, { resize: NaN }), RangeError, /Expected resize to be a positive integer but received NaN/],
      ['resize 2048 at batch 512 (8 GiB a batch)', () => d2l.load_data_fashion_mnist(512, { resize: 2048 }), RangeError, /a batch of 512 to fit in 4 GiB \(this one would take 8\.0 GiB\)/],
      ["resize 'big'", () => d2l.load_data_fashion_mnist(256, { resize: 'big' as never }), TypeError, /resize/],
      ["device 'gpu'", () => d2l.load_data_fashion_mnist(256, { device: 'gpu' }), RangeError, /Expected device/],
      ['device 0', () => d2l.load_data_fashion_mnist(256, { device: 0 as never }), TypeError, /Expected device/],
      ['root a number', () => d2l.load_data_fashion_mnist(256, { root: 1 as never }), TypeError, /Expected root to be a folder path/],
      ['download a string', () => d2l.load_data_fashion_mnist(256, { download: 'no' as never }), TypeError, /Expected download to be a boolean/],
      ['mirror a number', () => d2l.load_data_fashion_mnist(256, { mirror: 80 as never }), TypeError, /Expected mirror to be a URL/],
      ['an unknown option', () => d2l.load_data_fashion_mnist(256, { batch_size: 256 } as never), TypeError, /unexpected keyword argument 'batch_size'/],
      ['resize as a second positional argument', () => d2l.load_data_fashion_mnist(256, 224 as never), TypeError, /Expected options to be an options object/],
    ])('%s', async (_, call, type, message) => {
      await expect(call()).rejects.toThrow(type);
      await expect(call()).rejects.toThrow(message);
    });
  });
});

/** A fresh folder holding the small fixture (plain files). */
function writeFixtureDir(): string {
  const dir = tempDir();
  writeFixture(dir);
  return dir;
}
