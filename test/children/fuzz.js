// A child process for test/fuzz.test.ts: calls every public function, constructor, method and setter of one area
// of the package with bad values, in every argument position, and checks that each call either returns or throws
// a TypeError, RangeError or Error (a rejected promise likewise, within a time limit). Prints one JSON line:
// {area, calls, failures: [...]}. A crash kills this process, which the test reports.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const lt = require(path.join(__dirname, '..', '..'));

// Functions that take a file path (torch.save, Animator.save) meet bad values such as 'x' that are good paths: they
// write into a folder of this run's own, not into the checkout.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-torch-fuzz-'));
process.chdir(work);

const { torch, nn, optim, d2l } = lt;
// The operators generated from the schemas (lib/ops) share one road: the 'ops' area fuzzes them, apart, so that the
// other areas' async calls (load, save) are not starved by thousands of synchronous ones.
const { OP_NAMES } = require(path.join(__dirname, '..', '..', 'dist', 'ops', 'generated'));
const GENERATED = Object.fromEntries(Object.entries(OP_NAMES).map(([s, es]) => [s, new Set(es.map((e) => (typeof e === 'string' ? e : e[0])))]));
const area = process.argv[2];
const failures = [];
let calls = 0;

// ---- the bad values ----
// (No huge but valid sizes such as 2**31: they are resource exhaustion, not bad input, and would only measure how
// long this machine takes to allocate 16 GB.)----------------------------------------------------------------------------------------
function detachedFloat32() {
  const buffer = new ArrayBuffer(16);
  const array = new Float32Array(buffer);
  structuredClone(buffer, { transfer: [buffer] });
  return array;
}
const throwingProxy = () =>
  new Proxy({}, {
    get() { throw new Error('proxy get trap'); },
    has() { throw new Error('proxy has trap'); },
    ownKeys() { throw new Error('proxy ownKeys trap'); },
    getOwnPropertyDescriptor() { throw new Error('proxy descriptor trap'); },
    getPrototypeOf() { throw new Error('proxy getPrototypeOf trap'); },
  });
const throwingGetters = () =>
  Object.defineProperties({}, Object.fromEntries(
    ['lr', 'dtype', 'device', 'size', 'kernel_size', 'padding', 'stride', 'batch_size', 'signal', 'reduction', 'momentum',
      'requires_grad', 'root', 'resize', 'shape', 'verbose', 'on_batch', 'weight', 'length', '0']
      .map((k) => [k, { get() { throw new Error(`getter ${k}`); }, enumerable: true }])));
const holes = () => new Array(5);
const disposed = () => {
  const t = torch.ones(2);
  t.dispose();
  return t;
};

const BAD = [
  ['undefined', () => undefined],
  ['null', () => null],
  ['NaN', () => NaN],
  ['Infinity', () => Infinity],
  ['-Infinity', () => -Infinity],
  ['-1', () => -1],
  ['0', () => 0],
  ['1.5', () => 1.5],
  ['2**53', () => 2 ** 53],
  ["''", () => ''],
  ["'x'", () => 'x'],
  ["'cuda:99999999999'", () => 'cuda:99999999999'],
  ['symbol', () => Symbol('s')],
  ['10n', () => 10n],
  ['2n**64n', () => 2n ** 64n],
  ['true', () => true],
  ['[]', () => []],
  ['[NaN]', () => [NaN]],
  ['ragged', () => [[1], [2, 3]]],
  ['holes', holes],
  ['{}', () => ({})],
  ['frozen', () => Object.freeze({ a: 1 })],
  ['throwing proxy', throwingProxy],
  ['throwing getters', throwingGetters],
  ['detached Float32Array', detachedFloat32],
  ['SharedArrayBuffer Float32Array', () => new Float32Array(new SharedArrayBuffer(16))],
  ['function', () => () => 1],
  ['disposed tensor', disposed],
  ['int64 tensor', () => torch.tensor([1, 2], { dtype: torch.int64 })],
  ['5-d tensor', () => torch.zeros(1, 1, 1, 1, 1)],
];

// ---- the calls ---------------------------------------------------------------------------------------------------
function describe(v) {
  try {
    return typeof v === 'symbol' ? v.toString() : typeof v === 'bigint' ? `${v}n` : String(v).slice(0, 80);
  } catch {
    return typeof v === 'object' ? 'an object that throws when read' : typeof v;
  }
}

function accept(name, args, thrown) {
  if (thrown instanceof TypeError || thrown instanceof RangeError || thrown instanceof Error) return;
  failures.push({ call: name, args: args.map(describe).join(', '), thrown: describe(thrown) });
}

const pending = [];
const trace = process.env.FUZZ_TRACE === '1';
function call(name, fn, args) {
  calls++;
  if (trace) process.stderr.write(`${name} ${args.map(describe).join(', ')}\n`);
  let result;
  try {
    result = fn(...args);
  } catch (e) {
    accept(name, args, e);
    return;
  }
  if (result && typeof result.then === 'function') {
    let timer;
    const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject('timeout: no answer in 20 s'), 20000); });
    pending.push(Promise.race([result, timeout]).then(() => clearTimeout(timer), (e) => { clearTimeout(timer); accept(name, args, e); }));
  }
}

// Every argument position up to `arity` (and one more) gets each bad value, the others a valid value or the same bad.
function fuzz(name, fn, valid = []) {
  const arity = Math.max(fn.length, valid.length) + 1;
  for (const [, make] of BAD) {
    for (let pos = 0; pos < arity; pos++) {
      const args = [];
      for (let i = 0; i <= pos; i++) args.push(i === pos ? make() : i < valid.length ? valid[i]() : make());
      call(`${name}(arg ${pos})`, fn, args);
    }
    call(`${name}(all bad)`, fn, Array.from({ length: arity }, make));
  }
}

function methodsOf(proto) {
  const out = [];
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const key of Object.getOwnPropertyNames(p)) {
      // Object.prototype's own methods (reached through Tensor's indexing guard, a Proxy) are not ours.
      if (key === 'constructor' || key in Object.prototype || out.some(([k]) => k === key)) continue;
      const d = Object.getOwnPropertyDescriptor(p, key);
      out.push([key, d]);
    }
  }
  return out;
}

// Calls each method and setter of objects made by `make` (a fresh object per call: a bad call may dispose it).
function fuzzInstance(label, make, valid = {}) {
  for (const [key, d] of methodsOf(Object.getPrototypeOf(make()))) {
    if (GENERATED.Tensor.has(key) && !d.enumerable) continue; // the 'ops' area's
    if (typeof d.value === 'function') {
      fuzz(`${label}.${key}`, (...args) => { const o = make(); return o[key](...args); }, Object.hasOwn(valid, key) ? valid[key] : []);
    }
    if (d.set) {
      for (const [, v] of BAD) {
        call(`${label}.${key} =`, (x) => { make()[key] = x; }, [v()]);
      }
    }
  }
}

const x = () => torch.rand(4, 1, 28, 28);
const lenet = () => new nn.Sequential(
  new nn.Reshape(-1, 1, 28, 28), new nn.Conv2d(1, 6, { kernel_size: 5, padding: 2 }), new nn.Sigmoid(),
  new nn.AvgPool2d({ kernel_size: 2, stride: 2 }), new nn.Flatten(), new nn.Linear(6 * 14 * 14, 10));

// A few bad values of each kind for the ~1300 generated operators (all of BAD for each would take minutes).
const OPS_BAD = BAD.filter(([name]) => ['undefined', 'null', 'NaN', "'x'", 'symbol', '2n**64n', 'holes', 'throwing proxy',
  'throwing getters', 'disposed tensor', 'int64 tensor', '5-d tensor', '{}'].includes(name));

const areas = {
  ops() {
    const sections = [['torch', torch], ['functional', nn.functional], ['linalg', torch.linalg], ['special', torch.special], ['fft', torch.fft]];
    for (const [section, ns] of sections) {
      for (const name of GENERATED[section]) {
        const fn = ns[name];
        if (typeof fn !== 'function') continue;
        for (const [, make] of OPS_BAD) {
          call(`${section}.${name}(bad)`, fn, [make()]);
          call(`${section}.${name}(tensor, bad)`, fn, [torch.rand(2, 3), make()]);
        }
      }
    }
    for (const name of GENERATED.Tensor) {
      if (typeof lt.Tensor.prototype[name] !== 'function') continue;
      for (const [, make] of OPS_BAD) {
        call(`Tensor.${name}(bad)`, (...a) => torch.rand(2, 3)[name](...a), [make()]);
        call(`Tensor.${name}(bad, bad)`, (...a) => torch.rand(2, 3)[name](...a), [make(), make()]);
      }
    }
  },
  torch() {
    for (const [key, value] of Object.entries(torch)) {
      if (typeof value === 'function' && !/^[A-Z]/.test(key) && !GENERATED.torch.has(key)) fuzz(`torch.${key}`, value);
    }
    for (const [key, value] of Object.entries(torch.cuda)) fuzz(`torch.cuda.${key}`, value);
    fuzz('torch.indexing.Slice', torch.indexing.Slice, [() => 0, () => 2]);
    fuzz('torch.cat(tensors, ...)', (...a) => torch.cat([torch.ones(2, 3), torch.ones(2, 3)], ...a));
    fuzz('torch.stack(tensors, ...)', (...a) => torch.stack([torch.ones(2, 3), torch.ones(2, 3)], ...a));
    fuzz('new torch.utils.data.TensorDataset', (...a) => new torch.utils.data.TensorDataset(...a));
    fuzz('new torch.utils.data.DataLoader', (...a) => new torch.utils.data.DataLoader(...a));
    fuzz('new torch.utils.data.DataLoader(dataset, ...)', (...a) => new torch.utils.data.DataLoader(new torch.utils.data.TensorDataset(torch.ones(4, 2), torch.ones(4)), ...a));
    fuzz('new torch.Size', (...a) => new torch.Size(...a));
    fuzz('new Tensor', (...a) => new lt.Tensor(...a));
  },
  tensor() {
    fuzzInstance('Tensor', () => torch.rand(2, 3), {
      to: [() => 'cpu'], view: [() => 6], reshape: [() => 3], index_select: [() => 0], add: [() => 1], mul: [() => 2],
      index: [() => [0, torch.indexing.Slice(1)]], index_put_: [() => 0], masked_fill: [() => torch.ones(2, 3).gt(0)],
      narrow: [() => 1, () => 0], select: [() => 1], topk: [() => 1, () => 0, () => false], clamp: [() => 0],
      flatten: [() => 0], permute: [() => 1],
    });
    fuzzInstance('int64 Tensor', () => torch.tensor([1, 2, 3], { dtype: torch.int64 }));
    fuzzInstance('parameter', () => new nn.Linear(3, 2).weight);
  },
  nn() {
    for (const [key, value] of Object.entries(nn)) {
      if (typeof value === 'function' && /^[A-Z]/.test(key)) fuzz(`new nn.${key}`, (...a) => new value(...a));
    }
    for (const [key, value] of Object.entries(nn.init)) fuzz(`nn.init.${key}`, value, [() => torch.rand(3, 4)]);
    fuzzInstance('Sequential', lenet, { forward: [x] });
    fuzzInstance('Conv2d', () => new nn.Conv2d(1, 6, { kernel_size: 5 }), { forward: [x] });
    fuzzInstance('Linear', () => new nn.Linear(3, 2));
    fuzzInstance('AvgPool2d', () => new nn.AvgPool2d(2));
    fuzzInstance('MaxPool2d', () => new nn.MaxPool2d(2));
    fuzzInstance('Flatten', () => new nn.Flatten());
    fuzzInstance('Reshape', () => new nn.Reshape(-1, 784));
    fuzzInstance('CrossEntropyLoss', () => new nn.CrossEntropyLoss(), { forward: [() => torch.rand(4, 10)] });
    class Mine extends nn.Module {
      constructor() { super(); this.fc = new nn.Linear(784, 10); }
      forward(input) { return this.fc.forward(input.reshape(-1, 784)); }
    }
    fuzzInstance('a JS Module', () => new Mine(), { forward: [x] });
  },
  optim() {
    const params = () => new nn.Linear(3, 2).parameters();
    fuzz('new optim.SGD', (...a) => new optim.SGD(...a));
    fuzz('new optim.SGD(params, ...)', (...a) => new optim.SGD(params(), ...a));
    fuzzInstance('SGD', () => new optim.SGD(params(), { lr: 0.1 }));
  },
  d2l() {
    const small = () => d2l.load_array([torch.rand(8, 1, 28, 28), torch.randint(0, 10, [8])], 4);
    for (const [key, value] of Object.entries(d2l)) {
      if (typeof value !== 'function') continue;
      if (key === 'load_data_fashion_mnist' || key === 'load_data_mnist') {
        // Each good call reads 30 MB: only the argument checks, with download off. A call whose options are valid
        // (undefined) searches and may download: MNIST's goes to a port where nothing listens, not the internet.
        process.env.MNIST_MIRROR = 'http://127.0.0.1:9/';
        for (const [, make] of BAD) {
          call(`d2l.${key}(bad)`, value, [make()]);
          call(`d2l.${key}(256, bad)`, value, [256, make()]);
          call(`d2l.${key}(256, {root: bad, download: false})`, value, [256, { root: make(), download: false }]);
          call(`d2l.${key}(256, {resize: bad, download: false})`, value, [256, { resize: make(), download: false }]);
        }
        continue;
      }
      if (/^[A-Z]/.test(key)) {
        fuzz(`new d2l.${key}`, (...a) => new value(...a));
        continue;
      }
      fuzz(`d2l.${key}`, value);
    }
    fuzz('d2l.train_ch6(net, ...)', (...a) => d2l.train_ch6(lenet(), ...a), [small, small, () => 1, () => 0.1, () => 'cpu']);
    fuzz('d2l.evaluate_accuracy_gpu(net, ...)', (...a) => d2l.evaluate_accuracy_gpu(lenet(), ...a), [small]);
    fuzzInstance('Accumulator', () => new d2l.Accumulator(2));
    fuzzInstance('Animator', () => new d2l.Animator());
  },
  async distributed() {
    const dist = torch.distributed;
    const { DistributedSampler, TensorDataset } = torch.utils.data;
    // No env:// rendezvous may start: a call that happens to be valid fails on the missing variables instead.
    for (const v of ['MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE']) delete process.env[v];
    const dataset = () => new TensorDataset(torch.ones(4, 2), torch.ones(4));
    // Before any group.
    for (const [key, value] of Object.entries(dist)) if (typeof value === 'function') fuzz(`torch.distributed.${key}`, value);
    fuzz('new DistributedSampler', (...a) => new DistributedSampler(...a));
    fuzz('new DistributedSampler(dataset, ...)', (...a) => new DistributedSampler(dataset(), ...a), [() => 2, () => 0]);
    fuzzInstance('DistributedSampler', () => new DistributedSampler(dataset(), 2, 0));
    fuzz('new nn.parallel.DistributedDataParallel', (...a) => new nn.parallel.DistributedDataParallel(...a));
    await Promise.all(pending);
    // In a group of one: the collectives and DistributedDataParallel, on CPU tensors, so with Gloo (a build against
    // a libtorch without Gloo's headers, Python's CUDA torch say, has only NCCL, which wants a tensor on a GPU).
    if (!dist.is_gloo_available()) return;
    const server = require('node:net').createServer();
    const port = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
    await new Promise((resolve) => server.close(resolve));
    await dist.init_process_group('gloo', { init_method: `tcp://127.0.0.1:${port}`, rank: 0, world_size: 1, timeout: 10 });
    for (const key of ['all_reduce', 'broadcast', 'barrier', 'get_rank', 'get_world_size', 'get_backend']) {
      fuzz(`torch.distributed.${key} (a group of one)`, dist[key], [() => torch.ones(2)]);
    }
    fuzz('new DistributedSampler (a group of one)', (...a) => new DistributedSampler(dataset(), ...a));
    fuzz('new nn.parallel.DistributedDataParallel (a group of one)', (...a) => new nn.parallel.DistributedDataParallel(...a));
    fuzzInstance('DistributedDataParallel', () => new nn.parallel.DistributedDataParallel(lenet()), { forward: [x] });
  },
};

(async () => {
  if (!areas[area]) throw new Error(`unknown area ${area}`);
  // Quiet: train_ch6 and friends print when a fuzzed call happens to be valid.
  console.log = () => undefined;
  await areas[area]();
  await Promise.all(pending);
  process.stdout.write(`${JSON.stringify({ area, calls, failures: failures.slice(0, 50), failed: failures.length })}\n`);
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(0);
})().catch((e) => {
  process.stderr.write(`fuzz harness failed: ${e && e.stack}\n`);
  process.exit(2);
});
