// The consumer check's ES module app (scripts/consumer-check.sh): the LeNet chapter as a TypeScript user writes it
// in a fresh app that ran only `npm install lenet-torch` (no @types/node, no `types` setting). It is type-checked
// with `tsc --noEmit --strict --module nodenext` (TypeScript 6 and 7), compiled to app.mjs and run; it throws when a
// check fails.
import { torch, nn, d2l } from 'lenet-torch';
import type { Tensor } from 'lenet-torch';

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(`consumer check (ES module) failed: ${message}`);
}

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
const base: nn.Module = net; // Sequential is a Module

let X: Tensor = torch.rand({ size: [1, 1, 28, 28], dtype: torch.float32 });
const shapes: string[] = [];
for (const layer of net) {
  X = layer.forward(X);
  console.log(layer.constructor.name, 'output shape: \t', X.shape);
  shapes.push(`${layer.constructor.name} ${X.shape}`);
}
const rows: number = X.shape[0];
const classes: number = X.shape[1];
check(rows === 1 && classes === 10, `the net's output shape is ${X.shape}, not [1, 10]`);
check(shapes[3] === 'AvgPool2d [1, 6, 14, 14]' && shapes[7] === 'Flatten [1, 400]', `shape table: ${shapes.join('; ')}`);
check(base.parameters().reduce((n, p) => n + p.numel(), 0) === 61706, 'LeNet has 61,706 parameters');

// A small synthetic data set that can be learned: label 0 images are dark, label 1 images bright.
torch.manual_seed(0);
const n = 1024;
const labels: Tensor = torch.randint(0, 2, [n], { dtype: torch.int64 });
const images: Tensor = torch.rand([n, 1, 28, 28]).mul(0.2).add(labels.float().view(-1, 1, 1, 1).mul(0.8));
const train_iter = d2l.load_array([images, labels], 64);
const test_iter = d2l.load_array([images, labels], 64, false);
const result: d2l.TrainResult = await d2l.train_ch6(net, train_iter, test_iter, 1, 0.9, 'cpu');
const acc: number = await d2l.evaluate_accuracy_gpu(net, test_iter);
check(Number.isFinite(result.loss) && result.history.length === 1, `train_ch6 returned ${JSON.stringify(result)}`);
// Chance on 10 outputs is ln(10) = 2.30; learning that only 2 of them occur already takes the loss under it.
check(result.loss < 2.2, `the loss did not fall below chance: ${result.loss}`);
check(acc === result.test_acc, `evaluate_accuracy_gpu gave ${acc}, train_ch6's test acc was ${result.test_acc}`);
const y = torch.tensor([[0.1, 0.9]], { dtype: torch.float64 });
check(String(y) === 'tensor([[0.1000, 0.9000]], dtype=torch.float64)', `torch.tensor prints as ${String(y)}`);
console.log(`consumer check (ES module): OK, loss ${result.loss.toFixed(3)}, test acc ${acc.toFixed(3)}`);
