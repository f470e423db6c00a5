/**
 * MNIST (the chapter's exercise 3: LeNet on the original handwritten digits) through the same loader as
 * Fashion-MNIST: the same file names and format, its own checksums, mirror and search places.
 */
import { DataLoader } from '../data';
import { checkArgCount, checkInt } from '../validate';
import { IdxDataSet, loadIdxDataSet, LoadIdxOptions } from './idx_data';

/** The mirror torchvision downloads MNIST from (yann.lecun.com, the original, now refuses most downloads). */
export const MNIST_MIRROR = 'https://ossci-datasets.s3.amazonaws.com/mnist/';

// No Debian package ships MNIST (Debian 12 has dataset-fashion-mnist only), so there is no system folder to search.
const MNIST: IdxDataSet = {
  name: 'MNIST',
  fn: 'load_data_mnist',
  d2lDir: 'MNIST',
  envDir: 'MNIST_DIR',
  envMirror: 'MNIST_MIRROR',
  mirror: MNIST_MIRROR,
  cache: 'mnist',
  // torchvision's MNIST.resources: MD5s of the published .gz files.
  files: {
    trainImages: { name: 'train-images-idx3-ubyte', dims: [28, 28], gzMd5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873' },
    trainLabels: { name: 'train-labels-idx1-ubyte', dims: [], gzMd5: 'd53e105ee54ea40749a09fcbcd1e9432' },
    testImages: { name: 't10k-images-idx3-ubyte', dims: [28, 28], gzMd5: '9fb629c4189551a2d022fa330f9573f3' },
    testLabels: { name: 't10k-labels-idx1-ubyte', dims: [], gzMd5: 'ec29112dd5afa0611ce80d1b7f02629c' },
  },
};

/** load_data_mnist's options: resize, root (searched alone, then root/MNIST/raw), device, download, mirror (default
 * $MNIST_MIRROR, else torchvision's mirror). */
export type LoadMnistOptions = LoadIdxOptions;

/**
 * Loads MNIST as load_data_fashion_mnist loads Fashion-MNIST (d2l's exercise 3 swaps torchvision.datasets.MNIST in):
 * resolves to [train_iter, test_iter], DataLoaders of 60,000 and 10,000 handwritten digits; X float32
 * [B, 1, 28, 28] in [0, 1], y int64 [B] (the digit); the training set reshuffled on every pass, the test set in order.
 *
 * It looks in `root` when given (only there, then root/MNIST/raw); else $MNIST_DIR, d2l's ../data/MNIST/raw and the
 * download cache (~/.cache/lenet-torch/mnist); where none holds the files it downloads them from the mirror into the
 * cache (or root/MNIST/raw), checking the published MD5s.
 * @example const [train_iter, test_iter] = await d2l.load_data_mnist(256);
 * @throws RangeError / TypeError for a bad batch_size or option; rejects with an Error that lists every place
 *   searched when the files cannot be found or downloaded, or that names the file and the fault when one is damaged.
 */
export async function load_data_mnist(batch_size: number, options: LoadMnistOptions = {}): Promise<[DataLoader, DataLoader]> {
  checkArgCount('load_data_mnist', arguments.length, 2);
  checkInt('batch_size', batch_size, { min: 1 });
  return loadIdxDataSet(MNIST, batch_size, options);
}
