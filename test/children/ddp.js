// A worker for test/distributed.test.ts, started by scripts/lenet-torch-run.js (or alone, as the one-process
// reference): trains the chapter's net for 20 steps of 256 examples, one libtorch thread, and prints the weights as
// the last line (rank 0 only). Uses the built package (dist/).
//   node ddp.js reference|ddp [verbose]  train_ch6 (the fused native step), alone or DistributedDataParallel
//   node ddp.js reference-loop|loop  a hand-written loop (forward, backward, SGD step), alone or DDP
//   node ddp.js wait                 joins the group, says "rank R pid P ready", then all-reduces until killed
'use strict';
const path = require('node:path');
const { torch, nn, optim, d2l } = require(path.join(__dirname, '..', '..'));
const { lenet } = require('../bench/chapter');

const dist = torch.distributed;
const { DataLoader, DistributedSampler, TensorDataset } = torch.utils.data;
const STEPS = 20;
const BATCH = 256;
const mode = process.argv[2];

function data() {
  torch.manual_seed(0);
  const X = torch.rand(STEPS * BATCH, 1, 28, 28);
  const y = torch.randint(0, 10, [STEPS * BATCH]);
  return new TensorDataset(X, y);
}

function weights(net) {
  return Object.fromEntries(Object.entries(net.state_dict()).map(([k, t]) => [k, Array.from(t.data())]));
}

async function main() {
  torch.set_num_threads(1);
  const distributed = !mode.startsWith('reference');
  if (distributed) await dist.init_process_group('gloo', { timeout: 30 });
  const dataset = data();
  const loader = distributed
    ? new DataLoader(dataset, { batch_size: BATCH / dist.get_world_size(), sampler: new DistributedSampler(dataset, { shuffle: false }) })
    : new DataLoader(dataset, { batch_size: BATCH });
  torch.manual_seed(1);
  const net = lenet();
  const model = distributed ? new nn.parallel.DistributedDataParallel(net) : net;
  if (mode === 'wait') {
    process.stdout.write(`rank ${dist.get_rank()} pid ${process.pid} ready\n`);
    for (;;) {
      await dist.all_reduce(torch.ones(4));
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (mode === 'ddp' || mode === 'reference') {
    const test = new DataLoader(dataset, { batch_size: 1024 });
    const result = await d2l.train_ch6(model, loader, test, 1, 0.9, 'cpu', { verbose: process.argv[3] === 'verbose' });
    if (!distributed || dist.get_rank() === 0) {
      process.stdout.write(`${JSON.stringify({ loss: result.loss, train_acc: result.train_acc, test_acc: result.test_acc, weights: weights(net) })}\n`);
    }
  } else {
    const loss = new nn.CrossEntropyLoss();
    const trainer = new optim.SGD(model.parameters(), { lr: 0.9 });
    for (const [X, y] of loader) {
      trainer.zero_grad();
      const l = loss.forward(model.forward(X), y);
      l.backward();
      trainer.step();
    }
    if (!distributed || dist.get_rank() === 0) process.stdout.write(`${JSON.stringify({ weights: weights(net) })}\n`);
  }
  if (distributed) dist.destroy_process_group();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
