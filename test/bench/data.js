#!/usr/bin/env node
// Benchmark of Fashion-MNIST loading and batching, against the training it feeds.
//
//   npx tsc -p tsconfig.json && node test/bench/data.js [--runs 5]
//
// (a) load: d2l.load_data_fashion_mnist(256) from Debian's gzipped files into memory, decompression included.
// (b) iterate: one pass over train_iter (235 batches, shuffled, ToTensor) without training.
// (c) train: 20 hand-written SGD steps of the chapter's LeNet on prefetched batches, extrapolated to an epoch;
//     the data pass should cost a small fraction of it.
// Each figure is the median of --runs runs. Targets: load < 1.5 s; iterate / train < 5 %.
'use strict';

const os = require('node:os');
const { performance } = require('node:perf_hooks');
const { d2l, nn, optim, torch } = require('../..');
const { lenet } = require('./chapter');

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
if (!Number.isInteger(RUNS) || RUNS < 1) throw new RangeError(`--runs must be a positive integer, got ${args[runsAt + 1]}`);
const BATCH_SIZE = 256;
const TRAIN_STEPS = 20;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function time(fn) {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

// The chapter's LeNet, with d2l's Xavier initialization.
function xavierLenet() {
  const net = lenet();
  net.apply((m) => {
    if (m instanceof nn.Linear || m instanceof nn.Conv2d) nn.init.xavier_uniform_(m.weight);
  });
  return net;
}

async function main() {
  torch.manual_seed(0);
  const loads = [];
  let train_iter;
  for (let r = 0; r < RUNS; r++) {
    loads.push(await time(async () => {
      [train_iter] = await d2l.load_data_fashion_mnist(BATCH_SIZE);
    }));
  }

  const passes = [];
  let batches = 0;
  for (let r = 0; r < RUNS; r++) {
    passes.push(await time(() => {
      batches = 0;
      for (const [X, y] of train_iter) {
        if (X.shape[0] !== y.shape[0]) throw new Error('X and y disagree');
        batches += 1;
      }
    }));
  }

  // Training cost alone: batches fetched beforehand, two warm-up steps, then TRAIN_STEPS timed steps.
  const prefetched = [];
  for (const batch of train_iter) {
    prefetched.push(batch);
    if (prefetched.length === TRAIN_STEPS + 2) break;
  }
  const steps = [];
  for (let r = 0; r < RUNS; r++) {
    const net = xavierLenet();
    const loss = new nn.CrossEntropyLoss();
    const optimizer = new optim.SGD(net.parameters(), { lr: 0.9 });
    const step = ([X, y]) => {
      optimizer.zero_grad();
      loss.forward(net.forward(X), y).backward();
      optimizer.step();
    };
    prefetched.slice(0, 2).forEach(step);
    steps.push(await time(() => prefetched.slice(2).forEach(step)));
  }

  const load = median(loads);
  const pass = median(passes);
  const perStep = median(steps) / TRAIN_STEPS;
  const trainEpoch = perStep * batches;
  const ratio = pass / trainEpoch;
  const s = (x) => `${x.toFixed(3)} s`;
  const ms = (x) => `${(x * 1000).toFixed(2)} ms`;
  const verdict = (ok) => (ok ? 'yes' : '**no**');
  const cpus = os.cpus();

  console.log(`## Fashion-MNIST data pipeline (median of ${RUNS} runs)\n`);
  console.log(`- date: ${new Date().toISOString()}`);
  console.log(`- machine: ${cpus[0] ? cpus[0].model.trim() : 'unknown CPU'}, ${cpus.length} cores, ${os.platform()} ${os.arch()}`);
  console.log(`- Node ${process.version}, libtorch ${torch.__version__}, device cpu, ${torch.get_num_threads()} intra-op threads`);
  console.log(`- batch_size ${BATCH_SIZE}, ${batches} training batches per epoch\n`);
  console.log('| measurement | median | all runs | target | met |');
  console.log('|---|---:|---|---|---|');
  console.log(`| (a) load_data_fashion_mnist(${BATCH_SIZE}): both sets into memory | ${s(load)} | ${loads.map(s).join(', ')} | < 1.5 s | ${verdict(load < 1.5)} |`);
  console.log(`| (b) one training epoch of batches, no training | ${s(pass)} (${ms(pass / batches)}/batch) | ${passes.map(s).join(', ')} | | |`);
  console.log(`| (c) LeNet SGD step (${TRAIN_STEPS} steps timed) | ${ms(perStep)}/batch | ${steps.map((t) => ms(t / TRAIN_STEPS)).join(', ')} | | |`);
  console.log(`| (c) x ${batches}: estimated training epoch | ${s(trainEpoch)} | | | |`);
  console.log(`| (b) / (c): batching's share of an epoch | ${(ratio * 100).toFixed(2)} % | | < 5 % | ${verdict(ratio < 0.05)} |`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
