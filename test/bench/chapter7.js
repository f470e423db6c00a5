#!/usr/bin/env node
// A training step of the nets of d2l's "Modern CNNs" chapter, lenet-torch against PyTorch eager (Debian's
// python3-torch: the same libtorch), at each thread count, the peers alternating round by round; medians.
//
//   node test/bench/chapter7.js [--nets resnet,googlenet] [--threads 1,2] [--rounds 3] [--batch 32] [--steps 4]
//                               [--channels-last auto|on|off] [--python /usr/bin/python3]
//
// Each trial is a process of its own: the net at its section's input size (resize 96 for ResNet and GoogLeNet) on
// a fixed random batch, trained by SGD at its section's learning rate for `--steps` steps after as many warm-up
// steps (lenet-torch: d2l.train_ch6 over an array of that batch, 2 epochs, the second one's training time, which
// leaves out the evaluation; the net is written in JS, traced once and stepped on train_ch6's worker thread;
// PyTorch: the book's loop, net.train(), zero_grad, loss, backward, step). The time is per step, batch included.
'use strict';

const { spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const usage = 'usage: node test/bench/chapter7.js [--nets resnet,googlenet] [--threads 1,2] [--rounds 3] [--batch 32] ' +
  '[--steps 4] [--channels-last auto|on|off] [--python /usr/bin/python3]';
let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      nets: { type: 'string', default: 'resnet,googlenet' }, threads: { type: 'string', default: '1,2' },
      rounds: { type: 'string', default: '3' }, batch: { type: 'string', default: '32' }, steps: { type: 'string', default: '4' },
      python: { type: 'string', default: '/usr/bin/python3' }, child: { type: 'string' }, 'child-threads': { type: 'string' },
      'channels-last': { type: 'string', default: 'auto' },
    },
  }));
} catch (error) {
  console.error(`${error.message}\n${usage}`);
  process.exit(2);
}
const positive = (name) => {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} takes a positive integer, not ${opts[name]}\n${usage}`);
    process.exit(2);
  }
  return n;
};
const [ROUNDS, BATCH, STEPS] = ['rounds', 'batch', 'steps'].map(positive);
if (!['auto', 'on', 'off'].includes(opts['channels-last'])) {
  console.error(`--channels-last takes auto, on or off, not ${opts['channels-last']}\n${usage}`);
  process.exit(2);
}
const NETS_FILE = path.join(__dirname, '..', '..', 'scripts', 'chapter7-nets.js');

async function child(name, threads) {
  const { torch, d2l } = require('../..');
  const { NETS } = require(NETS_FILE);
  torch.set_num_threads(threads);
  torch.manual_seed(0);
  const { make, lr, resize } = NETS[name];
  const size = resize ?? 28;
  const X = torch.rand([BATCH, 1, size, size]);
  const y = torch.randint(0, 10, [BATCH]);
  const batches = Array.from({ length: STEPS }, () => [X, y]);
  const test = [[X.narrow(0, 0, 2), y.narrow(0, 0, 2)]];
  const r = await d2l.train_ch6(make(), batches, test, 2, lr, 'cpu', { verbose: false, channels_last: { on: true, off: false }[opts['channels-last']] });
  return (r.history[1].seconds / STEPS) * 1000;
}

const PY = `
import sys, time, torch
from torch import nn
sys.path.insert(0, sys.argv[1])
import chapter7
name, threads, batch, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
make, lr, resize = chapter7.NETS[name][:3]
size = resize or 28
X = torch.rand(batch, 1, size, size)
y = torch.randint(0, 10, (batch,))
net = make()
def init_weights(m):
    if type(m) == nn.Linear or type(m) == nn.Conv2d:
        nn.init.xavier_uniform_(m.weight)
net.apply(init_weights)
optimizer = torch.optim.SGD(net.parameters(), lr=lr)
loss = nn.CrossEntropyLoss()
def epoch():
    net.train()
    t0 = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        l = loss(net(X), y)
        l.backward()
        optimizer.step()
    return time.perf_counter() - t0
epoch()
print(epoch() / steps * 1000)
`;

function trial(peer, name, threads) {
  const p = peer === 'lenet-torch'
    ? spawnSync(process.execPath, [__filename, '--child', name, '--child-threads', String(threads), '--batch', String(BATCH), '--steps', String(STEPS), '--channels-last', opts['channels-last']], { encoding: 'utf8' })
    : spawnSync(opts.python, ['-c', PY, path.join(__dirname, '..', 'interop'), name, String(threads), String(BATCH), String(STEPS)], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`${peer} ${name} at ${threads} thread(s) failed:\n${p.stderr}`);
  return Number(p.stdout.trim().split('\n').pop());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (opts.child) {
    process.stdout.write(`${await child(opts.child, Number(opts['child-threads']))}\n`);
    return;
  }
  const nets = opts.nets.split(',');
  const threads = opts.threads.split(',').map(Number);
  const ms = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of nets) {
      for (const t of threads) {
        for (const peer of ['lenet-torch', 'PyTorch']) {
          const key = `${name}|${t}|${peer}`;
          (ms[key] ??= []).push(trial(peer, name, t));
          process.stderr.write(`round ${r + 1}/${ROUNDS}: ${name}, ${t} thread(s), ${peer}: ${ms[key].at(-1).toFixed(1)} ms a step\n`);
        }
      }
    }
  }
  console.log(`${new Date().toISOString()}, ${os.cpus()[0].model}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}; ` +
    `batch ${BATCH}, ${STEPS} timed steps after ${STEPS} warm-up steps, ${ROUNDS} rounds\n`);
  console.log('| net | threads | lenet-torch (ms a step) | PyTorch eager (ms a step) | lenet-torch speed / PyTorch\'s, paired by round |');
  console.log('|---|---|---|---|---|');
  for (const name of nets) {
    for (const t of threads) {
      const l = ms[`${name}|${t}|lenet-torch`];
      const p = ms[`${name}|${t}|PyTorch`];
      const ratios = l.map((x, i) => p[i] / x);
      const list = (xs, d) => xs.map((x) => x.toFixed(d)).join(', ');
      console.log(`| ${name} | ${t} | **${median(l).toFixed(1)}** [${list(l, 1)}] | ${median(p).toFixed(1)} [${list(p, 1)}] | ` +
        `**${median(ratios).toFixed(2)}x** [${list(ratios, 2)}] |`);
    }
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
