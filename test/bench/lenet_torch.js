#!/usr/bin/env node
// One trial of the benchmark (test/bench/run.js): the chapter in lenet-torch, as scripts/lenet.js runs it, then one
// JSON line on stdout. Run by the runner in its own process, so that peak RSS is this trial's.
//
//   node test/bench/lenet_torch.js --epochs 10 --threads 2 --device cpu [--data DIR] [--seed N]
//
// examples/sec: training examples / the sum of train_ch6's per-epoch training time (history[].seconds: whole
// epochs, batching included, evaluation excluded). wall_seconds: from process start (module and data loading in).
'use strict';

const { performance } = require('node:perf_hooks');
const { parseArgs } = require('node:util');
const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '10' },
    threads: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    data: { type: 'string' },
    seed: { type: 'string' },
    'batch-size': { type: 'string', default: '256' },
    lr: { type: 'string', default: '0.9' },
  },
});

const { torch, d2l } = require('../..');
const { lenet } = require('./chapter');

async function main() {
  const num_epochs = Number(values.epochs);
  const batch_size = Number(values['batch-size']);
  const lr = Number(values.lr);
  if (values.threads !== undefined) torch.set_num_threads(Number(values.threads));
  if (values.seed !== undefined) torch.manual_seed(Number(values.seed));
  // The runner's cpu | cuda; on cuda, the chapter's own choice: d2l.try_gpu(), i.e. cuda:0.
  const device = values.device === 'cuda' ? d2l.try_gpu() : values.device;
  if (values.device === 'cuda' && !String(device).startsWith('cuda')) {
    throw new Error('--device cuda, but d2l.try_gpu() found no CUDA device (is lenet-torch built against a CUDA libtorch?)');
  }

  const net = lenet();

  const t0 = performance.now();
  const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(batch_size, values.data ? { root: values.data } : {});
  const load_seconds = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  const result = await d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, device, { verbose: false });
  const train_ch6_seconds = (performance.now() - t1) / 1000;

  const train_seconds = result.history.reduce((sum, row) => sum + row.seconds, 0);
  const examples = train_iter.dataset.length * num_epochs;
  console.log(JSON.stringify({
    peer: 'lenet-torch',
    examples_per_sec: examples / train_seconds,
    d2l_examples_per_sec: result.examples_per_sec,
    train_seconds,
    epoch_seconds: result.history.map((row) => row.seconds),
    train_ch6_seconds,
    load_seconds,
    // performance.now() counts from the process's start.
    wall_seconds: performance.now() / 1000,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    loss: result.loss,
    train_acc: result.train_acc,
    test_acc: result.test_acc,
    epochs: num_epochs,
    examples,
    batch_size,
    lr,
    threads: torch.get_num_threads(),
    device: result.device,
    cpu_capability: torch.backends.cpu.get_cpu_capability(),
    versions: { node: process.version, libtorch: torch.__version__, 'lenet-torch': require('../../package.json').version },
  }));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
