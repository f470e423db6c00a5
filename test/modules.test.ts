// One module system (issue 20): JS modules register parameters, buffers and children as PyTorch's do, and the
// layers written in TypeScript over nn.functional (BatchNorm1d/2d, Dropout, AdaptiveAvgPool2d) match PyTorch's own in
// train and eval mode: outputs, input and parameter gradients, running statistics. The reference comes from
// test/interop/modules.py (python3-torch); those cases skip, saying why, without it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { d2l, F, nn, torch, Tensor } from '../lib';
import { Residual } from '../scripts/chapter7-nets';
import { findPython, NO_PYTHON_REASON } from './python';
import { refusalsDuring } from './refusals';

const maxDiff = (a: Tensor, b: Tensor) => {
  expect(a.shape).toEqual(b.shape);
  return a.numel() === 0 ? 0 : Number(a.to('float64').sub(b.to('float64')).abs().max().item());
};

class Block extends nn.Module {
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm2d;
  gamma: nn.Parameter;
  constructor() {
    super();
    this.conv1 = new nn.Conv2d(2, 3, { kernel_size: 3, padding: 1 });
    this.bn1 = new nn.BatchNorm2d(3);
    this.gamma = new nn.Parameter(torch.ones([1, 3, 1, 1]));
    this.register_buffer('moving', torch.zeros([3]));
  }
  override forward(X: Tensor): Tensor {
    return F.relu(this.bn1.forward(this.conv1.forward(X)).mul(this.gamma));
  }
}

describe('nn.Module registration', () => {
  test('parameters, buffers and children assigned in the constructor, with PyTorch\'s state_dict keys', () => {
    const net = new nn.Sequential(new Block(), new nn.Flatten());
    expect(Object.keys(net.state_dict())).toEqual([
      '0.gamma', '0.moving', '0.conv1.weight', '0.conv1.bias', '0.bn1.weight', '0.bn1.bias', '0.bn1.running_mean',
      '0.bn1.running_var', '0.bn1.num_batches_tracked',
    ]);
    expect(net.named_parameters().map(([n]) => n)).toEqual(['0.gamma', '0.conv1.weight', '0.conv1.bias', '0.bn1.weight', '0.bn1.bias']);
    expect(net.named_buffers().map(([n]) => n)).toEqual(['0.moving', '0.bn1.running_mean', '0.bn1.running_var', '0.bn1.num_batches_tracked']);
    expect(net.modules().map((m) => m.constructor.name)).toEqual(['Sequential', 'Block', 'Conv2d', 'BatchNorm2d', 'Flatten']);
    const b = net[0] as Block;
    expect(b.gamma).toBeInstanceOf(nn.Parameter);
    expect(b.gamma.requires_grad).toBe(true);
    expect(b.gamma.is_leaf).toBe(true);
    expect(net.parameters()[0]).toBe(b.gamma);
    expect(String(b)).toContain('(bn1): BatchNorm2d(3, eps=0.00001, momentum=0.1, affine=True, track_running_stats=True)');
  });

  test('a Parameter shares memory with its data; a non-persistent buffer is not in state_dict', () => {
    const data = torch.zeros([2]);
    const p = new nn.Parameter(data);
    data.add_(3);
    expect([...p.detach().data()]).toEqual([3, 3]);
    expect(new nn.Parameter(data, false).requires_grad).toBe(false);
    const m = new nn.Module();
    m.register_buffer('scratch', torch.ones([1]), { persistent: false });
    expect(Object.keys(m.state_dict())).toEqual([]);
    expect(m.named_buffers().map(([n]) => n)).toEqual(['scratch']);
  });

  test('a module registered twice under two names is shared: listed once by children and parameters', () => {
    class Twice extends nn.Module {
      a: nn.Linear;
      b: nn.Linear;
      constructor() {
        super();
        this.a = new nn.Linear(2, 2);
        this.b = this.a;
      }
      override forward(X: Tensor) {
        return this.b.forward(this.a.forward(X));
      }
    }
    const t = new Twice();
    expect(t.named_children().map(([n]) => n)).toEqual(['a']);
    expect(t.named_modules().map(([n]) => n)).toEqual(['', 'a']);
    expect(t.named_parameters().map(([n]) => n)).toEqual(['a.weight', 'a.bias']);
    expect(Object.keys(t.state_dict())).toEqual(['a.weight', 'a.bias', 'b.weight', 'b.bias']); // as PyTorch's
    // The same in a built-in Sequential (libtorch's module twice): PyTorch's nn.Sequential(lin, lin) gives these keys.
    const lin = new nn.Linear(2, 2);
    const s = new nn.Sequential(lin, lin);
    expect(Object.keys(s.state_dict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect(s.named_parameters().map(([n]) => n)).toEqual(['0.weight', '0.bias']);
    expect(s.named_modules().map(([n]) => n)).toEqual(['', '0']);
    // Both names load into the one module, as in PyTorch.
    const state = t.state_dict();
    const other = new Twice();
    other.load_state_dict(state);
    expect(maxDiff(other.a.weight, t.a.weight)).toBe(0);
    expect(other.b).toBe(other.a);
  });

  test('train()/eval() reach every module; apply(init_weights) visits them all', () => {
    const net = new nn.Sequential(new Block(), new nn.Dropout(0.5));
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
    const seen: string[] = [];
    net.apply((m) => {
      seen.push(m.constructor.name);
      if (m instanceof nn.Conv2d) nn.init.xavier_uniform_(m.weight);
    });
    expect(seen).toEqual(['Conv2d', 'BatchNorm2d', 'Block', 'Dropout', 'Sequential']);
  });

  test('to(float64) casts a JS module\'s parameters and float buffers in place, not num_batches_tracked', () => {
    const b = new Block();
    const gamma = b.gamma;
    const optimizerView = b.parameters();
    b.to(torch.float64);
    expect(b.gamma).toBe(gamma);
    expect(gamma.dtype).toBe('float64');
    expect(optimizerView.every((p) => p.dtype === 'float64')).toBe(true);
    expect(b.bn1.running_mean!.dtype).toBe('float64');
    expect(b.bn1.num_batches_tracked!.dtype).toBe('int64');
    expect(b.forward(torch.randn([1, 2, 4, 4], { dtype: 'float64' })).dtype).toBe('float64');
  });

  test('load_state_dict() fills parameters and buffers of JS modules', () => {
    const [a, b] = [new Block(), new Block()];
    a.bn1.running_mean!.add_(2);
    a.bn1.num_batches_tracked!.add_(7);
    b.load_state_dict(a.state_dict());
    expect(maxDiff(b.gamma, a.gamma)).toBe(0);
    expect(Number(b.bn1.num_batches_tracked!.item())).toBe(7);
    expect([...b.bn1.running_mean!.data()]).toEqual([2, 2, 2]);
  });

  test('BAD CALL: a parameter, buffer or child assigned the wrong kind of value is a TypeError', () => {
    const b = new Block();
    expect(() => { (b as unknown as { gamma: unknown }).gamma = 5; }).toThrow(new TypeError("cannot assign 'number' as parameter 'gamma' of Block (nn.Parameter or null expected)"));
    expect(() => { (b as unknown as { gamma: unknown }).gamma = torch.ones([1]); }).toThrow(/cannot assign 'Tensor' as parameter 'gamma'/);
    expect(() => { (b as unknown as { moving: unknown }).moving = [1, 2]; }).toThrow(/cannot assign 'Array' as buffer 'moving' of Block \(a Tensor or null expected\)/);
    expect(() => { (b as unknown as { conv1: unknown }).conv1 = 'x'; }).toThrow(/cannot assign 'string' as child module 'conv1'/);
    expect(() => new nn.Parameter(5 as never)).toThrow(new TypeError('Expected data to be a Tensor but received 5 (number)'));
    expect(() => new nn.Parameter('x' as never)).toThrow(new TypeError("Expected data to be a Tensor but received 'x' (string)"));
    class Gamma extends nn.Module {
      gamma: nn.Parameter;
      constructor() {
        super();
        this.gamma = new nn.Parameter(5 as never);
      }
    }
    expect(() => new Gamma()).toThrow(new TypeError('Expected data to be a Tensor but received 5 (number)'));
    expect(() => b.register_buffer('gamma', torch.ones([1]))).toThrow(RangeError);
    expect(() => b.register_buffer('a.b', torch.ones([1]))).toThrow(RangeError);
    expect(() => b.register_buffer('x', 3 as never)).toThrow(TypeError);
    expect(() => b.register_parameter('x', torch.ones([1]) as never)).toThrow(TypeError);
    // Reassigning with the right kind works.
    b.gamma = new nn.Parameter(torch.zeros([1, 3, 1, 1]));
    expect(b.parameters()[0]).toBe(b.gamma);
  });

  test('BAD CALL: a JS forward returning a non-Tensor is a TypeError naming the module', () => {
    class Bad extends nn.Module {
      override forward(): Tensor {
        return [1] as never;
      }
    }
    expect(() => new nn.Sequential(new Bad()).forward(torch.ones([1]))).toThrow(/the result of Bad.forward\(\)/);
    // A forward set on the instance, or as a class field, is checked as well.
    const m = new nn.Module();
    m.forward = (() => 5) as never;
    expect(() => new nn.Sequential(m).forward(torch.ones([1]))).toThrow(new TypeError('Expected the result of Module.forward() to be a Tensor but received 5 (number)'));
    const field = new nn.Module(); // as a class field defines it
    Object.defineProperty(field, 'forward', { value: () => 'x', writable: true, configurable: true });
    expect(() => field.forward(torch.ones([1]))).toThrow(new TypeError("Expected the result of Module.forward() to be a Tensor but received 'x' (string)"));
    const ok = new nn.Module();
    ok.forward = (x: Tensor) => x.mul(2);
    expect([...ok.forward(torch.ones([1])).data()]).toEqual([2]);
  });
});

describe('train_ch6 and evaluate_accuracy_gpu on a JS module whose forward returns a non-Tensor', () => {
  class Bad extends nn.Module {
    lin = new nn.Linear(4, 10);
    override forward(): Tensor {
      return [1] as never;
    }
  }
  class BadField extends nn.Module {
    lin = new nn.Linear(4, 10);
    constructor() {
      super();
      this.forward = ((x: Tensor) => this.lin.forward(x).tolist()) as never;
    }
  }
  const data = () => d2l.load_array([torch.rand(8, 4), torch.randint(0, 10, [8])], 4);

  test.each([['a forward method', Bad], ['a forward set on the instance', BadField]])(
    'BAD CALL: %s: evaluate_accuracy_gpu rejects with a TypeError naming the module', async (_, Net) => {
      await expect(d2l.evaluate_accuracy_gpu(new Net(), data())).rejects.toThrow(
        new RegExp(`^Expected the result of ${Net.name}.forward\\(\\) to be a Tensor but received an? (array|Array)`));
      await expect(d2l.evaluate_accuracy_gpu(new Net(), data())).rejects.toThrow(TypeError);
    });

  test.each([['a forward method', Bad], ['a forward set on the instance', BadField]])(
    'BAD CALL: %s: train_ch6 rejects naming the module, before training', async (_, Net) => {
      await expect(d2l.train_ch6(new Net(), data(), data(), 1, 0.1, 'cpu', { verbose: false })).rejects.toThrow(
        new RegExp(`the net cannot take a batch of shape \\[2, 4\\] from train_iter: Expected the result of ${Net.name}.forward\\(\\) to be a Tensor`));
    });

  // (train_ch6's shape probe re-throws the net's first forward's failure with what it was doing: a TypeError stays one.)
  test('BAD CALL: train_ch6 rejects with a TypeError', async () => {
    await expect(d2l.train_ch6(new Bad(), data(), data(), 1, 0.1, 'cpu', { verbose: false })).rejects.toThrow(TypeError);
  });
});

describe('layers in TypeScript over nn.functional', () => {
  test('BAD CALL: arguments are checked, naming them', () => {
    expect(() => new nn.BatchNorm2d(0)).toThrow(RangeError);
    expect(() => new nn.BatchNorm2d('3' as never)).toThrow(TypeError);
    expect(() => new nn.BatchNorm2d(3, { eps: -1 })).toThrow(/eps/);
    expect(() => new nn.BatchNorm1d(3, { momentm: 0.1 } as never)).toThrow(/momentm/);
    expect(() => new nn.Dropout(1.5)).toThrow(new RangeError('Expected p to be a probability between 0 and 1 but received 1.5 (number)'));
    expect(() => new nn.Dropout('0.5' as never)).toThrow(TypeError);
    expect(() => new nn.AdaptiveAvgPool2d(0)).toThrow(RangeError);
    expect(() => new nn.ReLU({ inplace: 1 } as never)).toThrow(TypeError);
    expect(() => new nn.BatchNorm2d(3).forward(torch.ones([3, 4, 4]))).toThrow(new RangeError('Expected input to be 4D ([N, C, H, W]) but received a 3D tensor of shape [3, 4, 4]'));
    expect(() => new nn.BatchNorm1d(3).forward(torch.ones([2, 3, 4, 4]))).toThrow(RangeError);
  });

  test('EXPECTED FAILURE: libtorch\'s message for channels that do not match', () => {
    expect(() => new nn.BatchNorm2d(3).forward(torch.ones([2, 4, 2, 2]))).toThrow(/running_mean should contain 4 elements not 3/);
  });

  test('ReLU({inplace: true}) overwrites its input; Dropout in eval mode and p = 0 is the identity', () => {
    const X = torch.tensor([-1, 2]);
    const Y = new nn.ReLU({ inplace: true }).forward(X);
    expect([...X.data()]).toEqual([0, 2]);
    expect([...Y.data()]).toEqual([0, 2]);
    expect(String(new nn.ReLU(true))).toBe('ReLU(inplace=True)');
    // In a native Sequential, after a layer whose output autograd does not need: gradients as without inplace.
    torch.manual_seed(0);
    const a = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU({ inplace: true }), new nn.Linear(4, 2));
    const b = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
    b.load_state_dict(a.state_dict());
    const input = torch.randn([5, 3]);
    a.forward(input).sum().backward();
    b.forward(input).sum().backward();
    expect(maxDiff((a[0] as nn.Linear).weight.grad!, (b[0] as nn.Linear).weight.grad!)).toBe(0);
    const d = new nn.Dropout(0.9).eval();
    expect(maxDiff(d.forward(X), X)).toBe(0);
    torch.manual_seed(1);
    const kept = new nn.Dropout(0.5).forward(torch.ones([10000]));
    const ones = Number(kept.eq(2).sum().item());
    expect(ones + Number(kept.eq(0).sum().item())).toBe(10000); // kept ones scaled by 1 / (1 - p)
    expect(Math.abs(ones - 5000)).toBeLessThan(300); // 6 standard deviations
  });
});

describe('train_ch6 on a net written in JS (a Residual block, batch norm, dropout)', () => {
  test('trains it: the loss falls, the running statistics move, evaluation runs in eval mode', async () => {
    torch.manual_seed(0);
    const [train, test] = await d2l.load_data_fashion_mnist(512);
    const [X, y] = train[Symbol.iterator]().next().value as [Tensor, Tensor];
    const [Xt, yt] = test[Symbol.iterator]().next().value as [Tensor, Tensor];
    const train_iter = d2l.load_array([X, y], 64);
    const test_iter = d2l.load_array([Xt, yt], 256, false);
    const net = new nn.Sequential(
      new nn.Conv2d(1, 8, { kernel_size: 3, stride: 2, padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(),
      new Residual(8, 8), new Residual(8, 16, true, 2), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(),
      new nn.Dropout(0.1), new nn.Linear(16, 10));
    const bn = net[1] as nn.BatchNorm2d;
    const modes: boolean[] = [];
    const spy = net.forward.bind(net);
    net.forward = (x: Tensor) => {
      modes.push(net.training && (net[7] as nn.Dropout).training && bn.training);
      return spy(x);
    };
    const records: d2l.EpochRecord[] = [];
    await d2l.train_ch6(net, train_iter, test_iter, 3, 0.1, 'cpu', { verbose: false, on_epoch: (r) => records.push(r) });
    expect(records).toHaveLength(3);
    expect(records[2].loss).toBeLessThan(records[0].loss);
    expect(Number(bn.num_batches_tracked!.item())).toBe(3 * 8);
    expect(Number(bn.running_var!.sub(1).abs().sum().item())).toBeGreaterThan(0);
    // The net can be traced, so its JS forward runs only for the traces (on 3 and 2 examples in training mode, then
    // in eval mode) and train_ch6's opening check (eval mode); every step and evaluation runs a traced graph, in
    // the mode it was traced in, on the worker thread (test/train.test.ts compares it with the JS road).
    expect(modes).toEqual([true, true, false, false, false]);
  }, 120000);
});

describe('while train_ch6 trains a net written in JS, its mode is not to be changed', () => {
  const REFUSED = /being trained by train_ch6/;
  const data = () => d2l.load_array([torch.rand(64, 1, 8, 8), torch.randint(0, 10, [64])], 8);
  const makeNet = () => new nn.Sequential(
    new nn.Conv2d(1, 4, { kernel_size: 3, padding: 1 }), new nn.BatchNorm2d(4), new Residual(4, 4), new nn.Flatten(),
    new nn.Linear(4 * 8 * 8, 10));

  test.each<[string, (net: nn.Sequential) => unknown]>([
    ['net.eval()', (net) => net.eval()],
    ['net.train()', (net) => net.train()],
    ['net.train(false)', (net) => net.train(false)],
    ['net.training = false', (net) => { net.training = false; }],
    ['a JS block\'s eval()', (net) => net[2].eval()],
  ])('%s is refused with an Error saying the net is training', async (_, attempt) => {
    const net = makeNet();
    const seen = await refusalsDuring([() => attempt(net)], () => d2l.train_ch6(net, data(), data(), 2, 0.01, 'cpu', { verbose: false }));
    expect(seen.tried).toBeGreaterThan(0);
    expect(seen.errors.length).toBe(seen.tried);
    for (const message of seen.errors) expect(message).toMatch(REFUSED);
  }, 60000);

  // A module with no libtorch module under it (BatchNorm2d, a JS module holding only Parameters) is held through the
  // memory of its parameters and buffers, which the training's hold covers too.
  test("a BatchNorm2d's eval() is refused too", async () => {
    const net = makeNet();
    const seen = await refusalsDuring([() => net[1].eval()], () => d2l.train_ch6(net, data(), data(), 2, 0.01, 'cpu', { verbose: false }));
    expect(seen.tried).toBeGreaterThan(0);
    expect(seen.errors.length).toBe(seen.tried);
  }, 60000);

  // A module with no tensors at all (Dropout) is held as a module: the training marks every module of its net.
  test.each<[string, (d: nn.Dropout) => unknown]>([
    ["a Dropout's eval()", (d) => d.eval()],
    ["a Dropout's training = false", (d) => { d.training = false; }],
  ])('%s is refused too, and allowed again once the training ends', async (_, attempt) => {
    const dropout = new nn.Dropout(0.5);
    const net = new nn.Sequential(new nn.Flatten(), new nn.Linear(64, 32), dropout, new nn.Linear(32, 10));
    const seen = await refusalsDuring([() => attempt(dropout)], () => d2l.train_ch6(net, data(), data(), 2, 0.01, 'cpu', { verbose: false }));
    expect(seen.tried).toBeGreaterThan(0);
    expect(seen.errors.length).toBe(seen.tried);
    for (const message of seen.errors) expect(message).toMatch(REFUSED);
    attempt(dropout);
    expect(dropout.training).toBe(false);
  }, 60000);

  test('on_batch may change the mode (the net is let go of while it runs), and evaluate_accuracy_gpu inside it keeps it free', async () => {
    const dropout = new nn.Dropout(0.5);
    const net = new nn.Sequential(new nn.Flatten(), new nn.Linear(64, 32), dropout, new nn.Linear(32, 10));
    const modes: boolean[] = [];
    await d2l.train_ch6(net, data(), data(), 1, 0.01, 'cpu', {
      verbose: false,
      on_batch: () => {
        void d2l.evaluate_accuracy_gpu(net, data());
        dropout.eval();
        modes.push(dropout.training);
        dropout.train();
      },
    });
    expect(modes.length).toBe(8);
    expect(modes.every((m) => m === false)).toBe(true);
  }, 60000);
});

const python = findPython();
(python ? describe : describe.skip)(`the same as PyTorch's modules${python ? '' : ` (skipped: ${NO_PYTHON_REASON})`}`, () => {
  let ref: Record<string, Tensor>;
  beforeAll(async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'modules-')), 'ref.pt');
    const p = spawnSync(python!, [path.join(__dirname, 'interop', 'modules.py'), file], { encoding: 'utf8', timeout: 120000 });
    if (p.status !== 0) throw new Error(p.stderr);
    ref = await torch.load(file);
  });

  const MAKE: Record<string, () => nn.Module> = {
    bn2d: () => new nn.BatchNorm2d(3),
    bn2d_momentum_none: () => new nn.BatchNorm2d(3, { momentum: null }),
    bn2d_no_affine: () => new nn.BatchNorm2d(3, { eps: 1e-3, affine: false }),
    bn2d_no_stats: () => new nn.BatchNorm2d(3, { track_running_stats: false }),
    bn1d: () => new nn.BatchNorm1d(6, { momentum: 0.3 }),
    bn1d_3d: () => new nn.BatchNorm1d(6),
    adaptive_1: () => new nn.AdaptiveAvgPool2d([1, 1]),
    adaptive_2x3: () => new nn.AdaptiveAvgPool2d([2, 3]),
    dropout_0: () => new nn.Dropout(0),
    maxpool_pad: () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
  };

  test.each(Object.keys(MAKE))('%s: train-mode outputs and gradients, running statistics, eval-mode output', (name) => {
    const m = MAKE[name]();
    const get = (prefix: string) =>
      Object.fromEntries(Object.entries(ref).filter(([k]) => k.startsWith(`${name}/${prefix}/`)).map(([k, v]) => [k.slice(name.length + prefix.length + 2), v]));
    m.load_state_dict(get('state'));
    const X = ref[`${name}/X`];
    m.train();
    for (const step of [0, 1]) {
      const x = X.mul(step + 1).requires_grad_();
      const y = m.forward(x);
      y.mul(torch.arange(y.numel()).reshape([...y.shape]).float().sin()).sum().backward();
      expect(maxDiff(y.detach(), ref[`${name}/train${step}`])).toBeLessThan(1e-5);
      expect(maxDiff(x.grad!, ref[`${name}/xgrad${step}`])).toBeLessThan(1e-5);
    }
    const grads = get('grad');
    expect(m.named_parameters().map(([k]) => k)).toEqual(Object.keys(grads));
    for (const [k, p] of m.named_parameters()) expect(maxDiff(p.grad!, grads[k])).toBeLessThan(1e-5);
    const after = get('after');
    const state = m.state_dict();
    expect(Object.keys(state)).toEqual(Object.keys(after));
    for (const k of Object.keys(after)) expect(maxDiff(state[k], after[k])).toBeLessThan(1e-6);
    m.eval();
    expect(maxDiff(torch.no_grad(() => m.forward(X)), ref[`${name}/eval`])).toBeLessThan(1e-5);
  });
});
