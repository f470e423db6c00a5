// torch.jit: TorchScript modules made by Python's torch load and run here with Python's results, and nets traced
// here load and run in Python with ours. The Python side (test/interop/jit_fixtures.py) makes its files into a temp
// directory at test time; the cases that need it are skipped, with the reason, without a Python that has torch and
// torchvision.
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { native } from '../lib/binding';
import { d2l, nn, optim, torch, Tensor } from '../lib';
import { ScriptModule } from '../lib/jit';
import { handleOfModule } from '../lib/nn/module';
import { lenet } from './lenet';
import { findPython, NO_PYTHON_REASON, pythonHas } from './python';

const SCRIPT = path.join(__dirname, 'interop', 'jit_fixtures.py');
const python = findPython();
const reason = !python ? NO_PYTHON_REASON
  : pythonHas(python, 'torchvision') ? '' : `no torchvision for ${python} (apt-get install python3-torchvision)`;
const withPython = reason ? describe.skip : describe;
const skipped = reason ? ` (skipped: ${reason})` : '';

let dir: string;
const file = (name: string) => path.join(dir, name);

async function py(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(python!, [SCRIPT, ...args], { timeout: 300000, encoding: 'utf8' });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return Number(a.to('float64').sub(b.to('float64')).abs().max().item());
}

let report: Record<string, unknown> = {};
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-torch-jit-'));
  if (!reason) report = await py('make', dir);
}, 300000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

withPython(`torch.jit.load(): modules Python saved${skipped}`, () => {
  test.each(['traced', 'scripted'])("torchvision's resnet18 %s in Python gives Python's output within 1e-5", async (kind) => {
    const model = await torch.jit.load(file(`resnet18_${kind}.pt`));
    const io = await torch.load(file('resnet18_io.pt'));
    const out = await torch.no_grad(() => model.forward(io.x));
    expect(out).toBeInstanceOf(Tensor);
    expect([...(out as Tensor).shape]).toEqual([2, 1000]);
    expect(maxAbsDiff(out, io[kind])).toBeLessThan(1e-5);
  });

  test('parameters, state_dict and load_state_dict follow PyTorch (names, order, copies in place)', async () => {
    const model = await torch.jit.load(file('resnet18_scripted.pt'));
    const sd = await torch.load(file('state_dict.pt'));
    // The file's state dict has the buffers (BatchNorm's running statistics) too, in the same order.
    expect(Object.keys(model.state_dict())).toEqual(Object.keys(sd));
    const names = model.named_parameters().map(([name]) => name);
    expect(names.slice(0, 3)).toEqual(['conv1.weight', 'bn1.weight', 'bn1.bias']);
    expect(model.parameters().length).toBe(62);
    const zeros = Object.fromEntries(Object.entries(model.state_dict()).map(([k, t]) => [k, torch.zeros(t.shape as number[])]));
    expect(model.load_state_dict(zeros)).toEqual({ missing_keys: [], unexpected_keys: [] });
    expect(Number(model.parameters()[0].abs().sum().item())).toBe(0);
    model.load_state_dict(sd);
    expect(maxAbsDiff(model.parameters()[0], sd['conv1.weight'])).toBe(0);
  });

  test('train() and eval() set training on every submodule; code and graph print forward', async () => {
    const model = await torch.jit.load(file('resnet18_scripted.pt'));
    expect(model.training).toBe(false);
    expect(model.train().training).toBe(true);
    expect(model.eval().training).toBe(false);
    expect(model.code).toMatch(/def forward\(self/);
    expect(model.graph).toMatch(/^graph\(%self/);
    expect(String(model)).toMatch(/^ScriptModule\(forward/);
  });

  test("a module saved on CUDA loads with map_location: 'cpu' and gives Python's output", async () => {
    // A CPU-only PyTorch refuses it without map_location; one with a GPU loads it.
    expect(report.cuda_refused_in_python).toBe(!report.python_cuda);
    const model = await torch.jit.load(file('cuda.pt'), { map_location: 'cpu' });
    expect(model.parameters().every((p) => String(p.device) === 'cpu')).toBe(true);
    const io = await torch.load(file('cuda_io.pt'));
    expect(maxAbsDiff(await torch.no_grad(() => model.forward(io.x)), io.out)).toBeLessThan(1e-6);
  });

  test('EXPECTED FAILURE: the same file without map_location, on a machine without CUDA, says so', async () => {
    if (torch.cuda.is_available()) return; // it loads on CUDA there
    await expect(torch.jit.load(file('cuda.pt'))).rejects.toThrow(/cuda\.pt': its tensors were saved on CUDA, .*pass map_location: 'cpu'$/);
    // Asking for CUDA where there is none is libtorch's own complaint, not that advice.
    await expect(torch.jit.load(file('control.pt'), { map_location: 'cuda' })).rejects.toThrow(/(not compiled with|no) CUDA/);
  });

  test('EXPECTED FAILURE: a state dict saved by torch.save is not a module, and the message says what to do', async () => {
    await expect(torch.jit.load(file('state_dict.pt'))).rejects.toThrow(/not a TorchScript module but .*state dict.*torch\.load/);
  });

  test('EXPECTED FAILURE: a truncated file', async () => {
    const whole = fs.readFileSync(file('control.pt'));
    fs.writeFileSync(file('truncated.pt'), whole.subarray(0, whole.length >> 1));
    await expect(torch.jit.load(file('truncated.pt'))).rejects.toThrow(/truncated\.pt'.*truncated/);
  });

  test('EXPECTED FAILURE: an operator this libtorch lacks is named', async () => {
    await expect(torch.jit.load(file('missing_op.pt'))).rejects.toThrow(/lenet_test::twice/);
  });
});

withPython(`ScriptModule methods${skipped}`, () => {
  let control: ScriptModule;
  let io: Record<string, Tensor>;
  beforeAll(async () => {
    control = await torch.jit.load(file('control.pt'));
    io = await torch.load(file('control_io.pt'));
  });

  test("a loop and an if on a tensor value give Python's result down each branch", async () => {
    expect(report.branches).toEqual([true, true]);
    expect(maxAbsDiff(await control.forward(io.pos, 3), io.pos_out)).toBe(0);
    expect(maxAbsDiff(await control.forward(io.neg, 0), io.neg_out)).toBe(0);
  });

  test("run_method takes and gives lists, dicts, strings, numbers, booleans, tuples and None as Python's", async () => {
    const out = await control.run_method('describe', [torch.ones([2]), torch.ones([2])], 2, 'a', { k: 3 }, true, null,
      [7, 'b']);
    expect(out[0]).toBe('a:b');
    expect([...(out[1] as Tensor).data()]).toEqual([4, 4]);
    expect(out[2]).toEqual({ 'k!': 6 });
    expect(out.slice(3)).toEqual([[2, 7], null, false, 0.5]);
    expect(report.describe).toBe("('a:b', tensor([4., 4.]), {'k!': 6}, [2, 7], None, False, 0.5)");
    // A Map made in this realm (jest's vm context, whose Map is not the addon's) is a dict too.
    const viaMap = await control.run_method('describe', [torch.ones([2]), torch.ones([2])], 2, 'a', new Map([['k', 3]]), true,
      null, [7, 'b']);
    expect(viaMap[2]).toEqual({ 'k!': 6 });
  });

  test('16 calls at once each give the serial result', async () => {
    const inputs = Array.from({ length: 16 }, (_, i) => torch.tensor([i - 8, 1]));
    const serial: Tensor[] = [];
    for (const x of inputs) serial.push(await control.forward(x, 2));
    const together = await Promise.all(inputs.map((x) => control.forward(x, 2)));
    together.forEach((t, i) => expect(maxAbsDiff(t, serial[i])).toBe(0));
  });

  test('EXPECTED FAILURE: train(), to() and load_state_dict() are refused while calls run', async () => {
    const pending = control.forward(io.pos, 20000);
    expect(() => control.train()).toThrow(/while 1 of its method calls run/);
    expect(() => control.to('float64')).toThrow(/to\(\) while/);
    expect(() => control.load_state_dict(control.state_dict())).toThrow(/load_state_dict\(\) while/);
    await pending;
    expect(control.eval().training).toBe(false);
  });

  test('BAD CALL: a wrong argument count or type is a TypeError naming the schema', async () => {
    // (Native errors are of the main realm, which jest's instanceof misses: their name is checked.)
    const typeError = (message: RegExp) => expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(message) });
    await expect(control.forward(io.pos)).rejects.toEqual(typeError(/^forward\(\) takes 2 arguments \(forward\(Tensor x, int n\) -> Tensor\) but 1 was given$/));
    await expect(control.forward(io.pos, 'three')).rejects.toEqual(typeError(/argument 'n' of forward\(Tensor x, int n\) -> Tensor to be .*'three'/));
    await expect(control.forward(io.pos, 3, 4)).rejects.toEqual(typeError(/takes 2 argument/));
    await expect(control.run_method('describe', 'not a list')).rejects.toEqual(typeError(/takes 7 argument/));
    await expect(control.run_method('describe', 'not a list', 1, 'a', {}, true, null, [1, 'b'])).rejects.toEqual(typeError(/argument 'xs' of describe\(Tensor\[\] xs/));
  });

  test('EXPECTED FAILURE: a result JS cannot hold (an object of a TorchScript class) rejects, naming it', async () => {
    await expect(control.run_method('opaque')).rejects.toThrow(/cannot be returned to JS/);
  });

  test('EXPECTED FAILURE: a missing method is named, with the methods there are', async () => {
    await expect(control.run_method('nope')).rejects.toThrow(/no method 'nope'; its methods: .*forward.*describe|describe.*forward/);
  });
});

describe('torch.jit.trace()', () => {
  test("the chapter's LeNet traces to the same outputs, and its parameters are the net's", async () => {
    torch.manual_seed(0);
    const net = lenet();
    const X = torch.randn([4, 1, 28, 28]);
    const traced = torch.jit.trace(net, X);
    expect(traced.code).toMatch(/def forward/);
    expect(traced.named_parameters().map(([n]) => n)).toEqual(net.named_parameters().map(([n]) => n));
    // (The net's own forward takes the faster CPU kernels, the trace libtorch's: the same sums in another order.)
    expect(maxAbsDiff(await torch.no_grad(() => traced.forward(X)), torch.no_grad(() => net.forward(X)))).toBeLessThan(1e-6);
    // A batch of another size: the trace is not fixed to the example's.
    const Y = torch.randn([7, 1, 28, 28]);
    expect(maxAbsDiff(await torch.no_grad(() => traced.forward(Y)), torch.no_grad(() => net.forward(Y)))).toBeLessThan(1e-6);

    // A step of SGD on the traced module's output changes the net's weights, and the net's are the trace's.
    const opt = new optim.SGD(traced.parameters(), { lr: 0.5 });
    const before = net.parameters()[0].clone();
    const loss = (await traced.forward(X) as Tensor).sum();
    loss.backward();
    opt.step();
    expect(maxAbsDiff(net.parameters()[0], before)).toBeGreaterThan(0);
    traced.parameters().forEach((p, i) => expect(maxAbsDiff(p, net.parameters()[i])).toBe(0));
    // (Larger logits after the step: the kernels' different order of sums shows a little more.)
    expect(maxAbsDiff(await torch.no_grad(() => traced.forward(X)), torch.no_grad(() => net.forward(X)))).toBeLessThan(1e-5);
  });

  test('to() casts the traced module in place, and the net with it (their parameters are the same tensors)', async () => {
    const net = lenet();
    const X = torch.randn([2, 1, 28, 28]);
    const before = torch.no_grad(() => net.forward(X));
    const traced = torch.jit.trace(net, X).to(torch.float64);
    expect(traced.parameters().every((p) => p.dtype === 'float64')).toBe(true);
    expect(net.parameters().every((p) => p.dtype === 'float64')).toBe(true);
    const out = await torch.no_grad(() => traced.forward(X.to(torch.float64))) as Tensor;
    expect(out.dtype).toBe('float64');
    expect(maxAbsDiff(out, torch.no_grad(() => net.forward(X.to(torch.float64))))).toBeLessThan(1e-12);
    expect(maxAbsDiff(out, before)).toBeLessThan(1e-5);
  });

  test('a net written in JS traces too', async () => {
    class Net extends nn.Module {
      body = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU());
      head = new nn.Linear(4, 2);
      override forward(x: Tensor): Tensor {
        return this.head.forward(this.body.forward(x)).mul(2);
      }
    }
    const net = new Net();
    const x = torch.randn([5, 3]);
    const traced = torch.jit.trace(net, [x]);
    expect(traced.named_parameters().map(([n]) => n)).toEqual(['body.0.weight', 'body.0.bias', 'head.weight', 'head.bias']);
    expect(maxAbsDiff(await traced.forward(x), net.forward(x))).toBe(0);
  });

  test('EXPECTED FAILURE: a traced net is refused while its net is in use on another thread', async () => {
    const net = lenet();
    const traced = torch.jit.trace(net, torch.randn([1, 1, 28, 28]));
    const hold = new native.Hold([handleOfModule(net)!], 'trained by this test');
    try {
      await expect(traced.forward(torch.randn([1, 1, 28, 28]))).rejects.toThrow(/trained by this test/);
      expect(() => traced.train()).toThrow(/trained by this test/);
      expect(() => traced.save(file('held.pt'))).toThrow(/trained by this test/);
      expect(() => traced.state_dict()).toThrow(/trained by this test/);
    } finally {
      hold.release();
    }
  });

  test('BAD CALL: func and example_inputs are checked', () => {
    expect(() => torch.jit.trace({} as nn.Module, torch.zeros([1]))).toThrow(/Expected func to be an nn\.Module/);
    expect(() => torch.jit.trace(lenet(), [] as Tensor[])).toThrow(/Expected example_inputs to be a Tensor or a non-empty array/);
    expect(() => torch.jit.trace(lenet(), 3 as unknown as Tensor)).toThrow(TypeError);
  });

  test('EXPECTED FAILURE: a forward that fails while tracing is an Error with its message, and nothing is left tracing', () => {
    expect(() => torch.jit.trace(lenet(), torch.zeros([1, 3, 5, 5]))).toThrow(/shape|size/);
    expect(() => torch.jit.trace(lenet(), torch.zeros([1, 1, 28, 28]))).not.toThrow();
  });
});

withPython(`torch.jit.trace() then save(): Python loads the file${skipped}`, () => {
  test("the chapter's LeNet traced here gives Python's torch.jit.load the same outputs", async () => {
    torch.manual_seed(1);
    const net = lenet();
    const X = torch.randn([8, 1, 28, 28]);
    torch.jit.trace(net, X).save(file('lenet_traced.pt'));
    await torch.save({ args: [X] }, file('lenet_in.pt'));
    const ran = await py('run', file('lenet_traced.pt'), file('lenet_in.pt'), file('lenet_out.pt'));
    expect(ran.code).toMatch(/def forward/);
    const { out } = await torch.load(file('lenet_out.pt'));
    expect(maxAbsDiff(out, torch.no_grad(() => net.forward(X)))).toBeLessThan(1e-6);
    // And it loads back here.
    const back = await torch.jit.load(file('lenet_traced.pt'));
    expect(maxAbsDiff(await torch.no_grad(() => back.forward(X)), out)).toBeLessThan(1e-6);
  });
});

describe('torch.jit.load() and save(): BAD CALL and files that are not modules', () => {
  test('BAD CALL: f and map_location are checked', async () => {
    await expect(torch.jit.load(3 as unknown as string)).rejects.toThrow(/Expected f to be a file path/);
    await expect(torch.jit.load('x.pt', { map_location: 'tpu' })).rejects.toThrow(RangeError);
    expect(() => torch.jit.save({} as ScriptModule, 'x.pt')).toThrow(/Expected m to be a ScriptModule/);
  });

  test('EXPECTED FAILURE: a missing file, a directory, a file that is not a zip', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-torch-jit-bad-'));
    try {
      await expect(torch.jit.load(path.join(tmp, 'none.pt'))).rejects.toThrow(/none\.pt': no such file/);
      await expect(torch.jit.load(tmp)).rejects.toThrow(/is a directory/);
      fs.writeFileSync(path.join(tmp, 'text.pt'), 'not a zip archive at all');
      await expect(torch.jit.load(path.join(tmp, 'text.pt'))).rejects.toThrow(/text\.pt': it is not a TorchScript archive/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("the README's HTTP example (the chapter's LeNet, traced, classifying a posted PNG)", () => {
  // The example runs as the README shows it, on the built package (dist/), in a process of its own.
  test('answers a 28x28 PNG with the label the net gives, and a bad body with 400', async () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const block = /```js\n(const http = require\('node:http'\);[^]*?)```/.exec(readme);
    expect(block).not.toBeNull();
    const root = path.join(__dirname, '..');
    const source = block![1].replace("require('lenet-torch')", `require(${JSON.stringify(root)})`)
      .replace("require('pngjs')", `require(${JSON.stringify(require.resolve('pngjs'))})`);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-torch-serve-'));
    torch.manual_seed(2);
    const net = lenet();
    torch.jit.trace(net, torch.zeros([1, 1, 28, 28])).save(path.join(tmp, 'lenet.pt'));
    fs.writeFileSync(path.join(tmp, 'serve.js'), source);

    const { PNG } = require('pngjs') as typeof import('pngjs');
    const png = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0 } as ConstructorParameters<typeof PNG>[0]);
    const pixels = Array.from({ length: 28 * 28 }, (_, i) => (i * 37) % 256);
    pixels.forEach((v, i) => png.data.set([v, v, v, 255], 4 * i));
    const body = PNG.sync.write(png, { colorType: 0 });
    const X = torch.tensor(Float32Array.from(pixels, (v) => v / 255)).reshape(1, 1, 28, 28);
    const [expected] = d2l.get_fashion_mnist_labels(torch.no_grad(() => net.forward(X)).argmax(1));

    const child = spawn(process.execPath, [path.join(tmp, 'serve.js')], {
      env: { ...process.env, MODEL: path.join(tmp, 'lenet.pt'), PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          const m = /listening on port (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`the example exited with ${code}`)));
      });
      const post = async (data: Uint8Array) => {
        const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: data });
        return { status: res.status, text: await res.text() };
      };
      const ok = await post(body);
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.text)).toEqual({ label: expected });
      const bad = await post(new TextEncoder().encode('not a png'));
      expect(bad.status).toBe(400);
    } finally {
      child.kill();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
