#!/usr/bin/env node
// One trial of the benchmark (test/bench/run.js): the chapter's LeNet in TensorFlow.js on its pure-JS cpu backend
// (tfjs-node cannot install offline; the wasm backend cannot train conv nets), then one JSON line on stdout.
//
//   node test/bench/tfjs_lenet.js --epochs 1 [--examples N] [--data DIR] [--seed N]
//
// The net of the chapter's TensorFlow tab (NHWC): conv 6@5x5 'same' sigmoid, avg pool 2/2, conv 16@5x5 'valid'
// sigmoid, avg pool 2/2, flatten, dense 120 / 84 sigmoid, dense 10; Glorot-uniform kernels, zero biases (Keras'
// defaults); SGD(0.9) on the mean softmax cross-entropy of the logits. The loop is train_ch6's: each epoch shuffles
// the training set, gathers 256-example batches (timed: batching is part of an epoch), steps, and sums the loss
// and correct predictions; the test set is evaluated after each epoch (not timed). The cpu backend is
// single-threaded JavaScript: --threads is recorded, not used.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { parseArgs } = require('node:util');
const zlib = require('node:zlib');

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '1' },
    threads: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    data: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    seed: { type: 'string' },
    'batch-size': { type: 'string', default: '256' },
    lr: { type: 'string', default: '0.9' },
    // Examples trained per epoch: the first N of each epoch's shuffled order (default: all 60,000). The cpu
    // backend trains about 10 examples/sec here (its Conv2DBackpropFilter is plain loops), so an epoch takes hours.
    examples: { type: 'string' },
  },
});

const tf = require('@tensorflow/tfjs');

/** An IDX file of unsigned bytes (plain or .gz, in dir or dir/FashionMNIST/raw): [dims, bytes]. */
function readIdx(dir, name) {
  const candidates = [dir, path.join(dir, 'FashionMNIST', 'raw')].flatMap((d) => [path.join(d, `${name}.gz`), path.join(d, name)]);
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new Error(`${name}[.gz] not found in ${dir}`);
  let bytes = fs.readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = zlib.gunzipSync(bytes);
  const ndim = bytes[3];
  const dims = Array.from({ length: ndim }, (_, i) => bytes.readUInt32BE(4 + 4 * i));
  return [dims, bytes.subarray(4 + 4 * ndim)];
}

function loadSplit(dir, prefix) {
  const [[n, h, w], pixels] = readIdx(dir, `${prefix}-images-idx3-ubyte`);
  const [, labels] = readIdx(dir, `${prefix}-labels-idx1-ubyte`);
  // ToTensor's scaling, done once up front as lenet-torch's loader does per batch (cheap either way).
  const x = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) x[i] = pixels[i] / 255;
  return { n, h, w, x, y: Int32Array.from(labels) };
}

function lenet(seed) {
  const init = (i) => tf.initializers.glorotUniform(seed === undefined ? {} : { seed: seed * 10 + i });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: 'same', activation: 'sigmoid', kernelInitializer: init(0) }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'sigmoid', kernelInitializer: init(1) }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: 'sigmoid', kernelInitializer: init(2) }),
      tf.layers.dense({ units: 84, activation: 'sigmoid', kernelInitializer: init(3) }),
      tf.layers.dense({ units: 10, kernelInitializer: init(4) }),
    ],
  });
}

/** Examples [begin, end) of `order` as an NHWC batch and its labels. */
function batch(split, order, begin, end) {
  const B = end - begin;
  const size = split.h * split.w;
  const x = new Float32Array(B * size);
  const y = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    const j = order ? order[begin + i] : begin + i;
    x.set(split.x.subarray(j * size, (j + 1) * size), i * size);
    y[i] = split.y[j];
  }
  return [tf.tensor4d(x, [B, split.h, split.w, 1]), tf.tensor1d(y, 'int32')];
}

function evaluate(net, split, batch_size) {
  let correct = 0;
  for (let b = 0; b < split.n; b += batch_size) {
    const [X, y] = batch(split, null, b, Math.min(b + batch_size, split.n));
    correct += tf.tidy(() => net.predict(X).argMax(1).equal(y).sum().dataSync()[0]);
    tf.dispose([X, y]);
  }
  return correct / split.n;
}

async function main() {
  const num_epochs = Number(values.epochs);
  const batch_size = Number(values['batch-size']);
  const lr = Number(values.lr);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (values.device !== 'cpu') throw new Error(`tfjs runs here on its cpu backend only, not on ${values.device}`);
  await tf.setBackend('cpu');
  await tf.ready();

  const t0 = performance.now();
  const train = loadSplit(values.data, 'train');
  const test = loadSplit(values.data, 't10k');
  const load_seconds = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  const net = lenet(seed);
  const optimizer = tf.train.sgd(lr);
  const epoch_seconds = [];
  let train_l = NaN;
  let train_acc = NaN;
  let test_acc = NaN;
  const order = new Int32Array(train.n);
  const per_epoch = values.examples === undefined ? train.n : Math.min(train.n, Number(values.examples));
  for (let epoch = 0; epoch < num_epochs; epoch++) {
    const start = performance.now();
    for (let i = 0; i < train.n; i++) order[i] = i;
    tf.util.shuffle(order);
    let loss_sum = 0;
    let correct = 0;
    let count = 0;
    for (let b = 0; b < per_epoch; b += batch_size) {
      const [X, y] = batch(train, order, b, Math.min(b + batch_size, per_epoch));
      const n = y.shape[0];
      // minimize() returns the loss; the logits for the accuracy come from the same forward pass's tape.
      let logits;
      const l = optimizer.minimize(() => {
        logits = tf.keep(net.apply(X, { training: true }));
        return tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), logits);
      }, true);
      loss_sum += l.dataSync()[0] * n;
      correct += tf.tidy(() => logits.argMax(1).equal(y).sum().dataSync()[0]);
      count += n;
      tf.dispose([X, y, l, logits]);
    }
    epoch_seconds.push((performance.now() - start) / 1000);
    [train_l, train_acc] = [loss_sum / count, correct / count];
    test_acc = evaluate(net, test, batch_size);
  }
  const train_ch6_seconds = (performance.now() - t1) / 1000;

  const train_seconds = epoch_seconds.reduce((a, b) => a + b, 0);
  const examples = per_epoch * num_epochs;
  console.log(JSON.stringify({
    peer: 'tfjs',
    examples_per_sec: examples / train_seconds,
    train_seconds,
    epoch_seconds,
    train_ch6_seconds,
    load_seconds,
    wall_seconds: performance.now() / 1000,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    loss: train_l,
    train_acc,
    test_acc,
    epochs: num_epochs,
    examples,
    examples_per_epoch: per_epoch,
    batch_size,
    lr,
    threads: 1,
    device: `cpu (tfjs ${tf.getBackend()} backend)`,
    versions: { node: process.version, tfjs: tf.version.tfjs },
  }));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
