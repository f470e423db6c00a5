// A child process for test/tidy.test.ts (node --expose-gc): inside torch.tidy() a handle is a BigInt with no
// finalizer (native/tensor.h); a result that outlives its last scope gets an owner, kept with its Tensor. Checks that
// what outlives a tidy survives garbage collections (a result, torch.keep, a Parameter, a data set, a loader's
// order, a JS forward's result) and that what is dropped is freed by them. Prints one JSON line.
'use strict';
const path = require('node:path');
const { torch, nn } = require(path.join(__dirname, '..', '..'));
const { DataLoader, TensorDataset } = torch.utils.data;

const rss = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const collect = () => { global.gc(); global.gc(); };

const result = torch.tidy(() => torch.full([4], 3).mul(2));
// A forward written in JS runs in a scope of its own (lib/nn/module.ts): its result outlives it the same way.
class Affine extends nn.Module { forward(x) { return x.mul(2).add(1); } }
const forwarded = new Affine().forward(torch.full([4], 1));
let kept, parameter, dataset, loader, batches;
torch.tidy(() => {
  kept = torch.keep(torch.full([4], 5));
  parameter = new nn.Parameter(torch.ones(4));
  dataset = new TensorDataset(torch.arange(8).float(), torch.arange(8));
  loader = new DataLoader(dataset, { batch_size: 2, shuffle: true });
  batches = loader[Symbol.iterator]();
  batches.next();
});
// Garbage enough for several collections, then full ones.
for (let i = 0; i < 200000; i++) torch.ones(4);
collect();
let rest = 0;
for (let b = batches.next(); !b.done; b = batches.next()) rest += b.value[1].sum().item();
const values = [result.sum().item(), kept.sum().item(), parameter.sum().item(), dataset.tensors[0].sum().item(), rest >= 0, forwarded.sum().item()];

// Two Tensors over one handle: an in-place function returns its argument's handle in a Tensor of its own. Each keeps
// the tensor alive without the other.
let x = torch.tidy(() => torch.full([3], -1));
const y = nn.functional.relu(x, true);
let pair = torch.tidy(() => {
  const a = torch.full([3], 0);
  return { a, b: torch.sigmoid_(a) };
});
const b = pair.b;
x = null;
pair = null;
// The same, where the first Tensor was kept before the second left its scope: a JS forward assigns a layer's result
// to an attribute and returns the in-place relu of it, a second Tensor over the same slot. Each result must outlive
// the attribute's next value.
class Aliased extends nn.Module {
  constructor() { super(); this.lin = new nn.Linear(3, 3); }
  forward(x) {
    const h = this.lin.forward(x);
    const r = nn.functional.relu(h, true);
    this.features = h;
    return r;
  }
}
const aliased = new Aliased();
const aliasedOuts = [0, 1, 2].map(() => aliased.forward(torch.ones(1, 3)));
collect();
for (let i = 0; i < 100000; i++) torch.ones(4);
collect();
values.push(y.sum().item(), b.sum().item(), aliasedOuts.filter((t) => !t.is_disposed && t.sum().item() >= 0).length);
// The same inside a scope around (a tidy, or a JS forward calling the block), with collections while it is open: a
// slot kept inside a scope is held by that scope too, so the second Tensor over it lives as long as the scope.
const inTidy = torch.tidy(() => {
  const outs = [0, 1, 2].map(() => aliased.forward(torch.ones(1, 3)));
  collect();
  return outs;
});
class Twice extends nn.Module {
  constructor() { super(); this.block = new Aliased(); }
  forward(x) {
    const first = this.block.forward(x);
    const second = this.block.forward(first);
    collect();
    return first.add(second);
  }
}
const twice = new Twice().forward(torch.ones(1, 3));
const sibling = torch.tidy(() => {
  const r = (() => {
    const a = torch.ones(3);
    const relu = torch.relu_(a);
    torch.keep(a);
    return relu;
  })();
  collect();
  return r;
});
values.push(inTidy.filter((t) => !t.is_disposed).length, twice.shape[1], sibling.sum().item());

// Dropped, a kept result is freed by the next collection: 256 MiB each time.
const before = rss();
for (let i = 0; i < 4; i++) {
  let big = torch.tidy(() => torch.ones(64 * 1024 * 1024));
  if (big.shape[0] !== 64 * 1024 * 1024) throw new Error('shape');
  big = null;
  collect();
}
// Two Tensors over one slot, each with an owner of its own (the second made when the first was kept before it left
// its scope): the slot is freed once both are dropped.
for (let i = 0; i < 4; i++) {
  let pair2 = torch.tidy(() => {
    const a = torch.ones(64 * 1024 * 1024);
    const r = torch.relu_(a);
    torch.keep(a);
    return [a, r];
  });
  if (pair2[1].shape[0] !== 64 * 1024 * 1024) throw new Error('shape');
  pair2 = null;
  collect();
}
// A handle copied to another thread (a BigInt can be: postMessage) is no handle there.
const { Worker } = require('node:worker_threads');
const foreign = new Promise((resolve) => {
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    const { Tensor } = require(${JSON.stringify(path.join(__dirname, '..', '..'))});
    parentPort.once('message', (h) => {
      let answer;
      try { answer = String(new Tensor(h).shape); } catch (e) { answer = e.constructor.name + ': ' + e.message; }
      parentPort.postMessage(answer);
    });`, { eval: true });
  // Kept alive here until the worker answers, so that its slot is live (and this thread's) when the worker reads it.
  let t;
  worker.once('message', (m) => { worker.terminate(); resolve([m, t.shape.length]); });
  torch.tidy(() => {
    t = torch.ones(2, 3);
    worker.postMessage(t._h);
    torch.keep(t);
  });
});
foreign.then(([answer]) => console.log(JSON.stringify({ values, grown: rss() - before, foreign: answer })));
