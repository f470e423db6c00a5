// The round trip with PyTorch itself, on the chapter's LeNet and the real Fashion-MNIST: a state dict that
// lenet-torch saves loads into the chapter's PyTorch net (test/interop/lenet_roundtrip.py, with weights_only=True)
// and scores the same test accuracy, and one that PyTorch saves loads here and scores the same. Needs Python's torch
// (Debian: apt-get install python3-torch; CI installs it) and the data set; skipped, with the reason, without them.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { d2l, nn, torch, Tensor } from '../lib';
import type { DataLoader } from '../lib/data';
import { lenet } from './lenet';
import { findPython, NO_PYTHON_REASON, pythonHas } from './python';

const SCRIPT = path.join(__dirname, 'interop', 'lenet_roundtrip.py');
const DATA_DIRS = [process.env.FASHION_MNIST_DIR, '/usr/share/datasets/fashion-mnist'].filter((d): d is string => !!d);

const python = findPython();
const hasData = DATA_DIRS.some((d) => ['t10k-images-idx3-ubyte', 't10k-images-idx3-ubyte.gz'].some((f) => fs.existsSync(path.join(d, f))));
const reason = !python
  ? NO_PYTHON_REASON
  : !hasData
    ? 'the Fashion-MNIST files are not in $FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist'
    : '';
const run = reason ? describe.skip : describe;

interface Report {
  accuracy: number;
  correct: number;
  count: number;
  logit_sums: number[];
  torch: string;
  weights_only?: boolean;
  keys?: string[];
}

async function pytorch(...args: string[]): Promise<Report> {
  const { stdout } = await promisify(execFile)(python!, [SCRIPT, ...args], { timeout: 240000, encoding: 'utf8' });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Report;
}

/** What the script reports, computed here: the accuracy (d2l.evaluate_accuracy_gpu) and each class's logit sum. */
async function evaluate(net: nn.Module, test_iter: DataLoader): Promise<{ accuracy: number; logit_sums: number[] }> {
  const accuracy = await d2l.evaluate_accuracy_gpu(net, test_iter);
  const sums = new Array<number>(10).fill(0);
  torch.no_grad(() => {
    for (const [X] of test_iter) {
      const s = net.forward(X).to('float64').sum(0).data() as Float64Array;
      s.forEach((v, i) => (sums[i] += v));
    }
  });
  return { accuracy, logit_sums: sums };
}

/** The largest difference between two sets of logit sums, relative to the largest sum. */
function relativeDiff(a: number[], b: number[]): number {
  const scale = Math.max(...b.map(Math.abs));
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]))) / scale;
}

const figures: string[] = [];
afterAll(() => {
  if (figures.length) process.stdout.write(`interop (python: ${python}):\n  ${figures.join('\n  ')}\n`);
});

run(`the chapter's LeNet between lenet-torch and PyTorch${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let dir: string;
  let train_iter: DataLoader;
  let test_iter: DataLoader;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-torch-interop-'));
    [train_iter, test_iter] = await d2l.load_data_fashion_mnist(256);
  }, 120000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('Node trains 1 epoch and saves the state dict; PyTorch loads it (weights_only) and scores the same test accuracy', async () => {
    torch.manual_seed(0);
    const net = lenet();
    await d2l.train_ch6(net, train_iter, test_iter, 1, 0.9, 'cpu', { verbose: false });
    const node = await evaluate(net, test_iter);
    const file = path.join(dir, 'node.pt');
    await torch.save(net.state_dict(), file);

    const py = await pytorch('load', file);
    figures.push(`Node -> PyTorch: Node ${node.accuracy.toFixed(4)}, PyTorch ${py.accuracy.toFixed(4)} ` +
      `(torch ${py.torch}, weights_only ${py.weights_only}); logit sums differ by ${relativeDiff(py.logit_sums, node.logit_sums).toExponential(1)} (relative)`);
    expect(py.keys).toEqual(Object.keys(net.state_dict()));
    expect(py.count).toBe(10000);
    expect(Math.abs(py.accuracy - node.accuracy)).toBeLessThanOrEqual(1e-4 + 1e-12);
    expect(relativeDiff(py.logit_sums, node.logit_sums)).toBeLessThan(1e-4);
  }, 240000);

  // Two epochs: with seed 1 the chapter's sigmoid net is still on its plateau after one (accuracy 0.1, one class).
  test('PyTorch trains 2 epochs and saves the state dict; Node loads it and scores the same test accuracy', async () => {
    const file = path.join(dir, 'pytorch.pt');
    const py = await pytorch('save', file, '--epochs', '2', '--seed', '1');

    torch.manual_seed(7);
    const net = lenet();
    const before = await evaluate(net, test_iter);
    // The net's own weights do not already score what PyTorch's do: the load is what makes them agree.
    expect(relativeDiff(before.logit_sums, py.logit_sums)).toBeGreaterThan(1e-2);
    expect(net.load_state_dict(await torch.load(file))).toEqual({ missing_keys: [], unexpected_keys: [] });
    const node = await evaluate(net, test_iter);
    figures.push(`PyTorch -> Node: PyTorch ${py.accuracy.toFixed(4)}, Node ${node.accuracy.toFixed(4)} ` +
      `(torch ${py.torch}); logit sums differ by ${relativeDiff(node.logit_sums, py.logit_sums).toExponential(1)} (relative)`);
    expect(Math.abs(node.accuracy - py.accuracy)).toBeLessThanOrEqual(1e-4 + 1e-12);
    expect(relativeDiff(node.logit_sums, py.logit_sums)).toBeLessThan(1e-4);
  }, 240000);
});

const hasTorchvision = pythonHas(python, 'torchvision, PIL');
const resizeReason = reason || (hasTorchvision ? '' : 'no torchvision for that Python (apt-get install python3-torchvision)');

(resizeReason ? describe.skip : describe)(`load_data_fashion_mnist's resize against torchvision${resizeReason ? ` (skipped: ${resizeReason})` : ''}`, () => {
  // d2l resizes each PIL image with transforms.Resize, then ToTensor; lenet-torch resizes each batch natively
  // (bilinear, antialiased, rounded to bytes as PIL's image is). PIL's fixed-point filter rounds some pixels the
  // other way: the difference is at most one grey level.
  test.each([224, 96, 20])('resize %i: within one grey level (1/255) of torchvision, pixel for pixel', async (size) => {
    const n = 32;
    const dir = DATA_DIRS.find((d) => fs.existsSync(path.join(d, 't10k-images-idx3-ubyte.gz')))!;
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-torch-resize-')), 'tv.bin');
    await promisify(execFile)(python!, [path.join(__dirname, 'interop', 'resize.py'), path.join(dir, 't10k-images-idx3-ubyte.gz'), String(n), String(size), out], { timeout: 240000 });
    const buffer = fs.readFileSync(out);
    const expected = new Float32Array(buffer.buffer, buffer.byteOffset, buffer.length / 4);
    const [, test_iter] = await d2l.load_data_fashion_mnist(n, { resize: size });
    const [X] = test_iter[Symbol.iterator]().next().value as [Tensor];
    expect(X.shape).toEqual([n, 1, size, size]);
    const ours = X.data() as Float32Array;
    let largest = 0;
    let differing = 0;
    ours.forEach((v, i) => {
      const d = Math.abs(v - expected[i]);
      largest = Math.max(largest, d);
      if (d > 1e-6) differing++;
    });
    figures.push(`resize ${size}: largest difference from torchvision ${(largest * 255).toFixed(3)}/255, ${((100 * differing) / ours.length).toFixed(1)} % of pixels differ`);
    expect(largest).toBeLessThanOrEqual(1 / 255 + 1e-6);
    expect(differing / ours.length).toBeLessThan(0.2);
  }, 240000);
});

