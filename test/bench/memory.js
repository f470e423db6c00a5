#!/usr/bin/env node
// Memory: RSS over a hand-written training loop that never calls dispose() (issue: flat over 400 steps), and over
// train_ch6's epochs (growth under 20 MB after the first), and over the epochs of the Modern CNNs chapter's nets
// written in JS (traced, stepped on train_ch6's worker thread) on the first --ch7-examples examples of Fashion-MNIST at
// their section's resize and batch size 32.
// Run: node test/bench/memory.js [--steps 400] [--epochs 10] [--nets resnet,googlenet] [--ch7-epochs 10]
//      [--ch7-examples 256] (--nets '' leaves that part out)
'use strict';
const os = require('node:os');
const { parseArgs } = require('node:util');
const { torch, nn, optim, d2l } = require('../..');
const { lenet } = require('./chapter');

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '400' }, epochs: { type: 'string', default: '10' },
    nets: { type: 'string', default: 'resnet,googlenet' }, 'ch7-epochs': { type: 'string', default: '10' },
    'ch7-examples': { type: 'string', default: '256' },
  },
});
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

  // (c) The chapter-7 nets written in JS: train_ch6 traces them and steps the graphs on its worker thread.
  const { NETS } = require('../../scripts/chapter7-nets.js');
  const { DataLoader, Subset } = torch.utils.data;
  const examples = Number(values['ch7-examples']);
  for (const name of values.nets.split(',').filter(Boolean)) {
    const { make, lr, resize } = NETS[name];
    const [train_all, test_all] = await d2l.load_data_fashion_mnist(32, resize === null ? {} : { resize });
    const indices = [...Array(examples).keys()];
    const train = new DataLoader(new Subset(train_all.dataset, indices), { batch_size: 32, shuffle: true });
    const test = new DataLoader(new Subset(test_all.dataset, indices.slice(0, 64)), { batch_size: 32 });
    torch.manual_seed(0);
    const rows = [];
    let first = 0;
    await d2l.train_ch6(make(), train, test, Number(values['ch7-epochs']), lr, 'cpu', {
      verbose: false,
      on_epoch: (r) => {
        if (r.epoch === 1) first = mb();
        rows.push(`| ${r.epoch} | ${mb().toFixed(1)} | ${(mb() - first).toFixed(1)} | ${r.loss.toFixed(3)} |`);
      },
    });
    console.log(`## (c) ${name} (written in JS, traced), resize ${resize ?? 28}, ${examples} examples, batch 32\n\n` +
      `| epoch | RSS MB | vs epoch 1 | loss |\n|---:|---:|---:|---:|\n${rows.join('\n')}\n`);
  }
  console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
