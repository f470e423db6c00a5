#!/usr/bin/env node
// Memory: RSS over a hand-written training loop that never calls dispose() (issue: flat over 400 steps), and over
// train_ch6's epochs (growth under 20 MB after the first). Run: node test/bench/memory.js [--steps 400] [--epochs 10]
'use strict';
const os = require('node:os');
const { parseArgs } = require('node:util');
const { torch, nn, optim, d2l } = require('../..');
const { lenet } = require('./chapter');

const { values } = parseArgs({ options: { steps: { type: 'string', default: '400' }, epochs: { type: 'string', default: '10' } } });
const mb = () => process.memoryUsage().rss / 2 ** 20;


async function main() {
  console.log(`# Memory (${new Date().toISOString()}, ${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}, libtorch ${torch.__version__}, ${torch.get_num_threads()} threads)\n`);

  // (a) The d2l loop by hand, synchronously, on a fixed batch of 256, no dispose() anywhere.
  const steps = Number(values.steps);
  torch.manual_seed(0);
  const net = lenet();
  const X = torch.rand(256, 1, 28, 28);
  const y = torch.randint(0, 10, [256]);
  const loss = new nn.CrossEntropyLoss();
  const optimizer = new optim.SGD(net.parameters(), { lr: 0.9 });
  const rows = [];
  let first = 0;
  for (let i = 1; i <= steps; i++) {
    optimizer.zero_grad();
    const l = loss.forward(net.forward(X), y);
    l.backward();
    optimizer.step();
    void (d2l.accuracy(net.forward(X), y) + Number(l.item()));
    if (i === 50) first = mb();
    if (i % 50 === 0) rows.push(`| ${i} | ${mb().toFixed(1)} | ${(mb() - first).toFixed(1)} |`);
  }
  console.log(`## (a) hand-written loop, ${steps} steps without dispose()\n\n| step | RSS MB | vs step 50 |\n|---:|---:|---:|\n${rows.join('\n')}\n`);

  // (b) train_ch6 on Fashion-MNIST with the chapter's settings.
  const epochs = Number(values.epochs);
  const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256);
  const perEpoch = [];
  await d2l.train_ch6(lenet(), train_iter, test_iter, epochs, 0.9, 'cpu', {
    verbose: false,
    on_epoch: (r) => perEpoch.push(`| ${r.epoch} | ${mb().toFixed(1)} | ${(mb() - (perEpoch.length ? Number(perEpoch[0].split('|')[2]) : mb())).toFixed(1)} | ${r.test_acc.toFixed(3)} |`),
  });
  console.log(`## (b) train_ch6, ${epochs} epochs\n\n| epoch | RSS MB | vs epoch 1 | test acc |\n|---:|---:|---:|---:|\n${perEpoch.join('\n')}\n`);
  console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
