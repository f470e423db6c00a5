import * as path from 'node:path';
import { d2l, nn, optim, torch, Tensor } from '../lib';
import { MAX_SEQUENTIAL_DEPTH } from '../lib/nn/layers';
import { lenet } from './lenet';
import { runNode } from './spawn';

describe("the chapter's LeNet", () => {
  test('the shape loop prints the chapter table', () => {
    const net = lenet();
    const lines: string[] = [];
    let X = torch.rand([1, 1, 28, 28], { dtype: torch.float32 });
    for (const layer of net) {
      X = layer.forward(X);
      lines.push(`${layer.constructor.name} output shape: ${X.shape}`);
    }
    expect(lines).toEqual([
      'Reshape output shape: [1, 1, 28, 28]',
      'Conv2d output shape: [1, 6, 28, 28]',
      'Sigmoid output shape: [1, 6, 28, 28]',
      'AvgPool2d output shape: [1, 6, 14, 14]',
      'Conv2d output shape: [1, 16, 10, 10]',
      'Sigmoid output shape: [1, 16, 10, 10]',
      'AvgPool2d output shape: [1, 16, 5, 5]',
      'Flatten output shape: [1, 400]',
      'Linear output shape: [1, 120]',
      'Sigmoid output shape: [1, 120]',
      'Linear output shape: [1, 84]',
      'Sigmoid output shape: [1, 84]',
      'Linear output shape: [1, 10]',
    ]);
  });

  test('has 61,706 parameters under PyTorch names', () => {
    const net = lenet();
    expect(net.parameters().reduce((n, p) => n + p.numel(), 0)).toBe(61706);
    expect(net.named_parameters().map(([name]) => name)).toEqual([
      '1.weight', '1.bias', '4.weight', '4.bias', '8.weight', '8.bias', '10.weight', '10.bias', '12.weight', '12.bias',
    ]);
  });

  test('the whole net maps a batch of 4 to [4, 10]', () => {
    expect(lenet().forward(torch.rand(4, 1, 28, 28)).shape).toEqual([4, 10]);
    expect(lenet().forward(torch.rand(4, 784)).shape).toEqual([4, 10]);
  });

  test('Sequential is iterable, has length and index access, and prints as PyTorch', () => {
    const net = lenet();
    expect(net.length).toBe(13);
    expect([...net]).toHaveLength(13);
    expect(net[1]).toBeInstanceOf(nn.Conv2d);
    expect(net[12]).toBeInstanceOf(nn.Linear);
    expect(String(net).split('\n').slice(0, 3)).toEqual([
      'Sequential(',
      '  (0): Reshape(-1, 1, 28, 28)',
      '  (1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))',
    ]);
    expect(String(net[3])).toBe('AvgPool2d(kernel_size=2, stride=2, padding=0)');
    expect(String(net[8])).toBe('Linear(in_features=400, out_features=120, bias=True)');
  });
});

describe('layers', () => {
  test('Conv2d: positional and keyword arguments, weight and bias shared with the module', () => {
    const a = new nn.Conv2d(1, 6, 5);
    const b = new nn.Conv2d(1, 6, { kernel_size: 5, padding: 2 });
    const c = new nn.Conv2d(3, 4, 3, 2, 1, 1, 1, false);
    expect(a.kernel_size).toEqual([5, 5]);
    expect(b.padding).toEqual([2, 2]);
    expect(c.bias).toBeNull();
    expect(c.stride).toEqual([2, 2]);
    expect(b.weight.shape).toEqual([6, 1, 5, 5]);
    expect(b.bias!.shape).toEqual([6]);
    nn.init.zeros_(b.weight);
    expect(b.weight.sum().item()).toBe(0);
    expect(b.parameters()[0].sum().item()).toBe(0);
    expect(new nn.Conv2d(2, 4, { kernel_size: [3, 1], padding: 'same' }).forward(torch.rand(1, 2, 5, 5)).shape).toEqual([1, 4, 5, 5]);
  });

  test('Linear, pools, activations, Flatten, Reshape', () => {
    const x = torch.rand(2, 3, 8, 8);
    expect(new nn.Linear(4, 2).forward(torch.rand(3, 4)).shape).toEqual([3, 2]);
    expect(new nn.Linear(4, 2, { bias: false }).bias).toBeNull();
    expect(new nn.AvgPool2d(2).forward(x).shape).toEqual([2, 3, 4, 4]);
    expect(new nn.MaxPool2d({ kernel_size: 3, stride: 1, padding: 1 }).forward(x).shape).toEqual([2, 3, 8, 8]);
    const pooled = new nn.AvgPool2d({ kernel_size: 2, stride: 2 }).forward(torch.tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2] }));
    expect(pooled.item()).toBe(2.5);
    expect(new nn.Sigmoid().forward(torch.zeros(1)).item()).toBe(0.5);
    expect(new nn.ReLU().forward(torch.tensor([-1, 2])).tolist()).toEqual([0, 2]);
    expect(new nn.Tanh().forward(torch.zeros(1)).item()).toBe(0);
    expect(new nn.Flatten().forward(x).shape).toEqual([2, 192]);
    expect(new nn.Flatten(0).forward(x).shape).toEqual([384]);
    expect(new nn.Reshape(-1, 3, 64).forward(x).shape).toEqual([2, 3, 64]);
  });

  test('CrossEntropyLoss: mean, sum and none, as PyTorch computes them', () => {
    const logits = torch.tensor([[2, 0, 0], [0, 0, 3]]);
    const y = torch.tensor([0, 2], { dtype: 'int64' });
    const each = -Math.log(Math.exp(2) / (Math.exp(2) + 2));
    const each2 = -Math.log(Math.exp(3) / (Math.exp(3) + 2));
    expect(new nn.CrossEntropyLoss().forward(logits, y).item()).toBeCloseTo((each + each2) / 2, 5);
    expect(new nn.CrossEntropyLoss({ reduction: 'sum' }).forward(logits, y).item()).toBeCloseTo(each + each2, 5);
    expect(new nn.CrossEntropyLoss({ reduction: 'none' }).forward(logits, y).shape).toEqual([2]);
    expect(new nn.CrossEntropyLoss({ ignore_index: 2 }).forward(logits, y).item()).toBeCloseTo(each, 5);
  });

  test('nn.init fills in place and returns the tensor', () => {
    const w = torch.zeros(120, 400);
    expect(nn.init.xavier_uniform_(w)).toBe(w);
    const bound = Math.sqrt(6 / (400 + 120));
    expect(w.max().item()).toBeLessThanOrEqual(bound);
    expect(w.min().item()).toBeGreaterThanOrEqual(-bound);
    expect(w.max().item()).toBeGreaterThan(bound * 0.9);
    nn.init.normal_(w, 0, 0.01);
    expect(Math.abs(w.mean().item() as number)).toBeLessThan(0.001);
    nn.init.constant_(w, 3);
    expect(w.mean().item()).toBe(3);
    expect(nn.init.ones_(torch.zeros(2)).tolist()).toEqual([1, 1]);
    expect(nn.init.uniform_(torch.zeros(100), 2, 3).min().item()).toBeGreaterThanOrEqual(2);
  });

  describe('BAD CALL: TypeError for a wrong type, RangeError for a bad value, naming the argument', () => {
    test.each([
      ['kernel_size 0', () => new nn.Conv2d(1, 6, 0), RangeError, /kernel_size/],
      ['negative out_channels', () => new nn.Conv2d(1, -6, 5), RangeError, /out_channels/],
      ['fractional in_channels', () => new nn.Conv2d(1.5, 6, 5), RangeError, /in_channels/],
      ['string kernel_size', () => new nn.Conv2d(1, 6, 'five' as never), TypeError, /kernel_size/],
      ['negative padding', () => new nn.Conv2d(1, 6, { kernel_size: 5, padding: -1 }), RangeError, /padding/],
      ['groups not dividing channels', () => new nn.Conv2d(4, 6, { kernel_size: 1, groups: 4 }), RangeError, /groups/],
      ['bad padding_mode', () => new nn.Conv2d(1, 6, { kernel_size: 1, padding_mode: 'mirror' as never }), RangeError, /padding_mode/],
      ['missing kernel_size', () => new (nn.Conv2d as unknown as new (...a: unknown[]) => unknown)(1, 6), TypeError, /missing required argument 'kernel_size'/],
      ['unknown keyword', () => new nn.Conv2d(1, 6, { kernel_size: 5, kernal: 3 } as never), TypeError, /unexpected keyword argument 'kernal'/],
      ['kernel_size twice', () => new nn.Conv2d(1, 6, 5, { kernel_size: 5 } as never), TypeError, /multiple values/],
      ['pair of the wrong length', () => new nn.AvgPool2d([2, 2, 2] as never), RangeError, /kernel_size/],
      ['zero stride', () => new nn.AvgPool2d({ kernel_size: 2, stride: 0 }), RangeError, /stride/],
      ['Linear with 0 features', () => new nn.Linear(0, 3), RangeError, /in_features/],
      ['Linear bias not boolean', () => new nn.Linear(3, 3, 'yes' as never), TypeError, /bias/],
      ['Reshape with 0', () => new nn.Reshape(-1, 0), RangeError, /shape\[1\]/],
      ['Reshape with two -1', () => new nn.Reshape(-1, -1), RangeError, /shape\[1\]/],
      ['Sequential of non-modules', () => new nn.Sequential(new nn.ReLU(), 5 as never), TypeError, /layers\[1\]/],
      ['CrossEntropyLoss reduction', () => new nn.CrossEntropyLoss({ reduction: 'avg' as never }), RangeError, /reduction/],
      ['CrossEntropyLoss label_smoothing', () => new nn.CrossEntropyLoss({ label_smoothing: 2 }), RangeError, /label_smoothing/],
      ['MaxPool2d return_indices', () => new nn.MaxPool2d({ kernel_size: 2, return_indices: true as never }), RangeError, /return_indices/],
      ['forward of a non-tensor', () => new nn.ReLU().forward([1, 2] as never), TypeError, /input/],
      ['init of a non-tensor', () => nn.init.xavier_uniform_(null as never), TypeError, /tensor/],
    ])('%s', (_name, make, type, message) => {
      expect(make).toThrow(type);
      expect(make).toThrow(message);
    });
  });

  describe('EXPECTED FAILURE: libtorch errors, and the library keeps working', () => {
    test('a shape mismatch in forward', () => {
      const net = lenet();
      expect(() => net.forward(torch.rand(2, 3, 28, 27))).toThrow(/shape '\[-1, 1, 28, 28\]' is invalid/);
      expect(() => new nn.Linear(3, 2).forward(torch.rand(4, 5))).toThrow(/cannot be multiplied/);
      expect(() => new nn.Conv2d(3, 2, 3).forward(torch.rand(1, 1, 8, 8))).toThrow(/expected input\[1, 1, 8, 8\] to have 3 channels/);
      expect(net.forward(torch.rand(2, 1, 28, 28)).shape).toEqual([2, 10]);
    });
    test('a label out of range in the loss', () => {
      const loss = new nn.CrossEntropyLoss();
      expect(() => loss.forward(torch.rand(2, 10), torch.tensor([3, 10], { dtype: 'int64' }))).toThrow(/out of bounds|out of range/);
      expect(() => loss.forward(torch.rand(2, 10), torch.tensor([-5, 1], { dtype: 'int64' }))).toThrow(/Target -5 is out of bounds/);
      expect(loss.forward(torch.rand(2, 10), torch.tensor([3, 9], { dtype: 'int64' })).dim()).toBe(0);
    });
    test('xavier on a 1-d tensor', () => {
      expect(() => nn.init.xavier_uniform_(torch.zeros(5))).toThrow(/fewer than 2 dimensions/);
    });
  });
});

describe('Module', () => {
  test('apply visits children first, then the module; train() and eval() set training everywhere', () => {
    const net = lenet();
    const seen: string[] = [];
    net.apply((m) => seen.push(m.constructor.name));
    expect(seen[0]).toBe('Reshape');
    expect(seen[seen.length - 1]).toBe('Sequential');
    expect(seen).toHaveLength(14);
    net.eval();
    expect(net.training).toBe(false);
    expect([...net].every((m) => !m.training)).toBe(true);
    net.train();
    expect(net[5].training).toBe(true);
  });

  test("the chapter's init_weights through apply", () => {
    const net = lenet();
    net.apply((m) => {
      if (m instanceof nn.Linear || m instanceof nn.Conv2d) nn.init.xavier_uniform_(m.weight);
    });
    const w = (net[8] as nn.Linear).weight;
    expect(w.max().item()).toBeLessThanOrEqual(Math.sqrt(6 / 520));
  });

  test('a module written in JS: children found among its properties, forward in JS', () => {
    class Reshape extends nn.Module {
      override forward(x: Tensor): Tensor {
        return x.view(-1, 1, 28, 28);
      }
    }
    class Net extends nn.Module {
      conv = new nn.Conv2d(1, 2, 3);
      fc = new nn.Linear(2 * 26 * 26, 10);
      override forward(x: Tensor): Tensor {
        return this.fc.forward(this.conv.forward(x).reshape(x.shape[0], -1));
      }
    }
    const net = new Net();
    expect(net.named_parameters().map(([n]) => n)).toEqual(['conv.weight', 'conv.bias', 'fc.weight', 'fc.bias']);
    expect(net.forward(torch.rand(3, 1, 28, 28)).shape).toEqual([3, 10]);
    const mixed = new nn.Sequential(new Reshape(), new nn.Flatten(), new nn.Linear(784, 10));
    expect(mixed.forward(torch.rand(2, 784)).shape).toEqual([2, 10]);
    expect(mixed.parameters()).toHaveLength(2);
    expect(String(net)).toBe('Net(\n  (conv): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n  (fc): Linear(in_features=1352, out_features=10, bias=True)\n)');
    expect(() => new nn.Module().forward(torch.ones(1))).toThrow(/missing the required "forward"/);
  });

  test('to(device) and to(dtype) move the parameters in place', () => {
    const net = lenet();
    const w = (net[1] as nn.Conv2d).weight;
    net.to('cpu');
    net.to(torch.float64);
    expect(w.dtype).toBe('float64');
    expect(net.forward(torch.rand(1, 1, 28, 28, { dtype: 'float64' })).dtype).toBe('float64');
    expect(() => net.to('gpu')).toThrow(RangeError);
  });

  test("training: assigning it sets the module's own flag, as in PyTorch; a non-boolean is a TypeError", () => {
    const net = lenet();
    net[1].training = false;
    expect(net[1].training).toBe(false);
    expect(net.training).toBe(true);
    expect(net[3].training).toBe(true);
    expect(() => {
      net.training = 'no' as never;
    }).toThrow(new TypeError("Expected training to be a boolean but received 'no' (string)"));
  });

  test("a layer's options are read-only: assigning one is a TypeError saying why (the native layer was built with it)", () => {
    const conv = new nn.Conv2d(1, 6, 5);
    expect(() => {
      (conv as { in_channels: number }).in_channels = 5;
    }).toThrow(new TypeError('Conv2d.in_channels is fixed when the layer is built (the native layer was made with it): build a new nn.Conv2d instead'));
    expect(() => (conv.kernel_size as number[]).push(3)).toThrow(TypeError);
    expect(conv.in_channels).toBe(1);
    expect(() => {
      (new nn.Linear(2, 3) as { out_features: number }).out_features = 4;
    }).toThrow(/Linear\.out_features is fixed/);
  });

  test('EXPECTED FAILURE: the addon refuses an option it does not know instead of taking a default', () => {
    const { native } = require('../lib/binding') as { native: { Module: new (...a: unknown[]) => unknown } };
    const options = { in_channels: 1, out_channels: 1, kernel_size: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, bias: true };
    expect(() => new native.Module('Conv2d', { ...options, padding_mode: 'mirror' })).toThrow("unknown padding_mode 'mirror'");
    expect(() => new native.Module('Conv2d', { ...options, padding: 'full', padding_mode: 'zeros' })).toThrow("unknown padding 'full'");
  });

  test('zero_grad clears gradients', () => {
    const net = new nn.Linear(3, 1);
    net.forward(torch.ones(2, 3)).sum().backward();
    expect(net.weight.grad).not.toBeNull();
    net.zero_grad(false);
    expect(net.weight.grad!.sum().item()).toBe(0);
    net.zero_grad();
    expect(net.weight.grad).toBeNull();
  });
});

describe('a layer used twice, as PyTorch shares it', () => {
  test('parameters() and named_parameters() list its parameters once, under the first name; SGD steps them once', () => {
    const fc = new nn.Linear(1, 1, { bias: false });
    fc.weight = torch.tensor([[1]]);
    const net = new nn.Sequential(fc, fc);
    expect(net.length).toBe(2);
    expect([...net]).toEqual([fc, fc]);
    expect(net.parameters()).toHaveLength(1);
    expect(net.named_parameters().map(([name]) => name)).toEqual(['0.weight']);
    expect(String(net)).toBe('Sequential(\n  (0): Linear(in_features=1, out_features=1, bias=False)\n  (1): Linear(in_features=1, out_features=1, bias=False)\n)');
    const opt = new optim.SGD(net.parameters(), { lr: 0.1 });
    // y = w * w * x: dy/dw = 2 w x = 2, so one step takes w from 1 to 0.8 (stepping it twice gave 0.6).
    net.forward(torch.tensor([[1]])).sum().backward();
    opt.step();
    expect(fc.weight.item()).toBeCloseTo(0.8, 6);
  });

  test('in a module written in JS: children(), modules() and parameters() list it once, as PyTorch does', () => {
    class Twice extends nn.Module {
      a = new nn.Linear(2, 2);
      b = this.a;
      override forward(x: Tensor): Tensor {
        return this.b.forward(this.a.forward(x));
      }
    }
    const net = new Twice();
    expect(net.named_children().map(([name]) => name)).toEqual(['a']);
    expect(net.modules()).toHaveLength(2);
    expect(net.named_parameters().map(([name]) => name)).toEqual(['a.weight', 'a.bias']);
    expect(new nn.Sequential(net, net.a).parameters()).toHaveLength(2);
  });
});

describe('Sequential indexing', () => {
  test('net[i]; a negative index counts from the end, as in PyTorch', () => {
    const net = lenet();
    expect(net[0]).toBeInstanceOf(nn.Reshape);
    expect(net[-1]).toBe(net[net.length - 1]);
    expect(net[-net.length]).toBe(net[0]);
  });

  test('BAD CALL: an index out of range is a RangeError (PyTorch: IndexError), not undefined', () => {
    const net = lenet();
    expect(() => net[99]).toThrow(new RangeError('index 99 is out of range for a Sequential of 13 layers'));
    expect(() => net[-14]).toThrow(RangeError);
    expect(() => new nn.Sequential()[0]).toThrow('index 0 is out of range for a Sequential of 0 layers');
    expect((net as unknown as Record<string, unknown>).somethingElse).toBeUndefined();
  });
});

describe('Sequential nesting', () => {
  test(`nests up to ${MAX_SEQUENTIAL_DEPTH} deep, and runs there`, () => {
    let net: nn.Module = new nn.ReLU();
    for (let i = 0; i < MAX_SEQUENTIAL_DEPTH; i++) net = new nn.Sequential(net);
    expect(net.forward(torch.tensor([-1, 2])).tolist()).toEqual([0, 2]);
  });

  test('BAD CALL: deeper is a RangeError naming the limit at construction, never a native stack overflow (20,000 deep was a SIGSEGV)', () => {
    let net: nn.Module = new nn.ReLU();
    for (let i = 0; i < MAX_SEQUENTIAL_DEPTH; i++) net = new nn.Sequential(net);
    const deeper = () => new nn.Sequential(new nn.ReLU(), net);
    expect(deeper).toThrow(RangeError);
    expect(deeper).toThrow(/Expected layers\[1\] to be a Sequential nested less than 1000 deep but it is 1000 deep: Sequentials nest at most 1000 deep/);
  });
});

describe('a module whose forward returns something other than a Tensor', () => {
  class Broken extends nn.Module {
    override forward(x: Tensor): Tensor {
      void x;
      return 5 as never;
    }
  }
  const message = /Expected the result of Broken\.forward\(\) to be a Tensor but received 5 \(number\)/;

  test('BAD CALL: a TypeError naming the module, when called, in a Sequential and in train_ch6', async () => {
    expect(() => new Broken().forward(torch.ones(1))).toThrow(TypeError);
    expect(() => new Broken().forward(torch.ones(1))).toThrow(message);
    expect(() => new nn.Sequential(new Broken(), new nn.ReLU()).forward(torch.ones(1))).toThrow(message);
    const data = d2l.load_array([torch.rand(8, 1, 28, 28), torch.zeros([8], { dtype: torch.int64 })], 4);
    await expect(d2l.train_ch6(new Broken(), data, data, 1, 0.1, 'cpu', { verbose: false })).rejects.toThrow(message);
  });

  test('a forward that returns a Tensor is unaffected, also when it calls super.forward()', () => {
    class Double extends nn.Linear {
      override forward(x: Tensor): Tensor {
        return super.forward(x).mul(2);
      }
    }
    const layer = new Double(1, 1, false);
    layer.weight = torch.tensor([[3]]);
    expect(layer.forward(torch.tensor([[1]])).item()).toBe(6);
  });
});

describe('Conv2d / Linear: assigning weight and bias, as PyTorch assigns an nn.Parameter', () => {
  test('the parameter takes the values, shares the memory, stays a leaf that requires grad; forward uses it', () => {
    const fc = new nn.Linear(2, 1);
    const old = fc.weight;
    const w = torch.tensor([[2, 3]]);
    fc.weight = w;
    fc.bias = torch.tensor([1]);
    expect(fc.weight.tolist()).toEqual([[2, 3]]);
    expect(fc.weight.is_leaf).toBe(true);
    expect(fc.weight.requires_grad).toBe(true);
    expect(fc.forward(torch.tensor([[1, 1]])).tolist()).toEqual([[6]]);
    nn.init.constant_(w, 1);
    expect(fc.weight.tolist()).toEqual([[1, 1]]);
    // The module's parameter is the same tensor as before: handles taken earlier follow it.
    expect(old.tolist()).toEqual([[1, 1]]);
  });

  test('the gradient is cleared; an optimizer built before the assignment trains the new values', () => {
    const fc = new nn.Linear(2, 1, { bias: false });
    const opt = new optim.SGD(fc.parameters(), { lr: 0.5 });
    fc.forward(torch.ones(1, 2)).sum().backward();
    expect(fc.weight.grad).not.toBeNull();
    fc.weight = torch.tensor([[4, 4]]);
    expect(fc.weight.grad).toBeNull();
    fc.forward(torch.tensor([[1, 2]])).sum().backward();
    opt.step();
    expect(fc.weight.tolist()).toEqual([[3.5, 3]]);
  });

  test('Conv2d, also inside a Sequential, and in a sloppy-mode script (where a getter-only property ignored it)', () => {
    const conv = new nn.Conv2d(1, 1, 1);
    const net = new nn.Sequential(conv, new nn.Flatten());
    const sloppy = new Function('layer', 'w', 'b', 'layer.weight = w; layer.bias = b;') as (l: unknown, w: Tensor, b: Tensor) => void;
    sloppy(net[0], torch.full([1, 1, 1, 1], 3), torch.full([1], 1));
    expect(conv.weight.item()).toBe(3);
    expect(net.forward(torch.ones(1, 1, 2, 2)).tolist()).toEqual([[4, 4, 4, 4]]);
  });

  describe('BAD CALL', () => {
    test.each([
      ['a weight of another shape', () => { new nn.Conv2d(1, 6, 5).weight = torch.zeros(6, 1, 3, 3); }, RangeError,
        /Expected weight to be a tensor of shape \[6, 1, 5, 5\] \(Conv2d\.weight's\) but received one of shape \[6, 1, 3, 3\]/],
      ['a bias of another shape', () => { new nn.Linear(3, 2).bias = torch.zeros(3); }, RangeError, /Expected bias to be a tensor of shape \[2\]/],
      ['a weight of another dtype', () => { new nn.Linear(3, 2).weight = torch.zeros([2, 3], { dtype: torch.float64 }); }, TypeError,
        /Expected weight to be a float32 tensor \(Linear\.weight's dtype\) but received a float64 one/],
      ['a non-Tensor', () => { new nn.Linear(3, 2).weight = [[1, 2, 3]] as never; }, TypeError, /Expected weight to be a Tensor but received an array/],
      ['null for bias', () => { new nn.Linear(3, 2).bias = null; }, TypeError, /Expected bias to be a Tensor \(removing a parameter is not supported\)/],
      ['a bias for a layer built without one', () => { new nn.Conv2d(1, 2, 3, { bias: false }).bias = torch.zeros(2); }, RangeError,
        /Expected bias to be null: the layer was built with bias: false/],
    ])('%s', (_, assign, type, message) => {
      expect(assign).toThrow(type);
      expect(assign).toThrow(message);
    });
  });
});

describe('memory without dispose()', () => {
  test('results that hold an autograd graph are reported to V8 with the graph, so garbage collection keeps up', () => {
    const net = lenet();
    const X = torch.rand(256, 1, 28, 28);
    const start = process.memoryUsage().rss;
    // Each forward in grad mode keeps 10-13 MB of activations alive until its result is collected: 1.5-2 GB in all
    // if nothing told V8. Told, the growth depends on how fast V8's concurrent marking runs beside the loop: ~110 MB
    // in a fresh process here even with two busy loops on the two cores, 847 MB once in a jest worker of the CI's
    // Debian 13 stage under them (and ~720 MB with --single-threaded-gc): the bound sits between.
    for (let i = 0; i < 150; i++) net.forward(X).sum();
    expect((process.memoryUsage().rss - start) / 2 ** 20).toBeLessThan(1200);
  });

  test.each(['plain', 'attribute', 'keep'])('so are those of a forward written in JS, which runs in a scope of its own (its graph counted with its result; %s)', async (mode) => {
    const out = await runNode([path.join(__dirname, 'children', 'js-forward-memory.js'), mode]);
    expect(out).toMatchObject({ code: 0, signal: null });
    // Not told: 2.0-2.1 GiB; told: 180-190 MiB in a fresh process here.
    expect(Number(out.stdout.trim())).toBeLessThan(1000);
  }, 120000);
});
