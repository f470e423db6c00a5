#!/usr/bin/env node
// Data parallelism on one machine, two ways: 2 processes x 1 thread (DistributedDataParallel over Gloo, started by
// lenet-torch-run) against 1 process x 2 threads (train_ch6's native step splitting each batch across 2 threads).
// The chapter's LeNet on Fashion-MNIST, batch 256 in all (128 per rank), lr 0.9, train_ch6.
//
//   npx tsc -p tsconfig.json && node test/bench/ddp.js [--epochs 3] [--rounds 3] [--out test/bench/RESULTS-ddp.md]
//
// The two alternate, round after round, each trial in processes of its own, so that a slow spell of this shared
// machine falls on both; the table gives medians and every trial. Each trial prints one JSON line (rank 0 only).
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values: opts } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string', default: path.join(__dirname, 'RESULTS-ddp.md') },
    trial: { type: 'string' },
  },
});
const EPOCHS = Number(opts.epochs);
const ROUNDS = Number(opts.rounds);
const BATCH_SIZE = 256;
const LR = 0.9;

// One trial: 'ddp' (a rank under lenet-torch-run) or 'threads' (one process, 2 threads).
async function trial(kind) {
  const { torch, nn, d2l } = require('../..');
  const { lenet } = require('./chapter');
  const dist = torch.distributed;
  const started = Number(process.env.BENCH_STARTED);
  let model;
  let train_iter;
  let test_iter;
  if (kind === 'ddp') {
    torch.set_num_threads(1);
    await dist.init_process_group('gloo');
    const world = dist.get_world_size();
    const [train, test] = await d2l.load_data_fashion_mnist(BATCH_SIZE);
    const { DataLoader, DistributedSampler } = torch.utils.data;
    train_iter = new DataLoader(train.dataset, { batch_size: BATCH_SIZE / world, sampler: new DistributedSampler(train.dataset, { seed: 1 }) });
    test_iter = test;
    torch.manual_seed(1);
    model = new nn.parallel.DistributedDataParallel(lenet());
  } else {
    torch.set_num_threads(2);
    torch.manual_seed(1);
    [train_iter, test_iter] = await d2l.load_data_fashion_mnist(BATCH_SIZE);
    model = lenet();
  }
  const r = await d2l.train_ch6(model, train_iter, test_iter, EPOCHS, LR, 'cpu', { verbose: false });
  if (kind === 'threads' || dist.get_rank() === 0) {
    const seconds = r.history.reduce((s, h) => s + h.seconds, 0);
    console.log(JSON.stringify({ eps: r.examples_per_sec, seconds, loss: r.loss, train_acc: r.train_acc, test_acc: r.test_acc,
                                 wall: (Date.now() - started) / 1000 }));
  }
  if (kind === 'ddp') dist.destroy_process_group();
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function runTrial(kind) {
  const launcher = path.join(__dirname, '..', '..', 'scripts', 'lenet-torch-run.js');
  const args = kind === 'ddp'
    ? [launcher, '--nproc_per_node', '2', '--master_port', String(await freePort()), __filename, '--trial', 'ddp', '--epochs', String(EPOCHS)]
    : [__filename, '--trial', 'threads', '--epochs', String(EPOCHS)];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { env: { ...process.env, BENCH_STARTED: String(Date.now()) }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`${kind} trial exited ${code}`))));
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  const load0 = os.loadavg()[0];
  const results = { ddp: [], threads: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const kind of ['ddp', 'threads']) {
      const r = await runTrial(kind);
      results[kind].push(r);
      console.error(`round ${round} ${kind}: ${r.eps.toFixed(0)} examples/sec, training ${r.seconds.toFixed(1)} s, job ${r.wall.toFixed(1)} s`);
    }
  }
  const { torch } = require('../..');
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  let distro = os.type();
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))[1];
  } catch {}
  const row = (label, pick, fmt) => {
    const cells = ['ddp', 'threads'].map((k) => `**${fmt(median(results[k].map(pick)))}** [${results[k].map((r) => fmt(pick(r))).join(', ')}]`);
    return `| ${label} | ${cells.join(' | ')} |`;
  };
  const int = (v) => Math.round(v).toLocaleString('en-US');
  const sec = (v) => `${v.toFixed(1)} s`;
  const f3 = (v) => v.toFixed(3);
  const ratio = results.ddp.map((r, i) => r.eps / results.threads[i].eps);
  const md = [
    '# Data parallelism: 2 processes x 1 thread (DistributedDataParallel) vs 1 process x 2 threads',
    '',
    'Written by `node test/bench/ddp.js` (test/bench/ddp.js).',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpu}, ${os.availableParallelism()} logical CPUs, shared with other jobs (noisy); ${distro}; load average ${load0.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end (1 min)`,
    `- Node ${process.version}; lenet-torch on libtorch ${torch.__version__}; Gloo over 127.0.0.1`,
    `- the chapter's LeNet on Fashion-MNIST, train_ch6, ${EPOCHS} epoch(s) of 60,000, lr ${LR}, batch ${BATCH_SIZE} (DDP: 128 per rank, DistributedSampler); ${ROUNDS} rounds alternating DDP then threads`,
    '',
    '| | 2 processes x 1 thread (DDP) | 1 process x 2 threads |',
    '|---|---|---|',
    row('training examples/sec (all ranks)', (r) => r.eps, int),
    row('training time', (r) => r.seconds, sec),
    row('whole-job wall time (launch to exit)', (r) => r.wall, sec),
    row('final training loss', (r) => r.loss, f3),
    row('final test accuracy', (r) => r.test_acc, f3),
    '',
    `DDP / threads, paired by round: **${median(ratio).toFixed(2)}** [${ratio.map((x) => x.toFixed(2)).join(', ')}]`,
    '',
  ].join('\n');
  fs.writeFileSync(opts.out, md);
  console.log(md);
}

if (opts.trial) {
  trial(opts.trial).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
