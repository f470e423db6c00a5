// While train_ch6 trains a net (or evaluate_accuracy_gpu evaluates it), every other use of the net, its parameters,
// gradients, mode, or an optimizer over them is refused with one Error, and the training ends exactly as an
// undisturbed one with the same seed does (native/hold.h).
import { d2l, nn, optim, torch, Tensor } from '../lib';
import type { DataLoader } from '../lib/data';
import { lenet } from './lenet';

const REFUSED = /being (trained by train_ch6|evaluated by evaluate_accuracy_gpu) on another thread; await that call, or abort it/;
const quiet = { verbose: false };

let X: Tensor;
let y: Tensor;
let threadsBefore: number;

beforeAll(() => {
  torch.manual_seed(0);
  X = torch.rand(3000, 1, 28, 28);
  y = torch.randint(0, 10, [3000]);
  // One thread: the gradients of a batch then add up in one order, so two trainings with one seed are bitwise equal.
  threadsBefore = torch.get_num_threads();
  torch.set_num_threads(1);
});

afterAll(() => torch.set_num_threads(threadsBefore));

function loaders(): [DataLoader, DataLoader] {
  return [d2l.load_array([X, y], 100), d2l.load_array([X, y], 500, false)];
}

function weights(net: nn.Module): Float32Array[] {
  return net.parameters().map((p) => p.data() as Float32Array);
}

interface Attempt {
  tried: number;
  errors: string[];
}

/** Trains the chapter's net for one epoch while a 1 ms timer calls `attempt`; returns what the attempts met. */
async function trainWhile(attempt: (net: nn.Sequential, optimizer: optim.SGD, w: Tensor) => unknown): Promise<[Attempt, Float32Array[]]> {
  torch.manual_seed(42);
  const net = lenet();
  const optimizer = new optim.SGD(net.parameters(), { lr: 0.1 });
  const w = (net[1] as nn.Conv2d).weight;
  const seen: Attempt = { tried: 0, errors: [] };
  const [train_iter, test_iter] = loaders();
  const timer = setInterval(() => {
    seen.tried++;
    try {
      attempt(net, optimizer, w);
    } catch (e) {
      seen.errors.push((e as Error).message);
    }
  }, 1);
  try {
    await d2l.train_ch6(net, train_iter, test_iter, 1, 0.9, 'cpu', quiet);
  } finally {
    clearInterval(timer);
  }
  return [seen, weights(net)];
}

let undisturbed: Float32Array[];

beforeAll(async () => {
  [, undisturbed] = await trainWhile(() => undefined);
});

describe('while train_ch6 trains a net, other uses are refused and the training is unharmed', () => {
  // Made once: drawing random numbers during the training would shift its seeded shuffles.
  let input: Tensor;
  beforeAll(() => {
    input = torch.rand(2, 1, 28, 28);
  });
  const x = () => input;
  let pending = false;
  test.each<[string, (net: nn.Sequential, optimizer: optim.SGD, w: Tensor) => unknown]>([
    ['net.forward()', (net) => net.forward(x())],
    ['net.zero_grad()', (net) => net.zero_grad()],
    ['net.zero_grad(false)', (net) => net.zero_grad(false)],
    ['optimizer.zero_grad()', (_n, o) => o.zero_grad()],
    ['optimizer.zero_grad(false)', (_n, o) => o.zero_grad(false)],
    ['optimizer.step()', (_n, o) => o.step()],
    ['nn.init.xavier_uniform_(weight)', (_n, _o, w) => nn.init.xavier_uniform_(w)],
    ['nn.init.xavier_normal_(weight)', (_n, _o, w) => nn.init.xavier_normal_(w)],
    ['nn.init.normal_(weight)', (_n, _o, w) => nn.init.normal_(w)],
    ['nn.init.uniform_(weight)', (_n, _o, w) => nn.init.uniform_(w)],
    ['nn.init.constant_(weight)', (_n, _o, w) => nn.init.constant_(w, 5)],
    ['nn.init.zeros_(weight)', (_n, _o, w) => nn.init.zeros_(w)],
    ['nn.init.ones_(weight)', (_n, _o, w) => nn.init.ones_(w)],
    ['nn.init on a detached view of a weight', (_n, _o, w) => nn.init.zeros_(w.detach())],
    ["net.to('cpu')", (net) => net.to('cpu')],
    ['net.to(torch.float64)', (net) => net.to(torch.float64)],
    ['net.train()', (net) => net.train()],
    ['net.eval()', (net) => net.eval()],
    ['a layer.train(false)', (net) => net[1].train(false)],
    ['weight.dispose()', (_n, _o, w) => w.dispose()],
    ['weight.requires_grad = false', (_n, _o, w) => { w.requires_grad = false; }],
    ['backward through a parameter', (_n, _o, w) => w.sum().backward()],
    ['weight.grad', (_n, _o, w) => w.grad],
    ['weight.tolist()', (_n, _o, w) => w.tolist()],
    ['weight.data()', (_n, _o, w) => w.data()],
    ['weight.sum().item()', (_n, _o, w) => w.sum().item()],
    ['weight.clone()', (_n, _o, w) => w.clone()],
    ['optimizer.param_groups[0].lr = 1', (_n, o) => { o.param_groups[0].lr = 1; }],
    ['a new SGD over the parameters', (net) => new optim.SGD(net.parameters(), { lr: 1 })],
    ['evaluate_accuracy_gpu of the net, awaited elsewhere', (net) => {
      if (pending) return;
      pending = true;
      void d2l.evaluate_accuracy_gpu(net, loaders()[1]).finally(() => { pending = false; });
    }],
  ])('%s', async (_name, attempt) => {
    const [seen, trained] = await trainWhile(attempt);
    expect(seen.tried).toBeGreaterThan(5);
    if (_name.startsWith('evaluate_accuracy_gpu')) {
      // Not refused: it waits for the training's current run of batches, then evaluates between two runs.
      expect(seen.errors).toEqual([]);
    } else {
      expect(seen.errors.length).toBe(seen.tried);
      for (const message of seen.errors) expect(message).toMatch(REFUSED);
    }
    trained.forEach((p, i) => expect(p).toEqual(undisturbed[i]));
  }, 60000);

  test('a layer shared with another net: that net refuses too, and is left unchanged', async () => {
    torch.manual_seed(1);
    const a = lenet();
    const shared = a[1] as nn.Conv2d;
    const b = new nn.Sequential(new nn.Reshape(-1, 1, 28, 28), shared, new nn.Flatten(), new nn.Linear(6 * 28 * 28, 10));
    const before = b.parameters().map((p) => [p.dtype, p.data()]);
    const errors: string[] = [];
    const timer = setInterval(() => {
      for (const f of [() => b.to(torch.float64), () => b.forward(torch.rand(1, 1, 28, 28)), () => b.zero_grad(), () => b.train()]) {
        try {
          f();
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    }, 1);
    const [train_iter, test_iter] = loaders();
    try {
      await d2l.train_ch6(a, train_iter, test_iter, 1, 0.9, 'cpu', quiet);
    } finally {
      clearInterval(timer);
    }
    expect(errors.length).toBeGreaterThan(4);
    for (const message of errors) expect(message).toMatch(REFUSED);
    // b's own Linear layer was not moved to float64 half-way: the refusal came before any change.
    expect(b.parameters().map((p) => p.dtype)).toEqual(before.map(([dtype]) => dtype));
    expect((b[3] as nn.Linear).weight.data()).toEqual(before[2][1]);
  });

  test('training a net that shares a layer with a net in training is refused, and the first is unharmed', async () => {
    torch.manual_seed(42);
    const a = lenet();
    const b = new nn.Sequential(a[1], new nn.Flatten());
    const [train_iter, test_iter] = loaders();
    const first = d2l.train_ch6(a, train_iter, test_iter, 1, 0.9, 'cpu', quiet);
    await new Promise((r) => setTimeout(r, 50));
    await expect(d2l.train_ch6(b, train_iter, test_iter, 1, 0.9, 'cpu', quiet)).rejects.toThrow(REFUSED);
    await first;
    weights(a).forEach((p, i) => expect(p).toEqual(undisturbed[i]));
  });

  test('the net and its parameters are usable again once the training resolves', async () => {
    const [, trained] = await trainWhile(() => undefined);
    expect(trained.length).toBe(10);
    torch.manual_seed(42);
    const net = lenet();
    const [train_iter, test_iter] = loaders();
    await d2l.train_ch6(net, train_iter, test_iter, 1, 0.9, 'cpu', quiet);
    expect(net.forward(torch.rand(1, 1, 28, 28)).shape).toEqual([1, 10]);
    net.zero_grad();
    nn.init.zeros_((net[1] as nn.Conv2d).bias!);
    expect((net[1] as nn.Conv2d).bias!.abs().sum().item()).toBe(0);
  });
});

describe('callbacks run with the net free', () => {
  test('on_batch may read the weights and start evaluate_accuracy_gpu; the training finishes as usual', async () => {
    torch.manual_seed(42);
    const net = lenet();
    const [train_iter, test_iter] = loaders();
    const norms: number[] = [];
    const evaluations: Promise<number>[] = [];
    await d2l.train_ch6(net, train_iter, test_iter, 1, 0.9, 'cpu', {
      ...quiet,
      on_batch: (p) => {
        norms.push(Number((net[1] as nn.Conv2d).weight.abs().sum().item()));
        if (p.batch % 10 === 0) evaluations.push(d2l.evaluate_accuracy_gpu(net, test_iter));
      },
    });
    expect(norms.length).toBe(30);
    const accs = await Promise.all(evaluations);
    expect(accs.length).toBe(3);
    for (const acc of accs) expect(acc).toBeGreaterThanOrEqual(0);
    // on_batch makes every batch its own run; the weights still equal an undisturbed training's.
    weights(net).forEach((p, i) => expect(p).toEqual(undisturbed[i]));
  });
});

describe('while evaluate_accuracy_gpu evaluates a net', () => {
  test('mutations are refused', async () => {
    torch.manual_seed(3);
    const net = lenet();
    const w = (net[1] as nn.Conv2d).weight;
    const before = w.data();
    const errors: string[] = [];
    const big = d2l.load_array([X, y], 100, false);
    const timer = setInterval(() => {
      try {
        nn.init.xavier_uniform_(w);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }, 1);
    try {
      for (let i = 0; i < 5; i++) await d2l.evaluate_accuracy_gpu(net, big);
    } finally {
      clearInterval(timer);
    }
    // Between two evaluations the net is free: only the attempts during one are refused.
    expect(errors.length).toBeGreaterThan(0);
    for (const message of errors) expect(message).toMatch(/being evaluated by evaluate_accuracy_gpu/);
    expect(errors.length === 0 || w.data().length === before.length).toBe(true);
  });
});

describe('abort', () => {
  test('stops within a batch or so, during training and during evaluation', async () => {
    torch.manual_seed(5);
    const net = lenet();
    // Runs of 5 batches of 100 and an evaluation of 3,000 examples: ~0.2-1 s each here.
    const [train_iter, test_iter] = loaders();
    // One whole epoch (30 batches and an evaluation) as the yardstick, timed before and after the aborts (the longer
    // counts): a machine 6x slower, or busy with other work for a while, stretches it and the aborts alike.
    const epoch = async () => {
      const t = performance.now();
      await d2l.train_ch6(lenet(), train_iter, test_iter, 1, 0.9, 'cpu', quiet);
      return performance.now() - t;
    };
    const before = await epoch();
    const latencies: number[] = [];
    for (const delay of [30, 150, 300]) {
      const controller = new AbortController();
      const run = d2l.train_ch6(net, train_iter, test_iter, 20, 0.9, 'cpu', { ...quiet, signal: controller.signal });
      await new Promise((r) => setTimeout(r, delay));
      const t0 = performance.now();
      controller.abort();
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      latencies.push(performance.now() - t0);
    }
    const yardstick = Math.max(before, await epoch());
    // A batch is a 30th of the epoch; finishing the run of batches or the evaluation would take a third or more.
    for (const latency of latencies) expect(latency / yardstick).toBeLessThan(0.25);
    expect(net.forward(torch.rand(1, 1, 28, 28)).shape).toEqual([1, 10]);
  });
});

describe('with two threads (the data-parallel step on the slice pool)', () => {
  test('mutations are refused and the result is within rounding of an undisturbed run', async () => {
    torch.set_num_threads(2);
    try {
      const [, calm] = await trainWhile(() => undefined);
      const [seen, trained] = await trainWhile((_n, o, w) => {
        o.zero_grad();
        return nn.init.zeros_(w);
      });
      expect(seen.errors.length).toBe(seen.tried);
      trained.forEach((p, i) => {
        let diff = 0;
        for (let j = 0; j < p.length; j++) diff = Math.max(diff, Math.abs(p[j] - calm[i][j]));
        expect(diff).toBeLessThan(1e-4);
      });
    } finally {
      torch.set_num_threads(1);
    }
  }, 60000);
});
