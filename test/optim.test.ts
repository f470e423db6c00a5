import { nn, optim, torch } from '../lib';
import { lenet } from './lenet';

describe('optim.SGD', () => {
  test('step() applies w -= lr * grad', () => {
    const w = torch.tensor([1, 2], { requires_grad: true });
    const opt = new optim.SGD([w], { lr: 0.5 });
    w.mul(w).sum().backward();
    opt.step();
    expect(w.tolist()).toEqual([0, 0]);
    opt.zero_grad();
    expect(w.grad).toBeNull();
  });

  test('zero_grad(false) zeroes instead; param_groups[0].lr changes the rate', () => {
    const w = torch.tensor([1], { requires_grad: true });
    const opt = new optim.SGD([w], { lr: 1 });
    expect(opt.param_groups[0].lr).toBe(1);
    opt.param_groups[0].lr = 0.25;
    w.mul(2).sum().backward();
    opt.step();
    expect(w.item()).toBe(0.5);
    opt.zero_grad(false);
    expect(w.grad!.item()).toBe(0);
  });

  test('momentum and weight decay', () => {
    const w = torch.tensor([1], { requires_grad: true });
    const opt = new optim.SGD([w], { lr: 0.1, momentum: 0.9, weight_decay: 0.1 });
    for (let i = 0; i < 2; i++) {
      opt.zero_grad();
      w.sum().backward();
      opt.step();
    }
    // PyTorch: g1 = 1 + 0.1*1 = 1.1, w1 = 0.89; g2 = 1 + 0.089 = 1.089, buf = 0.9*1.1 + 1.089 = 2.079, w2 = 0.6821
    expect(w.item()).toBeCloseTo(0.6821, 5);
  });

  test("a hand-written d2l loop learns a fixed batch", () => {
    torch.manual_seed(0);
    const net = lenet();
    net.apply((m) => {
      if (m instanceof nn.Linear || m instanceof nn.Conv2d) nn.init.xavier_uniform_(m.weight);
    });
    // A learnable batch: class c lights up rows 2c..2c+2 of a noisy image.
    const labels = Array.from({ length: 64 }, (_, i) => i % 10);
    const pixels = torch.rand(64 * 784).mul(0.2).data() as Float32Array;
    labels.forEach((c, i) => pixels.fill(1, i * 784 + 2 * c * 28, i * 784 + (2 * c + 3) * 28));
    const X = torch.tensor(pixels, { shape: [64, 1, 28, 28] });
    const y = torch.tensor(labels, { dtype: torch.int64 });
    const loss = new nn.CrossEntropyLoss();
    const optimizer = new optim.SGD(net.parameters(), { lr: 0.9 });
    const losses: number[] = [];
    for (let i = 0; i < 300; i++) {
      optimizer.zero_grad();
      const l = loss.forward(net.forward(X), y);
      l.backward();
      optimizer.step();
      losses.push(l.item() as number);
    }
    expect(losses[0]).toBeGreaterThan(2);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.5);
    const acc = torch.no_grad(() => net.forward(X).argmax(1).eq(y).sum().item() as number) / 64;
    expect(acc).toBeGreaterThan(0.9);
  });

  describe('BAD CALL', () => {
    const params = () => new nn.Linear(2, 2).parameters();
    test.each([
      ['lr 0', () => new optim.SGD(params(), { lr: 0 }), RangeError, /lr/],
      ['lr negative', () => new optim.SGD(params(), { lr: -0.1 }), RangeError, /lr/],
      ['lr NaN', () => new optim.SGD(params(), { lr: NaN }), RangeError, /lr/],
      ['lr a string', () => new optim.SGD(params(), { lr: '0.1' as never }), TypeError, /lr/],
      ['lr missing', () => new optim.SGD(params(), {} as never), TypeError, /missing required argument 'lr'/],
      ['params not iterable', () => new optim.SGD(5 as never, { lr: 1 }), TypeError, /params/],
      ['params holding a number', () => new optim.SGD([1] as never, { lr: 1 }), TypeError, /params\[0\]/],
      ['params empty', () => new optim.SGD([], { lr: 1 }), RangeError, /empty parameter list/],
      ['a non-leaf param', () => new optim.SGD([torch.ones(1, { requires_grad: true }).mul(2)], { lr: 1 }), RangeError, /leaf/],
      ['nesterov without momentum', () => new optim.SGD(params(), { lr: 1, nesterov: true }), RangeError, /nesterov/],
      ['negative momentum', () => new optim.SGD(params(), { lr: 1, momentum: -1 }), RangeError, /momentum/],
    ])('%s', (_name, make, type, message) => {
      expect(make).toThrow(type);
      expect(make).toThrow(message);
    });

    test('setting lr to a bad value', () => {
      const opt = new optim.SGD(params(), { lr: 1 });
      expect(() => {
        opt.param_groups[0].lr = 0;
      }).toThrow(RangeError);
      expect(opt.param_groups[0].lr).toBe(1);
    });
  });
});
