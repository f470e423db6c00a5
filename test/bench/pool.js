#!/usr/bin/env node
// MaxPool2d's forward (aten::max_pool2d_with_indices) with lenet-torch's vector loop on each SIMD target this CPU
// runs (forced, as the kernel tests force them) and with libtorch's own CPU kernel, at the pools of the Modern CNNs
// chapter (batch 32), one thread, the variants alternating, medians of 5 rounds of 5 calls, in ms a call.
//   node test/bench/pool.js
'use strict';
const { torch } = require('../..');
const { native } = require('../../dist/binding');

torch.set_num_threads(1);
const F = torch.nn.functional;
// [label, input shape, kernel, stride, padding]
const CASES = [
  ['ResNet / GoogLeNet stem, 3x3 stride 2', [32, 64, 48, 48], 3, 2, 1],
  ['GoogLeNet branch, 3x3 stride 1', [32, 192, 12, 12], 3, 1, 1],
  ['GoogLeNet, 3x3 stride 2 on 6 x 6', [32, 480, 6, 6], 3, 2, 1],
  ['AlexNet, 3x3 stride 2 on 54 x 54', [32, 96, 54, 54], 3, 2, 0],
  ['VGG, 2x2 stride 2', [32, 64, 24, 24], 2, 2, 0],
];
const VARIANTS = [...native.cpuCapabilities, 'libtorch'];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| pool | input | ${VARIANTS.join(' | ')} |`);
console.log(`|---|---|${VARIANTS.map(() => '---|').join('')}`);
for (const [label, shape, k, s, p] of CASES) {
  const x = torch.rand(shape);
  const ms = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  for (let r = 0; r < 5; r++) {
    for (const v of VARIANTS) {
      try {
        if (v === 'libtorch') native.setFastKernels(false);
        else native.setCpuCapability(v);
        const pool = () => F.max_pool2d(x, { kernel_size: k, stride: s, padding: p, return_indices: true });
        pool();
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < 5; i++) pool();
        ms[v].push(Number(process.hrtime.bigint() - t0) / 5e6);
      } finally {
        native.setFastKernels(true);
        native.setCpuCapability('auto');
      }
    }
  }
  console.log(`| ${label} | ${shape.join(' x ')} | ${VARIANTS.map((v) => median(ms[v]).toFixed(1)).join(' | ')} |`);
}
