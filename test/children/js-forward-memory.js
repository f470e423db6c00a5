// A child process for test/nn.test.ts: a forward written in JS runs in a scope of its own (lib/nn/module.ts), whose
// end frees each layer's result; the graph the forward's result holds keeps their activations all the same, and V8
// must be told of them, or it lets results pile up between collections. 250 forwards in grad mode of LeNet's layers
// behind a JS forward, each result dropped: prints the growth of resident memory in MiB. In a fresh process, so that
// a jest worker's own heap (whose collections come often) does not hide it: 2.0-2.1 GiB here when the scope's
// result was told only of its own bytes, 180-190 MiB since. The forward may also keep its result before returning
// it, which makes it the garbage collector's before the scope ends (it is counted all the same):
//   node js-forward-memory.js [plain | attribute | keep]
'use strict';
const path = require('node:path');
const { torch, nn } = require(path.join(__dirname, '..', '..'));

const mode = process.argv[2] || 'plain';

const lenet = () => new nn.Sequential(
  new nn.Reshape(-1, 1, 28, 28),
  new nn.Conv2d(1, 6, { kernel_size: 5, padding: 2 }), new nn.Sigmoid(),
  new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
  new nn.Conv2d(6, 16, { kernel_size: 5 }), new nn.Sigmoid(),
  new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
  new nn.Flatten(),
  new nn.Linear(16 * 5 * 5, 120), new nn.Sigmoid(),
  new nn.Linear(120, 84), new nn.Sigmoid(),
  new nn.Linear(84, 10));

class JsLeNet extends nn.Module {
  constructor() {
    super();
    this.body = lenet();
  }

  forward(X) {
    let Y = X;
    for (const layer of this.body) Y = layer.forward(Y);
    if (mode === 'attribute') this.last = Y;
    if (mode === 'keep') torch.keep(Y);
    return Y;
  }
}

const net = new JsLeNet();
const X = torch.rand(256, 1, 28, 28);
const start = process.memoryUsage().rss;
for (let i = 0; i < 250; i++) net.forward(X).sum();
console.log(Math.round((process.memoryUsage().rss - start) / 2 ** 20));
