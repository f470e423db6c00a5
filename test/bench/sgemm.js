#!/usr/bin/env node
// The machine's measured single-core FP32 peak, as test/bench/run.js quotes it: libtorch's sgemm (its BLAS, OpenBLAS
// on Debian) on n x n matrices at one thread, the best of several repetitions, in GFLOP/s (2 n^3 flops a product).
// Run in a process of its own with the trial's environment, so that a forced ISA (run.js --isa) holds for it too.
//
//   node test/bench/sgemm.js [--n 1024] [--repeat 12]   ->  {"gflops": ..., "n": ..., "cpu_capability": ...}
'use strict';

const { performance } = require('node:perf_hooks');
const { parseArgs } = require('node:util');
const { values } = parseArgs({ options: { n: { type: 'string', default: '1024' }, repeat: { type: 'string', default: '12' } } });

const { torch } = require('../..');

const n = Number(values.n);
torch.set_num_threads(1);
const a = torch.rand(n, n);
const b = torch.rand(n, n);
let best = Infinity;
for (let i = 0; i < Number(values.repeat); i++) {
  const t0 = performance.now();
  const c = a.matmul(b);
  best = Math.min(best, performance.now() - t0);
  c.dispose();
}
console.log(JSON.stringify({ gflops: (2 * n ** 3) / (best / 1000) / 1e9, n, cpu_capability: torch.backends.cpu.get_cpu_capability() }));
