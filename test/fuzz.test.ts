// The fuzz suite: every public function, constructor, method and setter called with bad values (undefined, null,
// NaN, ±Infinity, -1, 2**53, strings, symbols, bigints, Proxies whose traps throw, getters that throw, detached and
// shared buffers, frozen objects, arrays with holes, disposed tensors, ...) in every argument position. Each area
// runs in a child process (test/children/fuzz.js, on the built package) so that a crash fails its test instead of
// killing jest; only TypeError, RangeError and Error may come out.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const child = path.join(__dirname, 'children', 'fuzz.js');
let total = 0;

afterAll(() => {
  process.stdout.write(`fuzz: ${total} calls tried (in the areas that passed)\n`);
});

describe('fuzz: bad values everywhere end as TypeError, RangeError or Error, never a crash', () => {
  test.each(['torch', 'tensor', 'ops', 'nn', 'optim', 'd2l', 'distributed'])('%s', (area) => {
    const p = spawnSync(process.execPath, [child, area], { encoding: 'utf8', timeout: 240000, maxBuffer: 16 << 20 });
    const crash = p.signal ? `killed by ${p.signal}` : p.status !== 0 ? `exit ${p.status}` : '';
    expect({ area, crash, stderr: crash ? p.stderr.slice(-2000) : '' }).toEqual({ area, crash: '', stderr: '' });
    const report = JSON.parse(p.stdout.trim().split('\n').pop()!);
    expect(report.failures).toEqual([]);
    expect(report.calls).toBeGreaterThan(100);
    total += report.calls;
  }, 300000);
});
