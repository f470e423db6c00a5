#!/usr/bin/env node
// A section of d2l's "Modern Convolutional Neural Networks" (PyTorch tab), run as the book runs it:
//   npm run chapter7 -- <net> [--epochs N] [--lr X] [--batch-size N] [--resize N] [--device cpu|cuda] [--plot FILE]
//                             [--limit N] [--test-limit N]
// <net>: alexnet, vgg, nin, googlenet, batchnorm (the section's from-scratch BatchNorm), batchnorm-concise (its
// nn.BatchNorm2d version), resnet, densenet. Defaults are the section's (scripts/chapter7-nets.js: NETS): its lr,
// batch size, resize and 10 epochs, on d2l.try_gpu() (CUDA when torch.cuda.is_available()). It prints what the section
// prints before training (the shape table of `for layer in net: X = layer(X); print(...)` on the section's X, or
// the shapes of its blocks), then train_ch6's lines, and writes train_ch6's figure (default chapter7-<net>.svg).
// --limit N trains on the first N training examples only (torch.utils.data.Subset), so that a CPU run takes
// minutes; --test-limit N evaluates on the first N test examples only (at 224 pixels, evaluating the whole test set
// takes the CPU minutes per epoch). A bad option prints the usage and exits with code 2.
'use strict';
const { parseArgs } = require('node:util');
const { torch, d2l } = require('lenet-torch');
const { DataLoader, Subset } = torch.utils.data;
const chapter = require('./chapter7-nets');
const { NETS } = chapter;

const USAGE = `usage: npm run chapter7 -- <${Object.keys(NETS).join('|')}> [--epochs N] [--lr X] [--batch-size N] ` +
  '[--resize N] [--device cpu|cuda[:N]] [--plot FILE] [--limit N] [--test-limit N]';

/** A bad command line is the user's mistake, not a crash: its message and the usage, exit code 2. */
function usageError(message) {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function positiveInt(name, text) {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) usageError(`Expected --${name} to be a positive integer but received ${text}`);
  return n;
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        epochs: { type: 'string' },
        lr: { type: 'string' },
        'batch-size': { type: 'string' },
        resize: { type: 'string' },
        device: { type: 'string' },
        plot: { type: 'string' },
        limit: { type: 'string' },
        'test-limit': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    usageError(error.message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1) usageError(`Expected one net but received ${positionals.length ? positionals.join(' ') : 'none'}`);
  const name = positionals[0];
  if (!Object.hasOwn(NETS, name)) usageError(`Expected the net to be one of ${Object.keys(NETS).join(', ')} but received ${name}`);
  const section = NETS[name];
  const lr = values.lr === undefined ? section.lr : Number(values.lr);
  if (!(lr > 0) || !Number.isFinite(lr)) usageError(`Expected --lr to be a positive number but received ${values.lr}`);
  if (values.device !== undefined && !/^(cpu|cuda(:\d+)?)$/.test(values.device)) {
    usageError(`Expected --device to be cpu, cuda or cuda:N but received ${values.device}`);
  }
  if (values.plot === '') usageError('Expected --plot to be a file name but received an empty string');
  return {
    name,
    make: section.make,
    num_epochs: values.epochs === undefined ? section.num_epochs : positiveInt('epochs', values.epochs),
    lr,
    batch_size: values['batch-size'] === undefined ? section.batch_size : positiveInt('batch-size', values['batch-size']),
    resize: values.resize === undefined ? section.resize : positiveInt('resize', values.resize),
    device: values.device ?? d2l.try_gpu(),
    plot: values.plot ?? `chapter7-${name}.svg`,
    limit: values.limit === undefined ? null : positiveInt('limit', values.limit),
    test_limit: values['test-limit'] === undefined ? null : positiveInt('test-limit', values['test-limit']),
  };
}

/** The book's `for layer in net: X = layer(X); print(layer.__class__.__name__, 'output shape:\t', X.shape)`. */
function shapes(net, X) {
  for (const layer of net) {
    X = layer.forward(X);
    console.log(layer.constructor.name, 'output shape:\t', X.shape);
  }
}

// What each section prints before it trains, on the X it builds. (The batch-norm section prints nothing before.)
const BEFORE = {
  alexnet: (net) => shapes(net, torch.randn(1, 1, 224, 224)),
  // The section prints the table of VGG-11 itself, then trains the smaller net.
  vgg: () => shapes(chapter.vgg(chapter.conv_arch), torch.randn({ size: [1, 1, 224, 224] })),
  nin: (net) => shapes(net, torch.rand({ size: [1, 1, 224, 224] })),
  googlenet: (net) => shapes(net, torch.rand({ size: [1, 1, 96, 96] })),
  resnet: (net) => {
    let blk = new chapter.Residual(3, 3);
    const X = torch.rand(4, 3, 6, 6);
    console.log(blk.forward(X).shape);
    blk = new chapter.Residual(3, 6, true, 2);
    console.log(blk.forward(X).shape);
    shapes(net, torch.rand({ size: [1, 1, 224, 224] }));
  },
  densenet: () => {
    let blk = new chapter.DenseBlock(2, 3, 10);
    const X = torch.randn(4, 3, 8, 8);
    const Y = blk.forward(X);
    console.log(Y.shape);
    blk = chapter.transition_block(23, 10);
    console.log(blk.forward(Y).shape);
  },
};

// What it prints after: the batch-norm section looks at the scale and shift its first BatchNorm learned.
const AFTER = {
  batchnorm: (net) => console.log(net[1].gamma.reshape([-1]), net[1].beta.reshape([-1])),
};

/** A loader over the first n examples of a loader's data set (torch.utils.data.Subset), batched as it is. */
function first(loader, n, option, shuffle) {
  const examples = loader.dataset.length;
  if (n > examples) usageError(`Expected --${option} to be at most the ${examples} examples there are but received ${n}`);
  const indices = Array.from({ length: n }, (_, i) => i);
  return new DataLoader(new Subset(loader.dataset, indices), { batch_size: loader.batch_size, shuffle });
}

async function main() {
  const o = options();
  const net = o.make();
  BEFORE[o.name]?.(net);

  const [train_all, test_all] = await d2l.load_data_fashion_mnist(o.batch_size, o.resize ? { resize: o.resize } : {});
  const train_iter = o.limit === null ? train_all : first(train_all, o.limit, 'limit', true);
  const test_iter = o.test_limit === null ? test_all : first(test_all, o.test_limit, 'test-limit', false);

  await d2l.train_ch6(net, train_iter, test_iter, o.num_epochs, o.lr, o.device, { plot: o.plot });
  AFTER[o.name]?.(net);
  console.log(`plot written to ${o.plot}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
