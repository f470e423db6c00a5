// A child process for test/tidy.test.ts (node --expose-gc): random nested torch.tidy() scopes (up to 4 deep) that
// make tensors, make second Tensors over them (torch.relu_, as in-place functions return), keep them, dispose of
// them, return some and collect garbage at random points. After every step each Tensor that must be alive (made in a
// scope still open, returned out of one, or kept) must read as alive with its value; at the end, with everything
// dropped and collected, resident memory must be back where it was (each tensor holds 64 KiB, so a leak of a few
// hundred shows). Prints one JSON line: {failures, first, grownMiB}.
//   node --expose-gc tidy-fuzz.js SEED ITERATIONS
'use strict';
const path = require('node:path');
const { torch } = require(path.join(__dirname, '..', '..'));

let seed = Number(process.argv[2] || 1);
const iterations = Number(process.argv[3] || 100);
const random = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pick = (list) => list[Math.floor(random() * list.length)];
const N = 16384;  // elements a tensor: 64 KiB
const rss = () => process.memoryUsage().rss / 2 ** 20;
const collect = () => { global.gc(); global.gc(); };

let groups = 0;        // a group: the Tensors over one tensor
const disposed = new Set();
const failures = [];
function check(entries, where) {
  for (const e of entries) {
    if (disposed.has(e.group)) continue;
    if (e.t.is_disposed) failures.push(`${where}: group ${e.group} (${e.how}) reads as disposed`);
    else if (e.t.sum().item() !== N) failures.push(`${where}: group ${e.group} (${e.how}) has another value`);
  }
}

// One scope's body: `outer` are the entries alive in the scopes around, `held` collects the kept ones.
function body(depth, outer, held) {
  const local = outer.slice();
  const steps = 3 + Math.floor(random() * 8);
  for (let s = 0; s < steps; s++) {
    const live = local.filter((e) => !disposed.has(e.group));
    const r = random();
    if (r < 0.25 || live.length === 0) {
      local.push({ t: torch.ones(N), group: groups++, how: `made at depth ${depth}` });
    } else if (r < 0.45) {
      const e = pick(live);
      local.push({ t: torch.relu_(e.t), group: e.group, how: `second Tensor at depth ${depth}` });
    } else if (r < 0.6) {
      const e = pick(live);
      torch.keep(e.t);
      held.push(e);
    } else if (r < 0.63) {
      const e = pick(live);
      e.t.dispose();
      disposed.add(e.group);
    } else if (r < 0.8 && depth < 4) {
      for (const e of torch.tidy(() => body(depth + 1, local, held))) local.push(e);
    } else if (r < 0.9) {
      global.gc();
    }
    check(local, `depth ${depth}`);
  }
  return local.filter(() => random() < 0.3).map((e) => ({ ...e, how: `${e.how}, returned` }));
}

collect();
// A first round allocates what later ones reuse (malloc's arenas, the handle table's chunks).
for (let round = 0; round < 2; round++) {
  const before = rss();
  for (let i = 0; i < iterations; i++) {
    const held = [];
    const results = torch.tidy(() => body(1, [], held));
    global.gc();
    check(results, `after iteration ${i}`);
    check(held, `kept, after iteration ${i}`);
  }
  collect();
  if (round === 1) {
    console.log(JSON.stringify({ failures: failures.length, first: failures.slice(0, 3), grownMiB: Math.round(rss() - before) }));
  }
}
