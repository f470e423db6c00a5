/**
 * Fashion-MNIST as d2l.load_data_fashion_mnist gives it: the real IDX files, found on disk or downloaded once,
 * decoded into native memory and batched natively.
 */
import { DataLoader } from '../data';
import { Tensor } from '../tensor';
import { checkArgCount, checkInt, invalidType, invalidValue } from '../validate';
import { IdxDataSet, loadIdxDataSet, LoadIdxOptions } from './idx_data';

/** Zalando's published mirror (the one torchvision and d2l download from). */
export const FASHION_MNIST_MIRROR = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

const FASHION_MNIST: IdxDataSet = {
  name: 'Fashion-MNIST',
  fn: 'load_data_fashion_mnist',
  d2lDir: 'FashionMNIST',
  envDir: 'FASHION_MNIST_DIR',
  envMirror: 'FASHION_MNIST_MIRROR',
  mirror: FASHION_MNIST_MIRROR,
  cache: 'fashion-mnist',
  debian: { pkg: 'dataset-fashion-mnist', dir: '/usr/share/datasets/fashion-mnist' },
  // SHA-256 of the content too: Debian recompressed the files, so their .gz MD5s differ from Zalando's.
  files: {
    trainImages: {
      name: 'train-images-idx3-ubyte', dims: [28, 28], gzMd5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
    },
    trainLabels: {
      name: 'train-labels-idx1-ubyte', dims: [], gzMd5: '25c81989df183df01b3e8a0aad5dffbe',
      sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
    },
    testImages: {
      name: 't10k-images-idx3-ubyte', dims: [28, 28], gzMd5: 'bef4ecab320f06d8554ea6380940ec79',
      sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
    },
    testLabels: {
      name: 't10k-labels-idx1-ubyte', dims: [], gzMd5: 'bb300cfdad3c16e7a12a480ee83cd310',
      sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    },
  },
};

const TEXT_LABELS = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot'];

/**
 * The text labels of Fashion-MNIST class indices, as d2l.get_fashion_mnist_labels.
 * @example d2l.get_fashion_mnist_labels([0, 9]) // ['t-shirt', 'ankle boot']
 * @throws TypeError for a non-iterable or non-numeric label; RangeError for an index outside 0..9.
 */
export function get_fashion_mnist_labels(labels: Tensor | Iterable<number>): string[] {
  checkArgCount('get_fashion_mnist_labels', arguments.length, 1);
  const values = labels instanceof Tensor ? labels.tolist() : labels;
  const list = typeof values === 'number' ? [values] : values;
  if (list === null || typeof list !== 'object' || typeof (list as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalidType('labels', 'a Tensor or an iterable of class indices', labels);
  }
  return [...(list as Iterable<unknown>)].map((v, i) => {
    const c = checkInt(`labels[${i}]`, v, { min: 0, expected: 'a class index 0..9' });
    if (c >= TEXT_LABELS.length) throw invalidValue(`labels[${i}]`, 'a class index 0..9', v);
    return TEXT_LABELS[c];
  });
}

/** load_data_fashion_mnist's options: resize, root (searched alone, then root/FashionMNIST/raw), device, download,
 * mirror (default $FASHION_MNIST_MIRROR, else Zalando's mirror). */
export type LoadFashionMnistOptions = LoadIdxOptions;

/**
 * Loads Fashion-MNIST, as d2l.load_data_fashion_mnist(batch_size, resize): resolves to [train_iter, test_iter],
 * DataLoaders of 60,000 and 10,000 examples; X float32 [B, 1, 28, 28] in [0, 1], y int64 [B]; the last partial
 * batch kept; the training set reshuffled on every pass (seeded by torch.manual_seed), the test set in order.
 *
 * Asynchronous (it reads and decompresses the files off the main thread). It looks for the files in `root` when
 * given (only there); else $FASHION_MNIST_DIR, d2l's ../data/FashionMNIST/raw, Debian's dataset-fashion-mnist
 * (/usr/share/datasets/fashion-mnist) and the download cache (~/.cache/lenet-torch/fashion-mnist); where none holds
 * them it downloads them from the published mirror into the cache (or root), checking their checksums.
 * @example const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256);
 * @throws RangeError / TypeError for a bad batch_size or option; rejects with an Error that lists every place
 *   searched when the files cannot be found or downloaded, or that names the file and the fault when one is damaged.
 */
export async function load_data_fashion_mnist(
  batch_size: number,
  options: LoadFashionMnistOptions = {},
): Promise<[DataLoader, DataLoader]> {
  checkArgCount('load_data_fashion_mnist', arguments.length, 2);
  checkInt('batch_size', batch_size, { min: 1 });
  return loadIdxDataSet(FASHION_MNIST, batch_size, options);
}
