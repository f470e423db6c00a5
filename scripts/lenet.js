#!/usr/bin/env node
// The d2l.ai LeNet chapter (PyTorch tab), line for line: `npm start`.
// Options: --epochs N (default 10), --lr X (0.9), --batch-size N (256), --plot FILE (lenet.svg), --device D (try_gpu()).
'use strict';
const { parseArgs } = require('node:util');
const { torch, nn, d2l } = require('lenet-torch');

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '10' },
    lr: { type: 'string', default: '0.9' },
    'batch-size': { type: 'string', default: '256' },
    plot: { type: 'string', default: 'lenet.svg' },
    device: { type: 'string' },
  },
});

async function main() {
  const net = new nn.Sequential(
    new nn.Reshape(-1, 1, 28, 28),
    new nn.Conv2d(1, 6, { kernel_size: 5, padding: 2 }), new nn.Sigmoid(),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Conv2d(6, 16, { kernel_size: 5 }), new nn.Sigmoid(),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120), new nn.Sigmoid(),
    new nn.Linear(120, 84), new nn.Sigmoid(),
    new nn.Linear(84, 10));

  let X = torch.rand({ size: [1, 1, 28, 28], dtype: torch.float32 });
  for (const layer of net) {
    X = layer.forward(X);
    console.log(layer.constructor.name, 'output shape: \t', X.shape);
  }

  const batch_size = Number(values['batch-size']);
  const [train_iter, test_iter] = await d2l.load_data_fashion_mnist(batch_size);

  const lr = Number(values.lr), num_epochs = Number(values.epochs);
  await d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, values.device ?? d2l.try_gpu(), { plot: values.plot });
  console.log(`plot written to ${values.plot}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
