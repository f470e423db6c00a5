#!/usr/bin/env node
// One Conv2d's forward + backward with lenet-torch's direct loops on and off (libtorch's oneDNN kernels), at the
// shapes of LeNet and of the Modern CNNs chapter, one thread, alternating, medians of 5 rounds of 3 steps: where the
// loops win, and so which convolutions they serve (native/kernels.cc kMaxDirectChannels).
//   node test/bench/conv.js
'use strict';
const { torch, nn } = require('../..');
const { native } = require('../../dist/binding');

torch.set_num_threads(1);
// [input channels, output channels, height = width, kernel, padding, batch]
const CASES = [[1, 6, 28, 5, 2, 256], [6, 16, 14, 5, 0, 256], [6, 16, 14, 3, 1, 256], [16, 32, 14, 3, 1, 64],
  [32, 32, 12, 3, 1, 64], [64, 64, 24, 3, 1, 16], [1, 64, 96, 7, 3, 16], [1, 96, 54, 11, 1, 8]];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('| batch | in | out | size | kernel | padding | loops on (ms) | libtorch (ms) | libtorch / loops |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const [C, O, H, k, p, B] of CASES) {
  const conv = new nn.Conv2d(C, O, { kernel_size: k, padding: p });
  const x = torch.rand(B, C, H, H);
  x.requires_grad = C > 1;
  const ms = { true: [], false: [] };
  for (let r = 0; r < 5; r++) {
    for (const fast of [true, false]) {
      native.setFastKernels(fast);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 3; i++) {
        conv.zero_grad();
        x.grad = null;
        conv.forward(x).sum().backward();
      }
      ms[fast].push(Number(process.hrtime.bigint() - t0) / 3e6);
    }
  }
  native.setFastKernels(true);
  const [on, off] = [median(ms.true), median(ms.false)];
  console.log(`| ${B} | ${C} | ${O} | ${H} | ${k} | ${p} | ${on.toFixed(1)} | ${off.toFixed(1)} | ${(off / on).toFixed(2)} |`);
}
