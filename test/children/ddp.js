// A worker for test/distributed.test.ts, started by scripts/lenet-torch-run.js (or alone, as the one-process
// reference): trains the chapter's net for 20 steps of 256 examples, one libtorch thread, and prints the weights as
// the last line (rank 0 only). Uses the built package (dist/).
//   node ddp.js reference|ddp [verbose]  train_ch6 (the fused native step), alone or DistributedDataParallel
//   node ddp.js reference-loop|loop  a hand-written loop (forward, backward, SGD step), alone or DDP
//   node ddp.js wait                 joins the group, says "rank R pid P ready", then all-reduces until killed
//   node ddp.js disagree             collectives and DistributedDataParallels on which the two ranks disagree, then
//                                    ones they agree on; prints each rank's outcomes as JSON: {"rank": R, ...}
//   node ddp.js unmatched            both wrap a net; rank 1 says ready and idles until killed, rank 0 runs train_ch6
//                                    alone (its opening broadcast times out), counting event-loop turns meanwhile
//   node ddp.js orphan               says ready; rank 0 then all-reduces, which rank 1 never joins (the test kills
//                                    it); rank 0 prints how its all_reduce ended
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

/** How a call ended: 'ok', or its error's class and message. */
async function outcome(fn) {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    return `${e.constructor.name}: ${e.message}`;
  }
}

async function disagree() {
  await dist.init_process_group('gloo', { timeout: 30 });
  const rank = dist.get_rank();
  const { Slice } = torch.indexing;
  const r = { rank };
  r.shape = await outcome(() => dist.all_reduce(torch.ones(rank ? 4 : 3)));
  r.dtype = await outcome(() => dist.all_reduce(torch.ones(3, { dtype: rank ? torch.float64 : torch.float32 })));
  r.broadcast = await outcome(() => dist.broadcast(torch.ones(rank ? [3, 2] : [2, 3]), 0));
  r.op = await outcome(() => dist.all_reduce(torch.ones(2), rank ? 'max' : 'sum'));
  r.collective = await outcome(() => (rank ? dist.barrier() : dist.all_reduce(torch.ones(2))));
  // The same number of values in another shape, then another number of values; then another number of parameters.
  r.ddp_shape = await outcome(() => new nn.parallel.DistributedDataParallel(rank ? new nn.Linear(5, 3) : new nn.Linear(3, 5)));
  r.ddp_size = await outcome(() => new nn.parallel.DistributedDataParallel(rank ? new nn.Linear(3, 5) : new nn.Linear(4, 5)));
  r.ddp_count = await outcome(() => new nn.parallel.DistributedDataParallel(
    rank ? new nn.Sequential(new nn.Linear(2, 2), new nn.Linear(2, 2)) : new nn.Sequential(new nn.Linear(2, 2))));
  // After the refusals, the group works: collectives the ranks agree on, three of them issued before any is awaited.
  const sums = [1, 2, 3].map((n) => torch.full([n], rank + 1));
  r.agreed = await outcome(() => Promise.all(sums.map((t) => dist.all_reduce(t))));
  r.sums = sums.map((t) => t.tolist());
  // Views of every second element: reduced (broadcast) as contiguous copies, the result written back into the view.
  const base = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7].map((v) => v + 100 * rank), { dtype: torch.float32 });
  r.view_all_reduce = await outcome(() => dist.all_reduce(base.index(Slice(null, null, 2))));
  r.view_all_reduce_base = base.tolist();
  const from = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7].map((v) => v + 100 * rank), { dtype: torch.float32 });
  r.view_broadcast = await outcome(() => dist.broadcast(from.index(Slice(null, null, 2)), 0));
  r.view_broadcast_base = from.tolist();
  // A DistributedDataParallel the ranks agree on: rank 0's values everywhere.
  torch.manual_seed(rank);
  const layer = new nn.Linear(3, 5);
  let model;
  r.ddp_agreed = await outcome(() => (model = new nn.parallel.DistributedDataParallel(layer)));
  r.ddp_weight = layer.weight.tolist();
  // Its gradient averaging (inside backward()) on rank 0, an all_reduce on rank 1.
  r.gradients = await outcome(() => (rank ? dist.all_reduce(torch.ones(2)) : model.forward(torch.ones(4, 3)).sum().backward()));
  process.stdout.write(`${JSON.stringify(r)}\n`);
  dist.destroy_process_group();
}

async function unmatched() {
  await dist.init_process_group('gloo', { timeout: 10 });
  const dataset = data();
  const model = new nn.parallel.DistributedDataParallel(lenet());
  if (dist.get_rank() === 1) {
    process.stdout.write(`rank 1 pid ${process.pid} ready\n`);
    setInterval(() => {}, 1000);
    return;
  }
  let turns = 0;
  let settled = false;
  const turn = () => {
    turns++;
    if (!settled) setImmediate(turn);
  };
  let timerFired = false;
  const loader = new DataLoader(dataset, { batch_size: BATCH });
  const training = d2l.train_ch6(model, loader, loader, 1, 0.9, 'cpu', { verbose: false });
  setImmediate(turn);
  setTimeout(() => (timerFired = true), 0);
  const error = await outcome(() => training);
  settled = true;
  process.stdout.write(`${JSON.stringify({ rank: 0, turns, timerFired, error })}\n`);
  process.exit(0);
}

async function orphan() {
  await dist.init_process_group('gloo', { timeout: 60 });
  const rank = dist.get_rank();
  process.stdout.write(`rank ${rank} pid ${process.pid} ready\n`);
  if (rank === 1) {
    setInterval(() => {}, 1000);
    return;
  }
  const error = await outcome(() => dist.all_reduce(torch.ones(4)));
  process.stdout.write(`${JSON.stringify({ rank, error })}\n`);
  process.exit(0);
}

async function main() {
  torch.set_num_threads(1);
  if (mode === 'disagree') return disagree();
  if (mode === 'unmatched') return unmatched();
  if (mode === 'orphan') return orphan();
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
