// d2l.load_data_mnist: MNIST through Fashion-MNIST's loader (lib/d2l/idx_data.ts), with MNIST's checksums, mirror and
// search places. Fixtures are small IDX files written here; the real files are used where present ($MNIST_DIR or d2l's
// ../data/MNIST/raw), and those cases skip with the reason otherwise (no Debian package ships MNIST).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { d2l, torch } from '../lib';
import { failure, first, IDX_NAMES, idx, labelsOf, serve, tempDirs, writeIdxFiles } from './idx-files';

const NAMES = IDX_NAMES;
const hasAll = (dir: string | undefined): dir is string =>
  !!dir && NAMES.every((n) => fs.existsSync(path.join(dir, `${n}.gz`)) || fs.existsSync(path.join(dir, n)));
const REAL = [process.env.MNIST_DIR, path.resolve('..', 'data', 'MNIST', 'raw')].find(hasAll);
const REAL_GZ = REAL && NAMES.every((n) => fs.existsSync(path.join(REAL, `${n}.gz`))) ? REAL : undefined;
if (!REAL) {
  console.warn('test/mnist.test.ts: the real MNIST files were not found ($MNIST_DIR, ../data/MNIST/raw): those cases skip.');
}

const tempDir = tempDirs('lenet-mnist-');

// Nothing here may reach the internet or the user's download cache.
const savedEnv = { MNIST_DIR: process.env.MNIST_DIR, MNIST_MIRROR: process.env.MNIST_MIRROR, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
beforeEach(() => {
  delete process.env.MNIST_DIR;
  process.env.XDG_CACHE_HOME = tempDir();
});
afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** Image i is uniformly 255 - i * 25 (a digit's stroke is bright); its label is (i * 3) % 10. */
const images = (n: number) => idx([n, 28, 28], Uint8Array.from({ length: n * 784 }, (_, k) => 255 - Math.floor(k / 784) * 25));
const labels = (n: number) => idx([n], Uint8Array.from({ length: n }, (_, i) => (i * 3) % 10));

/** 7 training and 3 test examples in dir, plain or gzipped; `replace` swaps one file's content. */
function writeFixture(dir: string, gzip = false, replace: Record<string, Buffer> = {}): Record<string, string> {
  return writeIdxFiles(dir, {
    'train-images-idx3-ubyte': images(7), 'train-labels-idx1-ubyte': labels(7),
    't10k-images-idx3-ubyte': images(3), 't10k-labels-idx1-ubyte': labels(3), ...replace,
  }, gzip);
}

describe('d2l.load_data_mnist()', () => {
  describe('fixtures (small IDX files)', () => {
    test.each([['plain', false], ['gzipped', true]])('%s files in root: counts, shapes, dtypes, values in [0, 1], labels', async (_, gzip) => {
      const root = tempDir();
      writeFixture(root, gzip as boolean);
      const [train_iter, test_iter] = await d2l.load_data_mnist(4, { root, download: false });
      expect(train_iter.dataset.length).toBe(7);
      expect(test_iter.dataset.length).toBe(3);
      expect(train_iter.length).toBe(2); // the last partial batch kept
      const [X, y] = first(test_iter);
      expect(X.shape).toEqual([3, 1, 28, 28]);
      expect(X.dtype).toBe(torch.float32);
      expect(y.dtype).toBe(torch.int64);
      expect(labelsOf(y)).toEqual([0, 3, 6]);
      (X.mean([1, 2, 3]).tolist() as number[]).forEach((v, i) => expect(v).toBeCloseTo((255 - i * 25) / 255, 6));
      const seen = [...train_iter].flatMap(([, yb]) => labelsOf(yb)).sort();
      expect(seen).toEqual([0, 2, 3, 5, 6, 8, 9]); // shuffled, but every example once
    });

    test('resize and device, as load_data_fashion_mnist', async () => {
      const root = tempDir();
      writeFixture(root, true);
      const [, test_iter] = await d2l.load_data_mnist(2, { root, resize: 32, device: 'cpu' });
      expect(first(test_iter)[0].shape).toEqual([2, 1, 32, 32]);
    });

    test("root in d2l's layout: root/MNIST/raw (torchvision.datasets.MNIST(root='../data'))", async () => {
      const root = tempDir();
      writeFixture(path.join(root, 'MNIST', 'raw'), true);
      const [train_iter] = await d2l.load_data_mnist(256, { root, download: false });
      expect(train_iter.dataset.length).toBe(7);
    });

    test('$MNIST_DIR is searched (without root)', async () => {
      process.env.MNIST_DIR = tempDir();
      writeFixture(process.env.MNIST_DIR, true);
      const [train_iter, test_iter] = await d2l.load_data_mnist(256, { download: false });
      expect(train_iter.dataset.length).toBe(7);
      expect(test_iter.dataset.length).toBe(3);
    });

    test('the download cache is searched last: ~/.cache/lenet-torch/mnist (under $XDG_CACHE_HOME)', async () => {
      writeFixture(path.join(process.env.XDG_CACHE_HOME!, 'lenet-torch', 'mnist'), true);
      const [train_iter] = await d2l.load_data_mnist(256, { download: false });
      // $MNIST_DIR is unset here; ../data/MNIST/raw, where it holds the real files, comes first.
      expect(train_iter.dataset.length).toBe(hasAll(path.resolve('..', 'data', 'MNIST', 'raw')) ? 60000 : 7);
    });
  });

  describe('EXPECTED FAILURE', () => {
    test('root missing a file, download: false: an Error naming MNIST, each place searched and what is missing', async () => {
      const root = tempDir();
      const files = writeFixture(root);
      fs.rmSync(files['t10k-labels-idx1-ubyte']);
      const message = await failure(d2l.load_data_mnist(256, { root, download: false }));
      expect(message).toMatch(/^MNIST was not found/);
      expect(message).toContain(`${root} (root): missing t10k-labels-idx1-ubyte`);
      expect(message).toContain(`${path.join(root, 'MNIST', 'raw')} (root, d2l layout): no files`);
      expect(message).toContain('downloading is off (download: false)');
      expect(message).toContain('set MNIST_DIR to it');
      expect(message).not.toContain('apt-get'); // no Debian package ships MNIST
    });

    test('without root: $MNIST_DIR, ../data/MNIST/raw and the cache are listed, and nothing from Fashion-MNIST', async () => {
      if (hasAll(path.resolve('..', 'data', 'MNIST', 'raw'))) return; // d2l's folder holds them: nothing fails
      process.env.MNIST_DIR = tempDir();
      const message = await failure(d2l.load_data_mnist(256, { download: false }));
      expect(message).toContain(`${process.env.MNIST_DIR} ($MNIST_DIR): no files`);
      expect(message).toContain(`${path.resolve('..', 'data', 'MNIST', 'raw')} (d2l's ../data): no files`);
      expect(message).toContain(`${path.join(process.env.XDG_CACHE_HOME!, 'lenet-torch', 'mnist')} (download cache): no files`);
      expect(message).not.toMatch(/fashion/i);
    });

    test.each([
      ['a truncated gzip file', 'train-images-idx3-ubyte.gz', () => { const gz = zlib.gzipSync(images(7)); return gz.subarray(0, gz.length - 10); }, /not a valid gzip file/],
      ['a bad magic number', 'train-labels-idx1-ubyte', () => images(7), /bad magic number 0x00000803, expected 0x00000801/],
      ['fewer bytes than the header promises', 'train-images-idx3-ubyte', () => images(7).subarray(0, 1000), /truncated: the header promises 5488 bytes/],
      ['a label above 9', 't10k-labels-idx1-ubyte', () => idx([3], Uint8Array.from([1, 12, 3])), /label 12 at index 1 is not a class 0\.\.9/],
      ['counts that differ', 't10k-labels-idx1-ubyte', () => labels(4), /holds 3 images but .* holds 4 labels/],
    ])('a damaged file (%s): an Error naming the file and the fault', async (_, name, content, fault) => {
      const root = tempDir();
      writeFixture(root);
      const file = path.join(root, name);
      fs.rmSync(file.replace(/\.gz$/, ''));
      fs.writeFileSync(file, content());
      const message = await failure(d2l.load_data_mnist(256, { root, download: false }));
      expect(message).toContain(file);
      expect(message).toMatch(fault);
    });

    test("a downloaded file that is not MNIST's published one: checksum mismatch, nothing kept", async () => {
      const served = tempDir();
      writeFixture(served, true);
      const mirror = await serve(served);
      const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const root = tempDir();
        const message = await failure(d2l.load_data_mnist(256, { root, mirror: mirror.url }));
        expect(message).toContain(`downloading from ${mirror.url} into ${path.join(root, 'MNIST', 'raw')} failed`);
        expect(message).toContain(`${mirror.url}train-images-idx3-ubyte.gz: checksum mismatch`);
        expect(fs.readdirSync(path.join(root, 'MNIST', 'raw'))).toEqual([]);
      } finally {
        stderr.mockRestore();
        await mirror.close();
      }
    });

    test('$MNIST_MIRROR sets the mirror (HTTP 404 names the URL)', async () => {
      const mirror = await serve(tempDir());
      process.env.MNIST_MIRROR = mirror.url;
      try {
        const message = await failure(d2l.load_data_mnist(256, { root: tempDir() }));
        expect(message).toContain(`GET ${mirror.url}train-images-idx3-ubyte.gz: HTTP 404`);
      } finally {
        delete process.env.MNIST_MIRROR;
        await mirror.close();
      }
    });
  });

  describe('BAD CALL', () => {
    test.each([
      ['batch_size 0', () => d2l.load_data_mnist(0), RangeError, /Expected batch_size to be a positive integer/],
      ['an unknown option', () => d2l.load_data_mnist(8, { rezise: 32 } as never), TypeError, /rezise/],
      ['resize -1', () => d2l.load_data_mnist(8, { resize: -1 }), RangeError, /resize/],
      ['root a number', () => d2l.load_data_mnist(8, { root: 1 as never }), TypeError, /Expected root to be a folder path/],
      ['download a string', () => d2l.load_data_mnist(8, { download: 'no' as never }), TypeError, /download/],
      ['mirror a number', () => d2l.load_data_mnist(8, { mirror: 1 as never }), TypeError, /Expected mirror to be a URL/],
    ])('%s', async (_, call, type, message) => {
      const error = await call().then(() => undefined, (e: Error) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    });
  });

  describe('the real data set', () => {
    const real = REAL ? test : test.skip;
    real(`60,000 and 10,000 digits; the published first labels (from ${REAL ?? 'nowhere: not found'})`, async () => {
      const [train_iter, test_iter] = await d2l.load_data_mnist(256, { root: REAL!, download: false });
      expect(train_iter.dataset.length).toBe(60000);
      expect(test_iter.dataset.length).toBe(10000);
      const [X, y] = first(test_iter);
      expect(X.shape).toEqual([256, 1, 28, 28]);
      expect(labelsOf(y).slice(0, 10)).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
      const [, ytrain] = first(new torch.utils.data.DataLoader(train_iter.dataset, { batch_size: 10 }));
      expect(labelsOf(ytrain)).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    });

    const realGz = REAL_GZ ? test : test.skip;
    realGz('the published .gz files pass the MD5 check when downloaded (from a mirror on 127.0.0.1)', async () => {
      const mirror = await serve(REAL_GZ!);
      const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const [train_iter] = await d2l.load_data_mnist(256, { root: tempDir(), mirror: mirror.url });
        expect(train_iter.dataset.length).toBe(60000);
        expect(mirror.requests).toHaveLength(4);
      } finally {
        stderr.mockRestore();
        await mirror.close();
      }
    });
  });
});
