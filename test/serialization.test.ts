// Module#state_dict(), Module#load_state_dict(), torch.save() and torch.load(): PyTorch's keys, PyTorch's file
// format (files that Python's torch.save wrote are in test/fixtures, made by test/interop/make_fixtures.py), and the
// errors. The round trip with Python's torch itself is test/interop.test.ts.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { native } from '../lib/binding';
import { d2l, nn, optim, torch, Tensor } from '../lib';
import { Call, Global, Persistent, Tuple, dumps } from '../lib/pickle';
import { lenet } from './lenet';
import { refusalsDuring } from './refusals';

const FIXTURES = path.join(__dirname, 'fixtures');
let dir: string;
const file = (name: string) => path.join(dir, name);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-torch-serial-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const CHAPTER_KEYS: [string, number[]][] = [
  ['1.weight', [6, 1, 5, 5]], ['1.bias', [6]],
  ['4.weight', [16, 6, 5, 5]], ['4.bias', [16]],
  ['8.weight', [120, 400]], ['8.bias', [120]],
  ['10.weight', [84, 120]], ['10.bias', [84]],
  ['12.weight', [10, 84]], ['12.bias', [10]],
];

function shapes(sd: Record<string, Tensor>): [string, number[]][] {
  return Object.entries(sd).map(([k, t]) => [k, [...t.shape]]);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return Number(a.to('float64').sub(b.to('float64')).abs().max().item());
}

/** A net written in JS: a Sequential of built-in layers, a plain JS submodule, and a Linear. */
class Features extends nn.Module {
  conv = new nn.Conv2d(1, 2, { kernel_size: 3 });
  override forward(x: Tensor): Tensor {
    return this.conv.forward(x).sigmoid();
  }
}
class Net extends nn.Module {
  stem = new nn.Sequential(new nn.Reshape(-1, 1, 6, 6), new nn.Conv2d(1, 1, { kernel_size: 1 }));
  features = new Features();
  flatten = new nn.Flatten();
  head = new nn.Linear(2 * 4 * 4, 3);
  override forward(x: Tensor): Tensor {
    return this.head.forward(this.flatten.forward(this.features.forward(this.stem.forward(x))));
  }
}

/** Writes a PyTorch archive whose data.pkl is `value` pickled, with these storages (for damaged-file cases). */
async function writeRaw(name: string, value: unknown, storages: Tensor[] = []): Promise<string> {
  await native.writeArchive(file(name), dumps(value), storages.map((t) => t._h));
  return file(name);
}

/** A tensor as torch.save pickles it, with a storage record of our choosing. */
function pickledTensor(storage: string, key: string, location: string, numel: number, offset: number, size: number[], stride: number[]): Call {
  return new Call(new Global('torch._utils', '_rebuild_tensor_v2'), [
    new Persistent(new Tuple(['storage', new Global('torch', storage), key, location, numel])),
    offset, new Tuple(size), new Tuple(stride), false, new Call(new Global('collections', 'OrderedDict'), []),
  ]);
}

describe('Module#state_dict()', () => {
  test("the chapter's net: PyTorch's keys ('1.weight', '1.bias', '4.weight', ...) and shapes, in PyTorch's order", () => {
    const net = lenet();
    const sd = net.state_dict();
    expect(shapes(sd)).toEqual(CHAPTER_KEYS);
    expect(Object.keys(sd)).toEqual(net.named_parameters().map(([k]) => k));
  });

  test("the values are the parameters', detached from autograd (not parameters themselves)", () => {
    const net = lenet();
    const sd = net.state_dict();
    const w = (net[1] as nn.Conv2d).weight;
    expect(sd['1.weight'].tolist()).toEqual(w.tolist());
    expect(sd['1.weight'].requires_grad).toBe(false);
    expect(sd['1.weight'].grad_fn).toBeNull();
    expect(w.requires_grad).toBe(true);
  });

  test('the values share memory with the parameters, as in PyTorch: writing one changes the other', () => {
    const net = lenet();
    const sd = net.state_dict();
    nn.init.constant_(sd['1.weight'], 0.5);
    expect(new Set((net[1] as nn.Conv2d).weight.data() as Float32Array)).toEqual(new Set([0.5]));
    // ... and a training step shows up in a state dict taken before it.
    const before = sd['12.bias'].clone();
    const optimizer = new optim.SGD(net.parameters(), { lr: 0.5 });
    const loss = new nn.CrossEntropyLoss();
    loss.forward(net.forward(torch.rand(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3], { dtype: torch.int64 })).backward();
    optimizer.step();
    expect(maxAbsDiff(sd['12.bias'], before)).toBeGreaterThan(0);
    expect(sd['12.bias'].tolist()).toEqual((net[12] as nn.Linear).bias!.tolist());
  });

  test("a net written in JS: the dotted property names, as named_parameters() gives them", () => {
    const net = new Net();
    const sd = net.state_dict();
    expect(shapes(sd)).toEqual([
      ['stem.1.weight', [1, 1, 1, 1]], ['stem.1.bias', [1]],
      ['features.conv.weight', [2, 1, 3, 3]], ['features.conv.bias', [2]],
      ['head.weight', [3, 32]], ['head.bias', [3]],
    ]);
    expect(Object.keys(sd)).toEqual(net.named_parameters().map(([k]) => k));
  });

  test('a Sequential holding a JS module keys its layers by index', () => {
    const net = new nn.Sequential(new Features(), new nn.Flatten(), new nn.Linear(32, 2));
    expect(Object.keys(net.state_dict())).toEqual(['0.conv.weight', '0.conv.bias', '2.weight', '2.bias']);
  });

  test('a layer used twice is listed under both names, as PyTorch\'s state_dict() does (named_parameters() lists it once)', () => {
    const shared = new nn.Linear(2, 2);
    const net = new nn.Sequential(shared, new nn.Sigmoid(), shared);
    expect(Object.keys(net.state_dict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(net.named_parameters().map(([k]) => k)).toEqual(['0.weight', '0.bias']);
    const copy = new nn.Sequential(new nn.Linear(2, 2), new nn.Sigmoid(), new nn.Linear(2, 2));
    copy.load_state_dict(net.state_dict());
    const X = torch.rand(3, 2);
    expect(maxAbsDiff(copy.forward(X), net.forward(X))).toBe(0);
  });

  test('layers without parameters give {}; a Linear without bias has only its weight', () => {
    expect(new nn.Sigmoid().state_dict()).toEqual({});
    expect(new nn.Reshape(-1, 4).state_dict()).toEqual({});
    expect(Object.keys(new nn.Linear(3, 2, false).state_dict())).toEqual(['weight']);
  });
});

describe('Module#load_state_dict()', () => {
  test("loading one net's state dict into another makes its outputs the same", () => {
    torch.manual_seed(1);
    const a = lenet();
    torch.manual_seed(2);
    const b = lenet();
    const X = torch.rand(3, 1, 28, 28);
    expect(maxAbsDiff(a.forward(X), b.forward(X))).toBeGreaterThan(1e-3);
    expect(b.load_state_dict(a.state_dict())).toEqual({ missing_keys: [], unexpected_keys: [] });
    expect(maxAbsDiff(a.forward(X), b.forward(X))).toBe(0);
  });

  test("the values are copied into the existing parameters (tensors taken before see them; the source stays separate)", () => {
    const a = lenet();
    const b = lenet();
    const params = b.parameters();
    const optimizer = new optim.SGD(params, { lr: 0.1 });
    b.load_state_dict(a.state_dict());
    expect(params[0].tolist()).toEqual((a[1] as nn.Conv2d).weight.tolist());
    expect(params[0].requires_grad).toBe(true);
    nn.init.zeros_((a[1] as nn.Conv2d).weight);
    expect(maxAbsDiff(params[0], torch.zeros(6, 1, 5, 5))).toBeGreaterThan(0);
    // The optimizer still trains b's parameters.
    b.zero_grad();
    b.forward(torch.rand(2, 1, 28, 28)).sum().backward();
    const before = params[0].clone();
    optimizer.step();
    expect(maxAbsDiff(params[0], before)).toBeGreaterThan(0);
  });

  test("a value's dtype is converted to the parameter's, as PyTorch's copy_ does", () => {
    const net = new nn.Linear(2, 1);
    net.load_state_dict({ weight: torch.tensor([[1, 2]], { dtype: torch.float64 }), bias: torch.tensor([3], { dtype: torch.int64 }) });
    expect(net.weight.dtype).toBe('float32');
    expect(net.weight.tolist()).toEqual([[1, 2]]);
    expect(net.bias!.tolist()).toEqual([3]);
  });

  test('a Map works as a state dict; a JS net loads by its dotted names', () => {
    const a = new Net();
    const b = new Net();
    b.load_state_dict(new Map(Object.entries(a.state_dict())));
    const X = torch.rand(2, 36);
    expect(maxAbsDiff(a.forward(X), b.forward(X))).toBe(0);
  });

  test('strict (the default): missing and unexpected keys are an Error in PyTorch\'s words, and nothing is copied', () => {
    const net = lenet();
    const before = net.forward(torch.ones(1, 1, 28, 28));
    const sd: Record<string, Tensor> = lenet().state_dict();
    delete sd['12.bias'];
    delete sd['1.weight'];
    expect(() => net.load_state_dict(sd)).toThrow(
      'Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: "1.weight", "12.bias".');
    sd.extra = torch.ones(1);
    sd['1.weight'] = torch.zeros(6, 1, 5, 5);
    sd['12.bias'] = torch.zeros(10);
    expect(() => net.load_state_dict(sd)).toThrow(
      'Error(s) in loading state_dict for Sequential:\n\tUnexpected key(s) in state_dict: "extra".');
    expect(maxAbsDiff(net.forward(torch.ones(1, 1, 28, 28)), before)).toBe(0);
  });

  test('EXPECTED FAILURE: a wrong shape names the key and both shapes, even when strict is false, and nothing is copied', () => {
    const net = new nn.Sequential(new nn.Reshape(-1, 1, 28, 28), new nn.Conv2d(1, 6, { kernel_size: 3 }));
    const before = net.state_dict()['1.bias'].clone();
    const sd = new nn.Sequential(new nn.Reshape(-1, 1, 28, 28), new nn.Conv2d(1, 6, { kernel_size: 5 })).state_dict();
    const message =
      'Error(s) in loading state_dict for Sequential:\n\tsize mismatch for 1.weight: copying a param with shape ' +
      '[6, 1, 5, 5] from checkpoint, the shape in current model is [6, 1, 3, 3].';
    expect(() => net.load_state_dict(sd)).toThrow(message);
    expect(() => net.load_state_dict(sd, { strict: false })).toThrow(message);
    expect(net.state_dict()['1.bias'].tolist()).toEqual(before.tolist());
  });

  test('strict false: the missing and unexpected keys are returned and the rest is loaded', () => {
    const a = lenet();
    const b = lenet();
    const sd: Record<string, Tensor> = a.state_dict();
    delete sd['1.bias'];
    sd['99.weight'] = torch.ones(1);
    expect(b.load_state_dict(sd, false)).toEqual({ missing_keys: ['1.bias'], unexpected_keys: ['99.weight'] });
    expect(b.load_state_dict(sd, { strict: false })).toEqual({ missing_keys: ['1.bias'], unexpected_keys: ['99.weight'] });
    expect(b.state_dict()['12.weight'].tolist()).toEqual(a.state_dict()['12.weight'].tolist());
    expect(b.state_dict()['1.bias'].tolist()).not.toEqual(a.state_dict()['1.bias'].tolist());
  });

  describe('BAD CALL', () => {
    const net = new nn.Linear(2, 1);
    const good = () => net.state_dict();
    test.each<[string, () => unknown, RegExp | string]>([
      ['a state dict that is not an object', () => net.load_state_dict(3 as never), /^Expected state_dict to be a state dict \(a plain object or Map of names to Tensors\) but received 3 \(number\)$/],
      ['null', () => net.load_state_dict(null as never), /^Expected state_dict to be a state dict/],
      ['an array', () => net.load_state_dict([] as never), /^Expected state_dict to be a state dict .* but received an array of length 0$/],
      ['a value that is not a Tensor', () => net.load_state_dict({ ...good(), weight: [[1, 2]] } as never), "Expected state_dict['weight'] to be a Tensor but received an array of length 1"],
      ['a Map key that is not a string', () => net.load_state_dict(new Map([[1, torch.ones(1)]]) as never), 'Expected the keys of state_dict to be strings but received 1 (number)'],
      ['strict that is not a boolean', () => net.load_state_dict(good(), 'yes' as never), "Expected strict to be a boolean but received 'yes' (string)"],
      ['strict in options, not a boolean', () => net.load_state_dict(good(), { strict: 1 } as never), 'Expected strict to be a boolean but received 1 (number)'],
      ['an unknown option', () => net.load_state_dict(good(), { assign: true } as never), "load_state_dict() got an unexpected keyword argument 'assign'"],
    ])('%s: TypeError naming the argument', (_, call, message) => {
      expect(call).toThrow(TypeError);
      expect(call).toThrow(message);
    });

    test('a disposed tensor: Error naming the key', () => {
      const t = torch.ones(1);
      t.dispose();
      expect(() => net.load_state_dict({ ...good(), bias: t })).toThrow("state_dict['bias'] is a disposed Tensor");
    });
  });
});

describe('while train_ch6 trains the net, state_dict() and load_state_dict() are refused', () => {
  test("each attempt is an Error that mentions 'being trained by train_ch6'; afterwards both work", async () => {
    torch.manual_seed(0);
    const X = torch.rand(1500, 1, 28, 28);
    const y = torch.randint(0, 10, [1500]);
    const net = lenet();
    const saved = lenet().state_dict();
    const { tried, errors } = await refusalsDuring([() => net.load_state_dict(saved), () => net.state_dict()], () =>
      d2l.train_ch6(net, d2l.load_array([X, y], 100), d2l.load_array([X, y], 500, false), 1, 0.9, 'cpu', { verbose: false }));
    expect(tried).toBeGreaterThan(0);
    // Timer ticks can fall between train_ch6's runs, where the net is free; most fall inside one.
    expect(errors.length).toBeGreaterThan(0);
    for (const message of errors) expect(message).toMatch(/being trained by train_ch6 on another thread/);
    expect(net.load_state_dict(saved)).toEqual({ missing_keys: [], unexpected_keys: [] });
    expect(net.state_dict()['1.weight'].tolist()).toEqual(saved['1.weight'].tolist());
  }, 120000);
});

describe('torch.save() and torch.load()', () => {
  test.each<[string, () => Tensor]>([
    ['float32', () => torch.tensor([[1.5, -2], [0.1, 1e30]])],
    ['float64', () => torch.tensor([1e-300, Math.PI], { dtype: torch.float64 })],
    ['float16', () => torch.tensor([0.5, -65504], { dtype: torch.float16 })],
    ['bfloat16', () => torch.tensor([1, -3.5], { dtype: torch.bfloat16 })],
    ['int64 (past 2^53, exactly)', () => torch.tensor(BigInt64Array.from([-(2n ** 62n), 2n ** 53n + 1n, 7n]))],
    ['int32', () => torch.tensor(Int32Array.from([-5, 2 ** 31 - 1]))],
    ['int16', () => torch.tensor([-300, 300], { dtype: torch.int16 })],
    ['int8', () => torch.tensor([-128, 127], { dtype: torch.int8 })],
    ['uint8', () => torch.tensor([0, 255], { dtype: torch.uint8 })],
    ['bool', () => torch.tensor([true, false, true])],
    ['a 0-d tensor', () => torch.tensor(2.5)],
    ['an empty tensor', () => torch.zeros(0, 3)],
  ])('a tensor round-trips: %s (dtype, shape, values)', async (_, make) => {
    const t = make();
    await torch.save(t, file('t.pt'));
    const back: Tensor = await torch.load(file('t.pt'));
    expect(back).toBeInstanceOf(Tensor);
    expect(back.dtype).toBe(t.dtype);
    expect([...back.shape]).toEqual([...t.shape]);
    expect(back.data()).toEqual(t.data());
  });

  test('a state dict round-trips: the same keys in order, the same values, in tensors of their own', async () => {
    const net = lenet();
    await torch.save(net.state_dict(), file('lenet.pt'));
    const sd: Record<string, Tensor> = await torch.load(file('lenet.pt'));
    expect(shapes(sd)).toEqual(CHAPTER_KEYS);
    for (const [key, t] of Object.entries(net.state_dict())) expect(sd[key].data()).toEqual(t.data());
    nn.init.zeros_(sd['1.weight']);
    expect(maxAbsDiff((net[1] as nn.Conv2d).weight, torch.zeros(6, 1, 5, 5))).toBeGreaterThan(0);
    const other = lenet();
    other.load_state_dict(await torch.load(file('lenet.pt')));
    const X = torch.rand(2, 1, 28, 28);
    expect(maxAbsDiff(other.forward(X), net.forward(X))).toBe(0);
  });

  test('nested data round-trips: numbers, bigints, strings, booleans, null, arrays, objects and Maps', async () => {
    const obj = {
      ints: [0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER],
      floats: [0.5, -1e-300, 1e300, NaN, Infinity, -Infinity],
      big: [2n ** 64n, -(2n ** 100n), 3n],
      text: ['', 'héllo', '日本', 'line\nbreak'],
      flags: [true, false, null],
      nested: { a: { b: [[1], { c: 'd' }] } },
      map: new Map<string | number, number>([[1, 10], ['two', 20]]),
      tensor: torch.tensor([1, 2]),
    };
    await torch.save(obj, file('nested.pt'));
    const back = await torch.load(file('nested.pt'));
    expect(back.tensor.tolist()).toEqual([1, 2]);
    const { tensor, ...rest } = back;
    void tensor;
    // A bigint that fits in 2^53 comes back as a number (a Python int is one kind of value).
    expect(rest).toEqual({ ...obj, big: [2n ** 64n, -(2n ** 100n), 3], tensor: undefined });
  });

  test('a Map with a non-string key comes back as a Map; an object with only string keys as a plain object', async () => {
    await torch.save([new Map([[1, 'a']]), new Map([['k', 'v']])], file('maps.pt'));
    expect(await torch.load(file('maps.pt'))).toEqual([new Map([[1, 'a']]), { k: 'v' }]);
  });

  test('tensors that share memory are written once and share it again when loaded', async () => {
    const a = torch.arange(6).float().reshape(2, 3);
    const b = a.view(3, 2);
    await torch.save({ a, b, again: a }, file('shared.pt'));
    const back = await torch.load(file('shared.pt'));
    expect(back.b.tolist()).toEqual([[0, 1], [2, 3], [4, 5]]);
    nn.init.constant_(back.a, 7);
    expect(back.b.tolist()).toEqual([[7, 7], [7, 7], [7, 7]]);
    expect(back.again.tolist()).toEqual([[7, 7, 7], [7, 7, 7]]);
  });

  test('requires_grad is kept', async () => {
    const w = torch.ones(2);
    w.requires_grad = true;
    await torch.save([w, torch.ones(2)], file('grad.pt'));
    const [x, y] = await torch.load(file('grad.pt'));
    expect([x.requires_grad, y.requires_grad]).toEqual([true, false]);
  });

  test('the values are taken when save() is called: a change before the promise settles is not written', async () => {
    const t = torch.zeros(1000);
    const saving = torch.save(t, file('early.pt'));
    nn.init.constant_(t, 7);
    await saving;
    expect((await torch.load(file('early.pt'))).sum().item()).toBe(0);
  });

  test('save() and load() return Promises; a large file is written and read off the main thread', async () => {
    const big = torch.rand(4, 1024, 1024); // 16 MB
    const saving = torch.save({ big }, file('big.pt'));
    expect(saving).toBeInstanceOf(Promise);
    await saving;
    const loading = torch.load(file('big.pt'));
    expect(loading).toBeInstanceOf(Promise);
    expect(maxAbsDiff((await loading).big, big)).toBe(0);
  });

  describe('files written by Python\'s torch.save (test/fixtures)', () => {
    interface Described { tensor?: string; shape?: number[]; values?: unknown[]; requires_grad?: boolean; dict?: [string, Described][] }
    function check(got: unknown, want: unknown): void {
      const w = want as Described;
      if (w !== null && typeof w === 'object' && !Array.isArray(w) && w.tensor) {
        const t = got as Tensor;
        expect(t).toBeInstanceOf(Tensor);
        expect([t.dtype, [...t.shape], t.requires_grad]).toEqual([w.tensor, w.shape, w.requires_grad]);
        const flat = t.numel() === 0 ? [] : (t.reshape(-1).tolist() as unknown[]);
        expect(flat.map(Number)).toEqual((w.values as unknown[]).map(Number));
      } else if (w !== null && typeof w === 'object' && !Array.isArray(w) && w.dict) {
        expect(Object.keys(got as object)).toEqual(w.dict.map(([k]) => k));
        for (const [k, v] of w.dict) check((got as Record<string, unknown>)[k], v);
      } else if (Array.isArray(w)) {
        expect(Array.isArray(got)).toBe(true);
        expect((got as unknown[]).length).toBe(w.length);
        w.forEach((v, i) => check((got as unknown[])[i], v));
      } else if (typeof got === 'bigint') {
        expect(got).toBe(BigInt(w as number));
      } else {
        expect(got).toEqual(w);
      }
    }

    test("a state dict (Python's OrderedDict, with its _metadata) loads as a plain object in its order", async () => {
      const sd = await torch.load(path.join(FIXTURES, 'state_dict.pt'));
      check(sd, JSON.parse(fs.readFileSync(path.join(FIXTURES, 'state_dict.json'), 'utf8')).value);
      const net = new nn.Sequential(new nn.Conv2d(1, 2, { kernel_size: 3 }), new nn.Sigmoid(), new nn.Flatten(), new nn.Linear(8, 3));
      expect(net.load_state_dict(sd)).toEqual({ missing_keys: [], unexpected_keys: [] });
    });

    test('every dtype, 0-d and empty tensors, views (one transposed) sharing memory, a Parameter and plain data (pickle protocol 4)', async () => {
      const obj = await torch.load(path.join(FIXTURES, 'tensors.pt'));
      check(obj, JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tensors.json'), 'utf8')).value);
      nn.init.constant_(obj.base, -1);
      expect(obj.row.tolist()).toEqual([-1, -1, -1, -1]);
      expect(obj.transposed.sum().item()).toBe(-12);
    });
  });

  describe('map_location', () => {
    test("'cpu', a torch.device, positionally or in options", async () => {
      await torch.save(torch.ones(2), file('m.pt'));
      for (const back of [
        await torch.load(file('m.pt'), { map_location: 'cpu' }),
        await torch.load(file('m.pt'), { map_location: torch.device('cpu') }),
        await torch.load(file('m.pt'), 'cpu'),
        await torch.load(file('m.pt'), { map_location: null, weights_only: true }),
      ]) {
        expect(String(back.device)).toBe('cpu');
        expect(back.tolist()).toEqual([1, 1]);
      }
    });

    const withCuda = torch.cuda.is_available() ? test : test.skip;
    withCuda(`'cuda:0' puts every tensor there${torch.cuda.is_available() ? '' : ' (skipped: no CUDA device)'}`, async () => {
      await torch.save({ a: torch.ones(2) }, file('c.pt'));
      const back = await torch.load(file('c.pt'), { map_location: 'cuda:0' });
      expect(String(back.a.device)).toBe('cuda:0');
      await torch.save(back, file('c2.pt'));
      expect(String((await torch.load(file('c2.pt'))).a.device)).toBe('cuda:0');
    });

    const noCuda = torch.cuda.is_available() ? test.skip : test;
    noCuda('EXPECTED FAILURE: a file saved from cuda:0 on a machine without CUDA: PyTorch\'s advice; map_location \'cpu\' loads it', async () => {
      const f = await writeRaw('cuda.pt', pickledTensor('FloatStorage', '0', 'cuda:0', 2, 0, [2], [1]), [torch.tensor([1, 2])]);
      await expect(torch.load(f)).rejects.toThrow(
        /Attempting to deserialize object on a CUDA device but torch.cuda.is_available\(\) is false.*map_location: 'cpu'/);
      expect((await torch.load(f, { map_location: 'cpu' })).tolist()).toEqual([1, 2]);
      await expect(torch.load(f, { map_location: 'cuda:0' })).rejects.toThrow(/CUDA/);
    });
  });

  describe('BAD CALL', () => {
    const Ctor = class Point { x = 1; };
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    test.each<[string, () => Promise<unknown>, typeof TypeError, string | RegExp]>([
      ['obj a function', () => torch.save((() => 1) as never, file('x.pt')), TypeError, /^Expected obj to be a Tensor, a number, a bigint, a string, a boolean, null, or an array, Map or plain object of them but received a function/],
      ['obj undefined', () => torch.save(undefined as never, file('x.pt')), TypeError, /^Expected obj to be a Tensor.* but received undefined$/],
      ['a value deep inside obj', () => torch.save({ a: [1, Symbol('s')] } as never, file('x.pt')), TypeError, /^Expected obj\['a'\]\[1\] to be a Tensor/],
      ['a hole in an array', () => torch.save({ a: new Array(2) } as never, file('x.pt')), TypeError, /^Expected obj\['a'\]\[0\] to be a Tensor.* but received undefined$/],
      ['a class instance', () => torch.save({ p: new Ctor() } as never, file('x.pt')), TypeError, /^Expected obj\['p'\] to be .* but received an instance of Point$/],
      ['a Map key that is neither a string nor an integer', () => torch.save(new Map([[1.5, 1]]) as never, file('x.pt')), TypeError, /^Expected the keys of obj to be strings or integers but received 1.5/],
      ['a cycle', () => torch.save(cyclic as never, file('x.pt')), RangeError, /^Expected obj\['self'\] to be .*\(without cycles\)/],
      ['f not a string', () => torch.save(torch.ones(1), 3 as never), TypeError, 'Expected f to be a file path (a string) but received 3 (number)'],
      ['f empty', () => torch.save(torch.ones(1), ''), RangeError, "Expected f to be a non-empty file path without NUL characters but received '' (string)"],
      ['f with a NUL', () => torch.save(torch.ones(1), 'a\0b'), RangeError, /^Expected f to be a non-empty file path without NUL characters/],
      ['load: f missing', () => (torch.load as (...a: unknown[]) => Promise<unknown>)(), TypeError, "load() missing required argument 'f'"],
      ['load: f null', () => torch.load(null as never), TypeError, 'Expected f to be a file path (a string) but received null'],
      ['load: f a number', () => torch.load(7 as never), TypeError, 'Expected f to be a file path (a string) but received 7 (number)'],
      ['load: map_location not a device', () => torch.load(file('x.pt'), { map_location: 'gpu' }), RangeError, /^Expected map_location to be a device: 'cpu', 'cuda', 'cuda:N' .*or a torch.device but received 'gpu'/],
      ['load: map_location a number', () => torch.load(file('x.pt'), { map_location: 0 as never }), TypeError, /^Expected map_location to be a device/],
      ['load: weights_only not a boolean', () => torch.load(file('x.pt'), { weights_only: 'yes' as never }), TypeError, "Expected weights_only to be a boolean but received 'yes' (string)"],
      ['load: an unknown option', () => torch.load(file('x.pt'), { mmap: true } as never), TypeError, "load() got an unexpected keyword argument 'mmap'"],
    ])('%s: rejects with a TypeError/RangeError naming it', async (_, call, kind, message) => {
      const p = call();
      expect(p).toBeInstanceOf(Promise);
      await expect(p).rejects.toThrow(kind);
      await expect(call()).rejects.toThrow(message);
    });

    test('a disposed tensor in obj: Error naming where it is', async () => {
      const t = torch.ones(1);
      t.dispose();
      await expect(torch.save({ w: [t] }, file('x.pt'))).rejects.toThrow("torch.save: obj['w'][0] is a disposed Tensor");
    });
  });

  describe('EXPECTED FAILURE', () => {
    test('a missing file: Error naming the path, code ENOENT', async () => {
      const missing = file('missing.pt');
      const e = await torch.load(missing).catch((error: Error) => error);
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).message).toBe(`torch.load: cannot read '${missing}': no such file`);
      expect((e as Error & { code: string }).code).toBe('ENOENT');
      // The stack points at the caller, not at Node's internals.
      expect((e as Error).stack).toMatch(/serialization\.test\.ts/);
    });

    test('a directory', async () => {
      await expect(torch.load(dir)).rejects.toThrow(`torch.load: '${dir}' is a directory, not a file`);
    });

    test("garbage bytes: not a PyTorch checkpoint, with libtorch's reason", async () => {
      fs.writeFileSync(file('garbage.pt'), Buffer.from('this is not a zip archive at all'.repeat(10)));
      await expect(torch.load(file('garbage.pt'))).rejects.toThrow(
        new RegExp(`^torch.load: '${file('garbage.pt')}' is not a PyTorch checkpoint \\(the zip archive torch.save writes\\): .*zip archive`));
    });

    test('a truncated checkpoint (half of a good one)', async () => {
      await torch.save(lenet().state_dict(), file('whole.pt'));
      const bytes = fs.readFileSync(file('whole.pt'));
      fs.writeFileSync(file('half.pt'), bytes.subarray(0, bytes.length >> 1));
      await expect(torch.load(file('half.pt'))).rejects.toThrow(/is not a PyTorch checkpoint/);
    });

    test('an empty file', async () => {
      fs.writeFileSync(file('empty.pt'), '');
      await expect(torch.load(file('empty.pt'))).rejects.toThrow(/is not a PyTorch checkpoint/);
    });

    test('a checkpoint that holds a Python object other than data: refused, naming it (nothing runs)', async () => {
      const f = await writeRaw('code.pt', new Call(new Global('os', 'system'), ['echo hi']));
      await expect(torch.load(f)).rejects.toThrow(/cannot load .*: it holds a Python object that lenet-torch does not rebuild: os\.system/);
    });

    test('a damaged data.pkl: an opcode it does not read, or one cut short', async () => {
      await native.writeArchive(file('op.pt'), Uint8Array.from([0x80, 0x02, 0x69, 0x2e]), []);
      await expect(torch.load(file('op.pt'))).rejects.toThrow(/data\.pkl holds pickle opcode 0x69 at byte 2/);
      await native.writeArchive(file('short.pt'), Uint8Array.from([0x80, 0x02, 0x58, 0x10, 0, 0, 0, 0x61]), []);
      await expect(torch.load(file('short.pt'))).rejects.toThrow(/data\.pkl ends early/);
    });

    test('a record smaller than its storage says, or a tensor reaching past its storage', async () => {
      const small = await writeRaw('small.pt', pickledTensor('FloatStorage', '0', 'cpu', 4, 0, [4], [1]), [torch.tensor([1, 2])]);
      await expect(torch.load(small)).rejects.toThrow('record data/0 holds 8 bytes, not the 16 of 4 float32 elements');
      const past = await writeRaw('past.pt', pickledTensor('FloatStorage', '0', 'cpu', 2, 1, [2], [1]), [torch.tensor([1, 2])]);
      await expect(torch.load(past)).rejects.toThrow(/reaches past the end of its storage data\/0 \(2 elements\)/);
      const huge = await writeRaw('huge.pt', pickledTensor('FloatStorage', '0', 'cpu', 2, 0, [2 ** 40, 2 ** 40], [2 ** 40, 1]), [torch.tensor([1, 2])]);
      await expect(torch.load(huge)).rejects.toThrow(/reaches past the end/);
      const missing = await writeRaw('norecord.pt', pickledTensor('FloatStorage', '5', 'cpu', 2, 0, [2], [1]));
      await expect(torch.load(missing)).rejects.toThrow('the archive has no record data/5');
    });

    test('a file that cannot be written: Error naming the path and the reason', async () => {
      const f = path.join(dir, 'no', 'such', 'folder', 'x.pt');
      await expect(torch.save(torch.ones(1), f)).rejects.toThrow(`torch.save: cannot open '${f}' for writing: No such file or directory`);
      await expect(torch.save(torch.ones(1), dir)).rejects.toThrow(`torch.save: cannot open '${dir}' for writing: Is a directory`);
    });
  });
});

/** One entry of a zip archive built by hand: its bytes stored or deflated, and what its headers may claim instead. */
interface ZipEntry { name: string; data: Buffer; deflate?: boolean; declaredSize?: number; crc?: number }

/** A zip archive as PyTorch's reader takes it (records under one folder), with headers of our choosing. */
function zipArchive(entries: ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.deflate ? zlib.deflateRawSync(e.data) : e.data;
    const name = Buffer.from(e.name);
    const fields = (h: Buffer, at: number) => {
      h.writeUInt16LE(20, at); // version needed
      h.writeUInt16LE(0, at + 2); // flags
      h.writeUInt16LE(e.deflate ? 8 : 0, at + 4);
      h.writeUInt32LE(0, at + 6); // time, date
      h.writeUInt32LE(e.crc ?? zlib.crc32(e.data), at + 10);
      h.writeUInt32LE(body.length, at + 14);
      h.writeUInt32LE(e.declaredSize ?? e.data.length, at + 18);
      h.writeUInt16LE(name.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fields(local, 4);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4); // version made by
    fields(entry, 6);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
    parts.push(local, name, body);
    offset += local.length + name.length + body.length;
  }
  const dir = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, dir, end]);
}

/** A checkpoint of one float32 tensor [1, 2, 3, 4] (data/0), with other records added. */
function checkpointWith(name: string, extra: ZipEntry[], data0: Partial<ZipEntry> = {}): string {
  const pickle = Buffer.from(dumps(pickledTensor('FloatStorage', '0', 'cpu', 4, 0, [4], [1])));
  fs.writeFileSync(file(name), zipArchive([
    { name: 'archive/data.pkl', data: pickle },
    { name: 'archive/data/0', data: Buffer.from(Float32Array.from([1, 2, 3, 4]).buffer), ...data0 },
    ...extra,
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]));
  return file(name);
}

describe('torch.load() reads only the records data.pkl names, and no more of each than it says', () => {
  test('the hand-built archive loads (the helper makes what PyTorch reads)', async () => {
    expect((await torch.load(checkpointWith('plain.pt', []))).tolist()).toEqual([1, 2, 3, 4]);
    const deflated = checkpointWith('deflated.pt', [], { deflate: true });
    expect((await torch.load(deflated)).tolist()).toEqual([1, 2, 3, 4]);
  });

  test('a record that data.pkl never names is never read: one declaring 512 MB, damaged, does not stop the load', async () => {
    // Read eagerly, it would be allocated (512 MB) and inflated, and its damage would fail the load.
    const f = checkpointWith('unnamed.pt', [
      { name: 'archive/data/99', data: Buffer.from('a deflate stream far shorter than declared'), deflate: true, declaredSize: 512 * 2 ** 20 },
    ]);
    expect((await torch.load(f)).tolist()).toEqual([1, 2, 3, 4]);
  });

  test('a named record declaring more bytes than its storage holds: refused before it is read', async () => {
    const f = checkpointWith('bomb.pt', [], { deflate: true, declaredSize: 512 * 2 ** 20 });
    await expect(torch.load(f)).rejects.toThrow(`cannot load '${f}': record data/0 holds ${512 * 2 ** 20} bytes, not the 16 of 4 float32 elements`);
  });

  test('a named record declaring fewer bytes than its storage holds: refused', async () => {
    const f = checkpointWith('fewer.pt', [], { deflate: true, declaredSize: 8 });
    await expect(torch.load(f)).rejects.toThrow('record data/0 holds 8 bytes, not the 16 of 4 float32 elements');
  });

  test('a record that inflates to more than it declares: refused, never inflated past its size', async () => {
    const f = checkpointWith('more.pt', [], { data: Buffer.alloc(2 ** 20), deflate: true, declaredSize: 16 });
    await expect(torch.load(f)).rejects.toThrow(`cannot load '${f}': record data/0 is damaged: it does not inflate to the 16 bytes its CRC-32 describes`);
  });

  test('a record named twice in the archive: refused (which one would be read is not defined)', async () => {
    const f = checkpointWith('twice.pt', [{ name: 'archive/data/0', data: Buffer.alloc(16) }]);
    await expect(torch.load(f)).rejects.toThrow(/holds the record 'archive\/data\/0' twice/);
  });
});

describe('any depth of nesting is saved and loaded (no recursion: Python reads and writes these too)', () => {
  const DEPTH = 100_000;

  /** The innermost value of `depth` levels of arrays, objects or Maps, walked without recursion. */
  function innermost(value: unknown, step: (v: any) => unknown): [number, unknown] {
    let depth = 0;
    while (typeof value === 'object' && value !== null && !(value instanceof Tensor)) {
      value = step(value);
      depth++;
    }
    return [depth, value];
  }

  test.each<[string, number[], number[], (v: any) => unknown]>([
    ['lists', [0x5d, 0x28], [0x65], (v) => v[0]], // EMPTY_LIST MARK ... APPENDS
    ['tuples', [0x28], [0x74], (v) => v[0]], // MARK ... TUPLE
    ['dicts', [0x7d, 0x28, 0x58, 1, 0, 0, 0, 0x61], [0x75], (v) => v.a], // EMPTY_DICT MARK 'a' ... SETITEMS
  ])('%s nested 100,000 deep in data.pkl load', async (_, open, close, step) => {
    const bytes = Buffer.concat([
      Buffer.from([0x80, 2]), Buffer.alloc(DEPTH * open.length, Buffer.from(open)),
      Buffer.from([0x4b, 7]), Buffer.alloc(DEPTH * close.length, Buffer.from(close)), Buffer.from([0x2e]),
    ]);
    await native.writeArchive(file('deep.pt'), bytes, []);
    expect(innermost(await torch.load(file('deep.pt')), step)).toEqual([DEPTH, 7]);
  });

  test.each<[string, (inner: unknown) => unknown, (v: any) => unknown]>([
    ['arrays', (inner) => [inner], (v) => v[0]],
    ['plain objects', (inner) => ({ a: inner }), (v) => v.a],
    ['Maps with an integer key', (inner) => new Map([[1, inner]]), (v) => v.get(1)],
  ])('%s nested 100,000 deep round-trip through torch.save', async (_, wrap, step) => {
    let obj: unknown = torch.tensor([1, 2]);
    for (let i = 0; i < DEPTH; i++) obj = wrap(obj);
    await torch.save(obj as never, file('deep-save.pt'));
    const [depth, inner] = innermost(await torch.load(file('deep-save.pt')), step);
    expect(depth).toBe(DEPTH);
    expect((inner as Tensor).tolist()).toEqual([1, 2]);
  });

  test('a bad value 100,000 deep is named by its path', async () => {
    let obj: unknown = [Symbol('s')];
    for (let i = 0; i < DEPTH; i++) obj = [obj];
    await expect(torch.save(obj as never, file('x.pt'))).rejects.toThrow(new RegExp(`^Expected obj(\\[0\\]){${DEPTH + 1}} to be a Tensor`));
  });
});

describe('torch.save() replaces a file whole or not at all', () => {
  /** A good checkpoint at f, and a test that f still holds it (or, when allowed, the new one, whole). */
  async function goodCheckpoint(f: string): Promise<(alsoNew?: number) => Promise<void>> {
    await torch.save({ w: torch.full([3], 7) }, f);
    return async (alsoNew?: number) => {
      const back = await torch.load(f);
      if (alsoNew !== undefined && back.w.numel() === alsoNew) return;
      expect(back.w.tolist()).toEqual([7, 7, 7]);
    };
  }
  const stray = (folder: string) => fs.readdirSync(folder).filter((n) => n.endsWith('.tmp'));

  test('the process killed mid-write: the old file still loads', async () => {
    const folder = fs.mkdtempSync(path.join(dir, 'kill-'));
    const f = path.join(folder, 'model.pt');
    const stillGood = await goodCheckpoint(f);
    // A 256 MB state: the child is killed at the first change in the folder (the temporary file created, or the
    // old file opened for writing), long before it could have written it all.
    const N = 64 * 2 ** 20;
    const child = spawn(process.execPath, ['-e', `
      const { torch } = require(${JSON.stringify(path.join(__dirname, '..'))});
      const w = torch.zeros(${N});
      process.stdout.write('ready\\n');
      process.stdin.once('data', () => torch.save({ w }, ${JSON.stringify(f)}));
    `], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout.once('data', resolve));
    const killed = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const watcher = fs.watch(folder, () => child.kill('SIGKILL'));
    try {
      child.stdin.write('go\n');
      expect(await killed).toBe('SIGKILL');
    } finally {
      watcher.close();
    }
    await stillGood(N);
  });

  test('a write that fails (the file size limit: EFBIG): rejected naming the errno, the old file kept, no temporary left', async () => {
    const folder = fs.mkdtempSync(path.join(dir, 'efbig-'));
    const f = path.join(folder, 'model.pt');
    const stillGood = await goodCheckpoint(f);
    // Node ignores SIGXFSZ, so a write past `ulimit -f` (in KiB) fails with EFBIG instead of killing the process.
    const out = spawnSync('bash', ['-c', `ulimit -f 1024 && exec "${process.execPath}" -e '
      const { torch } = require(${JSON.stringify(path.join(__dirname, '..'))});
      torch.save({ w: torch.zeros(2 ** 20) }, ${JSON.stringify(f)}).then(() => console.log("saved"), (e) => console.log(e.message));
    '`], { encoding: 'utf8' });
    await stillGood();
    expect(stray(folder)).toEqual([]);
    expect(out.stdout.trim()).toBe(`torch.save: cannot write '${f}': File too large (EFBIG)`);
  });

  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-torch-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]).status === 0;
  afterAll(() => {
    if (mounted) spawnSync('umount', [mountPoint]);
    fs.rmSync(mountPoint, { recursive: true, force: true });
  });
  (mounted ? test : test.skip)(
    `a full disk (a 1 MB tmpfs): rejected with ENOSPC, the old file kept, no temporary left${mounted ? '' : ' [skipped: mounting a tmpfs is not permitted here (needs root)]'}`,
    async () => {
      const f = path.join(mountPoint, 'model.pt');
      const stillGood = await goodCheckpoint(f);
      const error = await torch.save({ w: torch.zeros(2 ** 20) }, f).catch((e: Error) => e);
      await stillGood();
      expect(stray(mountPoint)).toEqual([]);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe(`torch.save: cannot write '${f}': No space left on device (ENOSPC)`);
    });

  test("the old file's permissions are kept, a symbolic link stays one, and a device is written, not replaced", async () => {
    const folder = fs.mkdtempSync(path.join(dir, 'modes-'));
    const f = path.join(folder, 'model.pt');
    await torch.save(torch.ones(1), f);
    fs.chmodSync(f, 0o640);
    const link = path.join(folder, 'latest.pt');
    fs.symlinkSync(f, link);
    await torch.save(torch.ones(2), link);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect((await torch.load(f)).tolist()).toEqual([1, 1]);
    expect(fs.statSync(f).mode & 0o777).toBe(0o640);
    await torch.save(torch.ones(1), '/dev/null');
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(stray(folder)).toEqual([]);
  });
});

describe('a native handle that is not a tensor', () => {
  test("an open archive's handle (another of the addon's Externals) is refused where a tensor goes, as a TypeError", async () => {
    const f = file('handle.pt');
    await torch.save(torch.ones(2), f);
    const [, , archive] = await native.readArchive(f);
    try {
      const asTensor = archive as unknown as Tensor['_h'];
      expect(() => native.tensorShape(asTensor)).toThrow(TypeError);
      expect(() => native.tensorShape(asTensor)).toThrow('to be a Tensor');
      // The operator road: a Tensor whose handle is the archive's matches no overload.
      const fake = new Tensor(asTensor);
      expect(() => torch.add(fake, torch.ones(2))).toThrow(TypeError);
      expect(() => torch.ones(2).add(fake)).toThrow(/torch\.add|Tensor\.add|add\(\)/);
      expect(() => torch.cat([torch.ones(1), fake])).toThrow(TypeError);
    } finally {
      native.closeArchive(archive);
    }
  });
});

describe('torch.load() of what is not a regular file', () => {
  test('a FIFO with no writer: refused at once (never waited on)', async () => {
    const fifo = file('fifo.pt');
    execFileSync('mkfifo', [fifo]);
    await expect(torch.load(fifo)).rejects.toThrow(`torch.load: '${fifo}' is a FIFO, not a file`);
    // The native side refuses it too (should the path become a FIFO after torch.load looked at it).
    await expect(native.readArchive(fifo)).rejects.toThrow('it is not a regular file');
  });

  test('a character device', async () => {
    await expect(torch.load('/dev/zero')).rejects.toThrow("torch.load: '/dev/zero' is a device, not a file");
  });
});

describe("an OrderedDict whose items are REDUCE's arguments (as PyTorch's weights_only unpickler calls it)", () => {
  test("Python's OrderedDict([('a', 1), ('b', 2)]) pickled that way (test/fixtures) keeps its items", async () => {
    const obj = await torch.load(path.join(FIXTURES, 'ordered_dict_args.pt'));
    expect(obj).toEqual({ a: 1, b: 2, nested: { w: expect.any(Tensor) } });
    expect(obj.nested.w.tolist()).toEqual([1.5, 2.5]);
  });

  test('from a dict, or with no argument', async () => {
    const od = (...args: unknown[]) => new Call(new Global('collections', 'OrderedDict'), args);
    const f = await writeRaw('od.pt', [od(new Map([['x', 1]])), od()]);
    expect(await torch.load(f)).toEqual([{ x: 1 }, {}]);
  });

  test.each<[string, unknown[], string]>([
    ['two arguments', [[], []], 'OrderedDict is called with 2 arguments; it takes at most one'],
    ['an item that is not a pair', [[new Tuple(['a', 1, 2])]], 'OrderedDict is called with an item that is not a (key, value) pair'],
    ['a number', [3], 'OrderedDict is called with something other than a dict or a list of (key, value) pairs'],
  ])('EXPECTED FAILURE: %s', async (_, args, message) => {
    const f = await writeRaw('od-bad.pt', new Call(new Global('collections', 'OrderedDict'), args));
    await expect(torch.load(f)).rejects.toThrow(message);
  });
});
