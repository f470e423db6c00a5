#!/usr/bin/env node
// Where a LeNet training step's time goes, layer by layer, for each SIMD target of lenet-torch's direct loops and for
// libtorch's own kernels: us an example (batch 256, one thread) for the forward and backward of each layer alone,
// the targets alternating within every round, medians over rounds.
//
//   node test/bench/layers.js [--rounds 7] [--batch 256] [--threads 1]
//
// Layers (the chapter's net): conv1 = Conv2d(1, 6, 5, padding 2) + Sigmoid (the fused direct loop, its weight
// gradient; no input gradient), pool1, conv2 = Conv2d(6, 16, 5) + Sigmoid (libtorch's forward and batch-as-channels
// weight gradient, the direct input gradient), pool2, and the three Linear layers with their sigmoids.
'use strict';

const { performance } = require('node:perf_hooks');
const { parseArgs } = require('node:util');
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, batch: { type: 'string', default: '256' }, threads: { type: 'string', default: '1' } },
});
const { torch, nn } = require('../..');
const { native } = require('../../dist/binding');

const B = Number(values.batch);
torch.set_num_threads(Number(values.threads));
torch.manual_seed(0);
const layers = [
  ['conv1 + sigmoid', new nn.Sequential(new nn.Conv2d(1, 6, { kernel_size: 5, padding: 2 }), new nn.Sigmoid()), [B, 1, 28, 28], false],
  ['pool1', new nn.AvgPool2d({ kernel_size: 2, stride: 2 }), [B, 6, 28, 28], true],
  ['conv2 + sigmoid', new nn.Sequential(new nn.Conv2d(6, 16, { kernel_size: 5 }), new nn.Sigmoid()), [B, 6, 14, 14], true],
  ['pool2', new nn.AvgPool2d({ kernel_size: 2, stride: 2 }), [B, 16, 10, 10], true],
  ['linears + sigmoids', new nn.Sequential(new nn.Flatten(), new nn.Linear(400, 120), new nn.Sigmoid(), new nn.Linear(120, 84),
    new nn.Sigmoid(), new nn.Linear(84, 10)), [B, 16, 5, 5], true],
];
const configs = [...native.cpuCapabilities.map((t) => [t, true]), ['libtorch', false]];

// us an example for forward + backward of one layer, the best of `reps` steps.
function time(module, shape, inputGrad, reps = 5) {
  const x = torch.rand(shape);
  x.requires_grad = inputGrad;
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    module.zero_grad();
    const t0 = performance.now();
    const out = module.forward(x);
    out.sum().backward();
    best = Math.min(best, performance.now() - t0);
  }
  return (best * 1000) / B;
}

const results = new Map();
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [name, fast] of configs) {
    native.setFastKernels(fast);
    if (fast) native.setCpuCapability(name);
    for (const [layer, module, shape, inputGrad] of layers) {
      const key = `${layer}|${name}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key).push(time(module, shape, inputGrad));
    }
  }
}
native.setFastKernels(true);
native.setCpuCapability('auto');
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`us an example (forward + backward, batch ${B}, ${values.threads} thread(s)), medians of ${values.rounds} rounds`);
console.log(['layer', ...configs.map(([n, fast]) => (fast ? n : "libtorch's kernels"))].map((s) => s.padEnd(20)).join(''));
for (const [layer] of layers) {
  console.log([layer, ...configs.map(([n]) => median(results.get(`${layer}|${n}`)).toFixed(2))].map((s) => s.padEnd(20)).join(''));
}
