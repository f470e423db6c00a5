// CUDA: these cases run where libtorch has CUDA and a device is visible, and are reported as skipped (with the
// reason in their name) elsewhere. The CPU-only checks at the end run everywhere else.
import { native } from '../lib/binding';
import { d2l, torch, Tensor } from '../lib';
import { lenet, reluLenet } from './lenet';

const gpu = torch.cuda.is_available();
const reason = native.cudaBuild ? 'no CUDA device is visible' : `libtorch ${torch.__version__} here has no CUDA`;
const onGpu = gpu ? describe : describe.skip;
const onCpuOnly = gpu ? describe.skip : describe;

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return Number(a.to('cpu').sub(b.to('cpu')).abs().max().item());
}


onGpu(`on cuda:0${gpu ? '' : ` (skipped: ${reason})`}`, () => {
  test('tensors move to cuda:0 and back with their values', () => {
    const t = torch.rand(3, 4);
    const g = t.to('cuda:0');
    expect(String(g.device)).toBe('cuda:0');
    expect(g.to('cpu').tolist()).toEqual(t.tolist());
    expect(torch.zeros([2], { device: 'cuda:0' }).device.type).toBe('cuda');
  });

  test('the CPU and cuda:0 give the same forward output on the same weights (within 1e-4)', () => {
    torch.manual_seed(0);
    const net = lenet();
    const X = torch.rand(16, 1, 28, 28);
    const cpu = net.forward(X);
    net.to('cuda:0');
    const cuda = net.forward(X.to('cuda:0'));
    expect(String(cuda.device)).toBe('cuda:0');
    expect(maxAbsDiff(cpu, cuda)).toBeLessThan(1e-4);
    net.to('cpu');
    expect(maxAbsDiff(cpu, net.forward(X))).toBeLessThan(1e-6);
  });

  test('a data set kept on the device hands out batches there', async () => {
    const [train_iter] = await d2l.load_data_fashion_mnist(256, { device: 'cuda:0' });
    const [X, y] = train_iter[Symbol.iterator]().next().value as [Tensor, Tensor];
    expect(String(X.device)).toBe('cuda:0');
    expect(String(y.device)).toBe('cuda:0');
    expect(X.shape).toEqual([256, 1, 28, 28]);
  });

  test('a short training on cuda:0 learns, with device memory flat over epochs', async () => {
    torch.manual_seed(1);
    const [train, test] = await d2l.load_data_fashion_mnist(6000, { device: 'cuda:0' });
    const [X, y] = train[Symbol.iterator]().next().value as [Tensor, Tensor];
    const [Xt, yt] = test[Symbol.iterator]().next().value as [Tensor, Tensor];
    const train_iter = d2l.load_array([X, y], 64);
    const test_iter = d2l.load_array([Xt, yt], 256, false);
    const memory: number[] = [];
    const net = reluLenet();
    const result = await d2l.train_ch6(net, train_iter, test_iter, 4, 0.1, 'cuda:0', {
      verbose: false,
      on_epoch: () => memory.push(torch.cuda.memory_allocated(0)),
    });
    expect(result.device).toBe('cuda:0');
    expect(result.test_acc).toBeGreaterThan(0.5);
    expect(String(net.parameters()[0].device)).toBe('cuda:0');
    // Each batch shape is captured as a CUDA graph after two eager steps; the last, smaller batch comes once an
    // epoch, so its graph is made in epoch 2: from there the memory is flat. What epoch 2 adds is that graph's
    // memory, not a second stream's cuBLAS workspaces (64 MiB on an H200: the first GPU run's finding).
    expect(Math.max(...memory.slice(2)) - memory[1]).toBeLessThan(1 << 20);
    expect(memory[1] - memory[0]).toBeLessThan(8 << 20);
    expect(await d2l.evaluate_accuracy_gpu(net, test_iter)).toBeCloseTo(result.test_acc, 10);
  }, 120000);

  test('the fused step as a CUDA graph trains as the eager step does (cuda_graph: true / false)', async () => {
    const X = torch.rand(600, 1, 28, 28).to('cuda:0');
    const y = torch.randint(0, 10, [600]).to('cuda:0');
    const train = async (cuda_graph: boolean) => {
      torch.manual_seed(9);
      const net = reluLenet();
      // 600 = 2 x 256 + 88: two shapes, so a graph per shape after the warm-up, over 3 epochs.
      const iter = d2l.load_array([X, y], 256, false);
      const result = await d2l.train_ch6(net, iter, iter, 3, 0.1, 'cuda:0', { verbose: false, cuda_graph });
      return { result, weights: net.parameters().map((p) => p.to('cpu')) };
    };
    const eager = await train(false);
    const graphed = await train(true);
    expect(graphed.result.loss).toBeCloseTo(eager.result.loss, 4);
    expect(graphed.result.train_acc).toBeCloseTo(eager.result.train_acc, 6);
    graphed.weights.forEach((w, i) => expect(maxAbsDiff(w, eager.weights[i])).toBeLessThan(1e-4));
  }, 120000);

  test('dispose() gives device memory back', () => {
    const before = torch.cuda.memory_allocated();
    const t = torch.zeros([1 << 20], { device: 'cuda:0' });
    expect(torch.cuda.memory_allocated() - before).toBeGreaterThanOrEqual(4 << 20);
    t.dispose();
    expect(torch.cuda.memory_allocated()).toBe(before);
  });
});

onCpuOnly(`without CUDA${gpu ? ' (skipped: CUDA is available here)' : ''}`, () => {
  test('EXPECTED FAILURE: every way of asking for cuda is an Error, never a crash', async () => {
    expect(() => lenet().to('cuda')).toThrow(/CUDA/);
    expect(() => torch.rand(2).to('cuda:0')).toThrow(/CUDA/);
    await expect(d2l.load_data_fashion_mnist(256, { device: 'cuda:0' })).rejects.toThrow(/CUDA/);
    const tiny = d2l.load_array([torch.rand(8, 1, 28, 28), torch.randint(0, 10, [8])], 4);
    await expect(d2l.train_ch6(lenet(), tiny, tiny, 1, 0.9, 'cuda:0', { verbose: false })).rejects.toThrow(/CUDA/);
    expect(String(d2l.try_gpu())).toBe('cpu');
    expect(torch.cuda.memory_allocated()).toBe(0);
    expect(lenet().forward(torch.rand(1, 1, 28, 28)).shape).toEqual([1, 10]);
  });

  test('BAD CALL: memory_allocated of a CPU device', () => {
    expect(() => torch.cuda.memory_allocated('cpu')).toThrow(RangeError);
    expect(() => torch.cuda.memory_allocated(-1)).toThrow(RangeError);
  });
});
