// The CPU fast paths (native/kernels.h: Conv2d's direct loops and weight gradient, the fused Conv2d + Sigmoid,
// AvgPool2d with kernel == stride) and the data-parallel training step must give libtorch's own results. The direct
// loops are compiled for several SIMD targets (native/kernels-simd.cc): every one this CPU runs is tested, by name
// (an AVX-512 machine tests 'avx512', 'avx2', 'sse4' and 'default'; an ARM64 one 'neon', its baseline: Highway
// compiles no separate fallback there).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { d2l, nn, torch, Tensor } from '../lib';
import { native } from '../lib/binding';
import { lenet } from './lenet';

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale || 1);
}

// Output, input gradient and parameter gradients of net on X, with the fast kernels on or off.
function run(net: nn.Module, X: Tensor, fast: boolean): Float32Array[] {
  native.setFastKernels(fast);
  try {
    net.zero_grad();
    const x = X.detach();
    x.requires_grad = true;
    const out = net.forward(x);
    out.mul(torch.rand(out.shape)).sum().backward();
    return [out.data(), x.grad!.data(), ...net.parameters().map((p) => p.grad!.data())] as Float32Array[];
  } finally {
    native.setFastKernels(true);
  }
}

/** The fast kernels give libtorch's output and gradients for net on X (one seed for the loss's random weights). */
function expectAsLibtorch(net: nn.Module, X: Tensor, seed: number, tolerance: number): void {
  torch.manual_seed(seed);
  const fast = run(net, X, true);
  torch.manual_seed(seed);
  const slow = run(net, X, false);
  expect(fast.map((f) => f.length)).toEqual(slow.map((f) => f.length));
  fast.forEach((f, i) => expect(maxRelDiff(f, slow[i])).toBeLessThan(tolerance));
}

describe('the SIMD targets of the direct loops', () => {
  test('the best target is the default, and each can be chosen', () => {
    const targets = native.cpuCapabilities;
    // The architecture's baseline comes last: on x86-64 the portable fallback ('default'; Highway 1.1 and later, as
    // in Debian 13, have an SSE2 target instead), on ARM64 NEON, which every such CPU has.
    const baselines = process.arch === 'arm64' ? ['neon'] : ['default', 'sse2'];
    expect(baselines).toContain(targets[targets.length - 1]);
    expect(native.cpuCapability()).toBe(targets[0]);
    try {
      for (const t of targets) {
        native.setCpuCapability(t);
        expect(native.cpuCapability()).toBe(t);
      }
      native.setCpuCapability('auto');
      expect(native.cpuCapability()).toBe(targets[0]);
    } finally {
      native.setCpuCapability('auto');
    }
  });

  test('ATEN_CPU_CAPABILITY: the loops run on AVX-512, AVX2 and NEON; on SSE4 and the fallback libtorch\'s kernels do', () => {
    // Each target in a process of its own, chosen as a user chooses it (not forced, as the tests below force it).
    const child = `const { torch, nn } = require(${JSON.stringify(path.join(__dirname, '..'))});
      const { native } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'binding'))});
      const conv = new nn.Conv2d(1, 4, { kernel_size: 3, padding: 1 });
      conv.forward(torch.rand(2, 1, 8, 8)).sum().backward();
      process.stdout.write(JSON.stringify([native.cpuCapability(), native.directKernelCalls()]));`;
    const ran: Record<string, number> = {};
    // Under emulation (scripts/arm64-check.sh), Node is started through the emulator, as this process was.
    const prefix = (process.env.LENET_TORCH_CHILD_PREFIX ?? '').split(' ').filter(Boolean);
    const [command, ...args] = [...prefix, process.execPath, '-e', child];
    for (const t of native.cpuCapabilities) {
      const p = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, ATEN_CPU_CAPABILITY: t } });
      // (libtorch warns that 'sse4' is not one of its own names, and keeps its best: only the loops take it.)
      expect({ status: p.status, stdout: p.stdout }).toEqual({ status: 0, stdout: expect.stringMatching(/^\[/) });
      const [target, calls] = JSON.parse(p.stdout) as [string, number];
      expect(target).toBe(t);
      ran[t] = calls;
    }
    const expected = Object.fromEntries(native.cpuCapabilities.map((t) => [t, ['avx512', 'avx2', 'neon'].includes(t) ? 2 : 0]));
    expect(ran).toEqual(expected);
  });

  test('BAD CALL: a target this build or CPU lacks is a RangeError naming those it has, and changes nothing', () => {
    // (Native errors come from the addon's realm, not jest's: checked by name.)
    expect(() => native.setCpuCapability('avx1024')).toThrow(expect.objectContaining({ name: 'RangeError' }));
    expect(() => native.setCpuCapability('avx1024')).toThrow(`('${native.cpuCapabilities.join("', '")}')`);
    expect(native.cpuCapability()).toBe(native.cpuCapabilities[0]);
  });
});

describe.each(native.cpuCapabilities)('CPU fast kernels on SIMD target %s agree with libtorch', (target) => {
  beforeAll(() => native.setCpuCapability(target));
  afterAll(() => native.setCpuCapability('auto'));

  test('the direct loops run that target (torch.backends.cpu.get_cpu_capability() says so)', () => {
    expect(native.cpuCapability()).toBe(target);
    expect(torch.backends.cpu.get_cpu_capability()).toBe(target.toUpperCase());
  });

  test.each([
    ['conv1 of LeNet', 1, 6, 5, 2, 28, 7],
    ['conv2 of LeNet', 6, 16, 5, 0, 14, 5],
    ['3x3, padding 1, odd size', 3, 4, 3, 1, 9, 3],
    ['1x1', 2, 5, 1, 0, 7, 2],
    ['asymmetric kernel and padding', 2, 3, [3, 1], [1, 0], 8, 4],
    // The input gradient's direct loop: blocks of 6 input channels, pairs of rows, a vector of columns to a register.
    ['8 input channels (a block of 6 and 2 single), odd height, wider than 16', 8, 3, 3, 1, [7, 21], 2],
    // One input channel: the direct loops, in blocks of 6 output channels (3 for the weight gradient on AVX2).
    ['one channel, 8 outputs (a block of 6 and 2 single channels)', 1, 8, 5, 2, 28, 3],
    ['one channel, 1 output, 3x3 without padding, odd size', 1, 1, 3, 0, 11, 2],
    ['one channel, wider than one 32-column chunk', 1, 6, 5, 2, [13, 45], 2],
    ['one channel, asymmetric kernel and padding', 1, 7, [3, 1], [1, 0], [9, 6], 2],
    ['one channel, padding as large as the kernel (libtorch\'s path)', 1, 2, 3, 3, 6, 2],
    ['one channel, 1x1', 1, 12, 1, 0, 5, 2],
  ])('Conv2d %s', (_name, cin, cout, k, pad, size, batch) => {
    torch.manual_seed(3);
    const net = new nn.Conv2d(cin, cout, { kernel_size: k as number, padding: pad as number });
    const [h, w] = Array.isArray(size) ? size : [size, size];
    const X = torch.rand(batch, cin, h, w);
    expectAsLibtorch(net, X, 4, 1e-5);
  });

  test.each([
    ['one input channel (the direct loop)', 1, 6, 5, 2],
    ['several input channels (libtorch\'s kernel)', 6, 16, 5, 0],
  ])('Conv2d in no-grad mode (evaluation), %s: the same output', (_name, cin, cout, k, pad) => {
    torch.manual_seed(3);
    const conv = new nn.Conv2d(cin, cout, { kernel_size: k, padding: pad });
    const X = torch.rand(5, cin, 14, 14);
    const forward = (fast: boolean) => {
      native.setFastKernels(fast);
      try {
        return torch.no_grad(() => conv.forward(X)).data() as Float32Array;
      } finally {
        native.setFastKernels(true);
      }
    };
    expect(maxRelDiff(forward(true), forward(false))).toBeLessThan(1e-5);
  });

  test.each([
    ['one input channel (sigmoid in the direct loop)', 1, 6, 2, 1],
    ['several input channels (sigmoid in place)', 6, 16, 0, 1],
    ['one input channel, saturating inputs (|z| up to ~1000)', 1, 6, 2, 300],
  ])('Conv2d followed by Sigmoid in a Sequential (one fused node), %s', (_name, cin, cout, pad, scale) => {
    torch.manual_seed(3);
    const net = new nn.Sequential(new nn.Conv2d(cin, cout, { kernel_size: 5, padding: pad }), new nn.Sigmoid());
    const X = torch.rand(4, cin, 14, 14).sub(0.5).mul(scale);
    expectAsLibtorch(net, X, 4, 1e-5);
  });

  test.each([
    ['one input channel (the direct forward, weight and input gradients: 3 loops)', 1, 6, 5, 2, 28, 3],
    ['several input channels (the direct input gradient: 1 loop)', 6, 16, 5, 0, 14, 1],
  ])("Conv2d without a bias, through libtorch's dispatcher (aten::convolution's CPU kernel), %s", (_name, cin, cout, k, pad, size, loops) => {
    torch.manual_seed(3);
    const net = new nn.Conv2d(cin, cout, { kernel_size: k, padding: pad, bias: false });
    const X = torch.rand(4, cin, size, size);
    const before = native.directKernelCalls();
    expectAsLibtorch(net, X, 4, 1e-5);
    // The fast run took the direct loops, the comparison run libtorch's kernels only.
    expect(native.directKernelCalls() - before).toBe(loops);
  });

  test('Conv2d without a bias trains (it takes libtorch\'s path)', () => {
    torch.manual_seed(3);
    const conv = new nn.Conv2d(2, 3, { kernel_size: 3, bias: false });
    const out = conv.forward(torch.rand(2, 2, 6, 6));
    out.sum().backward();
    expect(out.shape).toEqual([2, 3, 4, 4]);
    expect(conv.weight.grad!.shape).toEqual([3, 2, 3, 3]);
  });

  test.each([
    ['2x2 over 28x28', 2, [2, 6, 28, 28]],
    ['2x2 over an odd size (the last row and column are dropped)', 2, [3, 2, 9, 7]],
    ['3x3', 3, [2, 2, 9, 9]],
    ['2x3', [2, 3], [1, 3, 8, 9]],
  ])('AvgPool2d %s', (_name, k, shape) => {
    const pool = new nn.AvgPool2d(k as number);
    const X = torch.rand(shape as number[]);
    expectAsLibtorch(pool, X, 5, 1e-6);
  });

  // max_pool2d_with_indices' CPU kernel (native/kernels.cc): values and indices exactly libtorch's, ties (inputs of a
  // few distinct values, zeros as after ReLU), NaN (the last one in the window wins, across rows too), -inf (a corner
  // window of -inf only, where the padding must lose to it), and libtorch's backward, which routes the gradient by
  // those indices; at 2 threads, so that planes of over 32k elements are split across tasks.
  const maxPool = (X: Tensor, fast: boolean, options: Record<string, unknown>): [number[], number[], number[], number[]] => {
    native.setFastKernels(fast);
    try {
      const x = X.detach();
      x.requires_grad = true;
      const { kernel_size, ...rest } = options;
      const [out, indices] = torch.nn.functional.max_pool2d(x, kernel_size as number | number[], { ...rest, return_indices: true });
      out.nan_to_num(0, 0, 0).mul(torch.arange(out.numel()).view(out.shape)).sum().backward();
      return [Array.from(out.data() as Float32Array), Array.from(indices.data() as BigInt64Array, Number), Array.from(x.grad!.data() as Float32Array), out.shape];
    } finally {
      native.setFastKernels(true);
    }
  };

  test.each([
    ['3x3, stride 2, padding 1 (ResNet\'s stem)', [2, 3, 17, 17], 3, 2, 1, false],
    ['3x3, stride 1, padding 1 (GoogLeNet\'s branches)', [2, 4, 12, 12], 3, 1, 1, false],
    ['3x3, stride 2, narrower than a vector (GoogLeNet\'s 6 x 6)', [3, 5, 6, 6], 3, 2, 1, false],
    ['3x3, stride 2, no padding (AlexNet, NiN)', [2, 3, 27, 27], 3, 2, 0, false],
    ['2x2, stride 2 (VGG)', [2, 3, 14, 14], 2, 2, 0, false],
    ['ceil_mode: a last window clipped at the right and bottom edges', [2, 2, 10, 12], 3, 2, 0, true],
    ['ceil_mode with padding', [2, 2, 10, 11], 3, 2, 1, true],
    ['asymmetric kernel, stride and padding, wider than two vectors', [1, 3, 9, 37], [3, 2], [2, 1], [1, 0], false],
    ['stride 3 over a 40-wide row', [1, 2, 10, 40], 4, 3, 2, false],
    ['a 3-d input (C, H, W)', [3, 10, 10], 3, 2, 1, false],
    ['planes of 190 x 190, split across tasks', [1, 3, 190, 190], 3, 2, 1, false],
  ])('max_pool2d with indices, %s', (_name, shape, k, stride, pad, ceil) => {
    const threads = torch.get_num_threads();
    torch.set_num_threads(2);
    try {
      torch.manual_seed(8);
      const dims = shape as number[];
      const X = torch.randint(0, 4, dims).to(torch.float32);
      const [H, W] = dims.slice(-2);
      // A 3 x 3 block of -inf in the last plane's bottom-right corner: every case's last window lies inside it.
      X.view(-1, H, W).select(0, -1).narrow(0, H - 3, 3).narrow(1, W - 3, 3).fill_(-Infinity);
      const flat = X.view(-1);
      // NaNs: two in a row, and (in the wider cases) one a row below and a column left of another.
      for (const i of [5, 7, 40, 41, W + 4]) flat.narrow(0, i, 1).fill_(NaN);
      flat.narrow(0, 1, 1).fill_(-Infinity);
      const options = { kernel_size: k, stride, padding: pad, ceil_mode: ceil };
      const before = native.directKernelCalls();
      const fast = maxPool(X, true, options);
      expect(native.directKernelCalls() - before).toBe(1);
      const slow = maxPool(X, false, options);
      expect(fast[3]).toEqual(slow[3]);
      expect(fast[0]).toEqual(slow[0]); // toEqual takes NaN as equal to NaN
      expect(fast[1]).toEqual(slow[1]);
      expect(fast[2]).toEqual(slow[2]);
      expect(fast[0].some(Number.isNaN)).toBe(true);
      expect(fast[0].includes(-Infinity)).toBe(true);
    } finally {
      torch.set_num_threads(threads);
    }
  });

  test.each([
    ['dilation 2', { kernel_size: 3, dilation: 2 }, [1, 2, 9, 9], false],
    ['a channels-last input', { kernel_size: 3, stride: 2, padding: 1 }, [2, 3, 9, 9], true],
    ['a stride past the padded input', { kernel_size: 3, stride: 20 }, [1, 2, 9, 9], false],
  ])("max_pool2d with indices, %s: libtorch's kernel, the same results", (_name, options, shape, channelsLast) => {
    torch.manual_seed(9);
    let X = torch.rand(shape as number[]);
    if (channelsLast) X = X.contiguous({ memory_format: 'channels_last' });
    const before = native.directKernelCalls();
    const fast = maxPool(X, true, options);
    expect(native.directKernelCalls() - before).toBe(0);
    expect(fast).toEqual(maxPool(X, false, options));
  });

  test.each([
    ['padding over half the kernel', { kernel_size: 3, padding: 2 }],
    ['stride 0', { kernel_size: 3, stride: 0 }],
    ['a kernel of three sizes', { kernel_size: [3, 3, 3] }],
    ['an empty dilation', { kernel_size: 3, dilation: [] }],
  ])("BAD CALL: max_pool2d with %s is libtorch's Error, as without the loop", (_name, options) => {
    const X = torch.rand(1, 2, 9, 9);
    const message = (fast: boolean) => {
      try {
        maxPool(X, fast, options);
      } catch (error) {
        expect(error).toBeInstanceOf(Error);
        return (error as Error).message;
      }
      return 'no error';
    };
    const fast = message(true);
    expect(fast).not.toBe('no error');
    expect(fast).toBe(message(false));
  });

  test("the chapter's LeNet: same loss and gradients", () => {
    torch.manual_seed(6);
    const net = lenet();
    const X = torch.rand(32, 1, 28, 28);
    expectAsLibtorch(net, X, 7, 1e-5);
  });
});

describe('the data-parallel training step', () => {
  test('one thread and two threads train to the same weights', async () => {
    // Under emulation (scripts/arm64-check.sh sets LENET_TORCH_EMULATED: ~10 examples/sec) 64 examples in batches of
    // 32, each split between the two threads as the 300 in batches of 100 are; the 300 took 6 minutes there.
    const [n, batch] = process.env.LENET_TORCH_EMULATED ? [64, 32] : [300, 100];
    const X = torch.rand(n, 1, 28, 28);
    const y = torch.randint(0, 10, [n]);
    const train = async (threads: number) => {
      torch.set_num_threads(threads);
      torch.manual_seed(8);
      const net = lenet();
      await d2l.train_ch6(net, d2l.load_array([X, y], batch, false), d2l.load_array([X, y], batch, false), 2, 0.9, 'cpu', { verbose: false });
      return net.parameters().map((p) => p.data() as Float32Array);
    };
    const before = torch.get_num_threads();
    try {
      const one = await train(1);
      const two = await train(2);
      one.forEach((p, i) => expect(maxRelDiff(p, two[i])).toBeLessThan(1e-4));
    } finally {
      torch.set_num_threads(before);
    }
  });
});
