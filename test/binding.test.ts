import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The loader reads LENET_TORCH_BINARY when it is first required, so each case loads a fresh copy.
function loadWith(binary: string): unknown {
  const saved = process.env.LENET_TORCH_BINARY;
  process.env.LENET_TORCH_BINARY = binary;
  try {
    let loaded: unknown;
    jest.isolateModules(() => {
      loaded = require('../lib/binding');
    });
    return loaded;
  } finally {
    if (saved === undefined) delete process.env.LENET_TORCH_BINARY;
    else process.env.LENET_TORCH_BINARY = saved;
  }
}

describe('loading the native addon', () => {
  test('the built addon loads and reports its libtorch', () => {
    const { native } = require('../lib/binding');
    expect(native.torchVersion).toMatch(/^\d+\.\d+/);
  });

  test('EXPECTED FAILURE: a missing addon is one Error naming the path, the cause and the fix', () => {
    const missing = path.join(os.tmpdir(), 'no-such-dir', 'lenet_torch.node');
    expect(() => loadWith(missing)).toThrow(missing);
    expect(() => loadWith(missing)).toThrow(/has not been built/);
    expect(() => loadWith(missing)).toThrow(/Fix: .*as root or with sudo: apt-get install -y cmake g\+\+ make libtorch-dev/);
  });

  test('EXPECTED FAILURE: a file that is not a loadable addon says why', () => {
    const bogus = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lt-')), 'lenet_torch.node');
    fs.writeFileSync(bogus, 'not an ELF file');
    expect(() => loadWith(bogus)).toThrow(bogus);
    expect(() => loadWith(bogus)).toThrow(/Fix: rebuild/);
  });

  // Bisected with the built addon on each Node (a synchronous loop of forwards without dispose(), then train_ch6):
  // 20.18.3, 22.13.0, 23.5.0, 24 and 25 run it with synchronous finalizers; 18.19-18.20.8, 20.10-20.18.2, 21,
  // 22.0-22.12 and 23.0-23.4 abort inside GC; 18.18 and 20.9 defer the finalizers (+1 GB over 120 forwards).
  test.each([
    ['v20.18.3', true], ['v20.20.2', true], ['v22.13.0', true], ['v22.23.3', true], ['v23.5.0', true], ['v24.0.0', true],
    ['v25.9.0', true], ['v18.18.2', false], ['v18.20.8', false], ['v20.9.0', false], ['v20.18.2', false],
    ['v21.7.3', false], ['v22.12.0', false], ['v23.4.0', false],
  ])('Node.js %s is in package.json\'s engines range: %s', (version, ok) => {
    const { nodeSatisfies } = require('../lib/binding');
    const { engines } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    expect(nodeSatisfies(version, engines.node)).toBe(ok);
  });

  test('EXPECTED FAILURE: an unsupported Node.js is one Error naming its version, the range and the fix', () => {
    const { checkNode } = require('../lib/binding');
    expect(() => checkNode('v20.12.2')).toThrow(/does not run on Node\.js v20\.12\.2: it needs \^20\.18\.3 \|\| /);
    expect(() => checkNode('v20.12.2')).toThrow(/Finalizer is calling a function that may affect GC state[^]*Fix: install a Node\.js in that range/);
    expect(() => checkNode(process.version)).not.toThrow();
  });
});

// Two versions of the package in one process (a dependency's own copy) load two copies of the addon, each with its
// own table of tensor handles: a handle names a slot of its table by index and generation, and the generations
// start at random, so one copy reads the other's handle as disposed (or as no handle), never as a tensor of its own
// at that index.
describe('two copies of the addon in one process', () => {
  test('EXPECTED FAILURE: a tensor handle of one copy is an Error in the other, never one of its tensors', () => {
    const { bindingPath, native } = require('../lib/binding');
    const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lt-copy-')), 'lenet_torch.node');
    fs.copyFileSync(bindingPath, copy);
    const other = (loadWith(copy) as { native: typeof native }).native;
    // Both tables with many live slots, so that an index of one is a live slot of the other.
    const mine = Array.from({ length: 2000 }, (_, i) => native.full([1], i, 'float32', null));
    const theirs = Array.from({ length: 2000 }, (_, i) => other.full([1], -i, 'float32', null));
    let read = 0;
    for (const [own, foreign] of [[native, theirs], [other, mine]] as const) {
      for (const h of foreign) {
        try {
          own.tensorItem(h);
          read++;
        } catch (e) {
          // Disposed, or not a handle at all when its slot's chunk does not exist in that copy's table.
          expect((e as Error).message).toMatch(/Tensor was disposed|Expected tensor to be a Tensor/);
        }
      }
    }
    expect(read).toBe(0);
    expect(native.tensorItem(mine[7])).toBe(7);
    expect(other.tensorItem(theirs[7])).toBe(-7);
  });
});

// The addon's init runs again in the same environment when its file is required again after `delete
// require.cache[...]`; what it registers with Node for that environment (a cleanup hook) must not clash with the
// first load's (Node aborts on a second hook of the same function and argument).
describe('requiring the addon again in the same process', () => {
  test('after delete require.cache, a second and third load work and the process ends cleanly', () => {
    const { bindingPath } = require('../lib/binding');
    const script = `const p = ${JSON.stringify(bindingPath)};
      for (let i = 0; i < 3; i++) {
        delete require.cache[p];
        const b = require(p);
        if (typeof b.callOp !== 'function') throw new Error('no callOp');
      }
      console.log('ok');`;
    const o = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    expect(o.stderr).not.toMatch(/Check failed|Aborted|core dumped/);
    expect([o.status, o.signal, o.stdout.trim()]).toEqual([0, null, 'ok']);
  });
});
