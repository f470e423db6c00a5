// A child process for test/tidy.test.ts: many tensors alive at once (a ring of the last 5,000, every tenth made and
// returned inside a torch.tidy), each checked for its own value, while garbage collections (run with a young
// generation of 1 MB) free the others' handle slots, whose finalizers run inside the allocations that make new
// handles. A slot handed to two live handles shows as a wrong value or a "disposed" Error. Prints one JSON line.
//   node --max-semi-space-size=1 handle-stress.js
'use strict';
const path = require('node:path');
const { torch } = require(path.join(__dirname, '..', '..'));
const N = 5000;
const ring = new Array(N);
let bad = 0, errors = 0;
for (let i = 0; i < 300000; i++) {
  ring[i % N] = [i % 10 === 0 ? torch.tidy(() => torch.full([1], i).add(0)) : torch.full([1], i), i];
  if (i % N === N - 1) for (const [u, v] of ring) { try { if (u.item() !== v) bad++; } catch (e) { errors++; } }
}
console.log(JSON.stringify({ bad, errors }));
