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
    expect(() => loadWith(missing)).toThrow(/Fix: .*apt-get install -y cmake g\+\+ libtorch-dev/);
  });

  test('EXPECTED FAILURE: a file that is not a loadable addon says why', () => {
    const bogus = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lt-')), 'lenet_torch.node');
    fs.writeFileSync(bogus, 'not an ELF file');
    expect(() => loadWith(bogus)).toThrow(bogus);
    expect(() => loadWith(bogus)).toThrow(/Fix: rebuild/);
  });
});
