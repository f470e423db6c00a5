// The chapter's LeNet (as scripts/lenet.js builds it), shared by the benchmarks.
'use strict';
const { nn } = require('../..');

function lenet() {
  return new nn.Sequential(
    new nn.Reshape(-1, 1, 28, 28),
    new nn.Conv2d(1, 6, { kernel_size: 5, padding: 2 }), new nn.Sigmoid(),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Conv2d(6, 16, { kernel_size: 5 }), new nn.Sigmoid(),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120), new nn.Sigmoid(),
    new nn.Linear(120, 84), new nn.Sigmoid(),
    new nn.Linear(84, 10));
}

module.exports = { lenet };
