#!/usr/bin/env node
// Per-call cost of small ops, lenet-torch vs PyTorch (Debian's python3-torch: the same libtorch), in one run:
// 1-element float32 tensors, one thread, after a warm-up `--windows` windows of `--calls` calls each (the median
// window counts), the peers alternating in fresh processes for `--rounds` rounds; medians in microseconds a call.
// lenet-torch is timed three times: results left to the garbage collector; inside torch.tidy (100 calls a scope),
// where each result is freed when its scope ends, as Python frees it when dropped; and inside a module's forward
// written in JS (100 calls a forward), which runs in such a scope of its own; PyTorch twice, bare and in a forward.
//   node test/bench/percall.js [--calls 100000] [--windows 5] [--rounds 5]
// With --instructions, machine instructions a call instead (valgrind's callgrind, `apt-get install valgrind`): the
// difference of a run of 220,000 calls and one of 20,000 (each after 60,000 warm-up calls), per call, for one case
// (--case, default 'a.add(b)'); the lenet-torch child collects its garbage at its end, so that every result's free is
// counted. Unlike the times, which swing 2x from one 100,000-call window to the next on these VMs, the counts repeat
// to within a few hundred instructions; they miss cache misses (what garbage-collected batches of frees cost more
// than Python's one-by-one frees). The whole takes ~15 minutes under valgrind.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const { parseArgs } = require('node:util');

const { values: opts } = parseArgs({ options: { calls: { type: 'string', default: '100000' }, windows: { type: 'string', default: '5' }, rounds: { type: 'string', default: '5' }, python: { type: 'string', default: '/usr/bin/python3' }, child: { type: 'boolean', default: false }, instructions: { type: 'boolean', default: false }, case: { type: 'string', default: 'a.add(b)' }, warmup: { type: 'string', default: '20000' } } });
const CALLS = Number(opts.calls);
const ROUNDS = Number(opts.rounds);
const WARMUP = Number(opts.warmup);
const WINDOWS = Number(opts.windows);
// Calls a torch.tidy scope holds in the tidy timing.
const TIDY_BLOCK = 100;
const median = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

// [label, JS body, Python body]: a and b are 1-element float32 tensors.
const CASES = [
  ['a.add(b)', (a, b) => a.add(b), 'a.add(b)'],
  ['torch.add(a, b)', (a, b, torch) => torch.add(a, b), 'torch.add(a, b)'],
  ['torch.relu(a)', (a, b, torch) => torch.relu(a), 'torch.relu(a)'],
  ['a.relu()', (a) => a.relu(), 'a.relu()'],
  ['a.sum()', (a) => a.sum(), 'a.sum()'],
  ['a.mul_(1)', (a) => a.mul_(1), 'a.mul_(1)'],
];

function node() {
  const { torch, nn } = require('../../dist');
  torch.set_num_threads(1);
  const a = torch.ones(1), b = torch.ones(1);
  // Microseconds a call of run(n) (n calls): the median of the windows after the warm-up.
  const time = (run) => {
    run(WARMUP);
    const windows = [];
    for (let w = 0; w < WINDOWS; w++) {
      const t0 = process.hrtime.bigint();
      run(CALLS);
      windows.push(Number(process.hrtime.bigint() - t0) / CALLS / 1000);
    }
    return median(windows);
  };
  const out = {};
  for (const [label, fn] of CASES) {
    out[label] = time((n) => { for (let i = 0; i < n; i++) fn(a, b, torch); });
    if (!opts.instructions && !process.argv.includes('--case')) {
      const block = () => { for (let j = 0; j < TIDY_BLOCK; j++) fn(a, b, torch); };
      out[`tidy ${label}`] = time((n) => { for (let i = 0; i < n; i += TIDY_BLOCK) torch.tidy(block); });
      // A module's forward written in JS runs in a scope of its own (lib/nn/module.ts), as a Residual block's does.
      class Block extends nn.Module {
        forward() { let y; for (let j = 0; j < TIDY_BLOCK; j++) y = fn(a, b, torch); return y; }
      }
      const net = new Block();
      out[`forward ${label}`] = time((n) => { for (let i = 0; i < n; i += TIDY_BLOCK) net.forward(a); });
    }
  }
  // Under --instructions (node --expose-gc): collect the results still waiting for garbage collection, so that their
  // frees are counted (Python frees each result at once; a process that exits before its next scavenge would
  // otherwise count none of its last ~30,000 frees).
  if (typeof gc === 'function') { gc(); gc(); }
  return out;
}

const PY = `
import json, sys, time, torch
torch.set_num_threads(1)
a = torch.ones(1); b = torch.ones(1)
calls = int(sys.argv[1]); windows = int(sys.argv[4]); out = {}
for label, body in json.loads(sys.argv[2]):
    f = eval('lambda: ' + body)
    for _ in range(int(sys.argv[3])): f()
    times = []
    for _ in range(windows):
        t0 = time.perf_counter_ns()
        for _ in range(calls): f()
        times.append((time.perf_counter_ns() - t0) / calls / 1000)
    out[label] = sorted(times)[windows // 2]
    if len(sys.argv) > 5:
        # The same calls in a module's forward, ${TIDY_BLOCK} a call, as lenet-torch's JS forward.
        class Block(torch.nn.Module):
            def forward(self, x):
                for _ in range(${TIDY_BLOCK}): y = f()
                return y
        net = Block()
        for _ in range(int(sys.argv[3]) // ${TIDY_BLOCK}): net(a)
        times = []
        for _ in range(windows):
            t0 = time.perf_counter_ns()
            for _ in range(calls // ${TIDY_BLOCK}): net(a)
            times.append((time.perf_counter_ns() - t0) / calls / 1000)
        out['forward ' + label] = sorted(times)[windows // 2]
print(json.dumps(out))
`;

function python() {
  const p = spawnSync(opts.python, ['-c', PY, String(CALLS), JSON.stringify(CASES.map(([l, , py]) => [l, py])), String(WARMUP), String(WINDOWS), 'forward'], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(p.stderr);
  return JSON.parse(p.stdout);
}

// Machine instructions of `calls` calls of one case (after the same warm-up at any `calls`), the whole process, under
// callgrind.
const INSTRUCTIONS_WARMUP = '60000';
function instructions(peer, label, calls) {
  const c = CASES.find(([l]) => l === label);
  if (!c) throw new Error(`--case: one of ${CASES.map(([l]) => l).join(', ')}`);
  const out = `${os.tmpdir()}/percall-${process.pid}-${peer}-${calls}.cg`;
  const cmd = peer === 'lenet-torch'
    ? [process.execPath, '--expose-gc', __filename, '--child', '--case', label, '--calls', String(calls), '--windows', '1', '--warmup', INSTRUCTIONS_WARMUP]
    : [opts.python, '-c', PY, String(calls), JSON.stringify([[c[0], c[2]]]), INSTRUCTIONS_WARMUP, '1'];
  const p = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, ...cmd], { encoding: 'utf8' });
  if (p.error || p.status !== 0) throw new Error(`valgrind: ${p.error ? p.error.message : p.stderr.slice(-2000)}`);
  const total = Number(/^totals: (\d+)/m.exec(fs.readFileSync(out, 'utf8'))[1]);
  fs.unlinkSync(out);
  return total;
}

if (opts.child) {
  if (process.argv.includes('--case')) CASES.splice(0, CASES.length, ...CASES.filter(([l]) => l === opts.case));
  process.stdout.write(JSON.stringify(node()));
} else if (opts.instructions) {
  console.log(`${new Date().toISOString()}, ${os.cpus()[0].model}, Node ${process.version}, callgrind, \`${opts.case}\`\n`);
  console.log('| peer | instructions a call |');
  console.log('|---|---:|');
  for (const peer of ['lenet-torch', 'PyTorch']) {
    // Two runs, 20,000 calls then 220,000 after the same warm-up: the difference is 200,000 calls (what a process
    // does once, from starting Node or Python to compiling the loop, varies by a few hundred million instructions).
    const few = instructions(peer, opts.case, 20000);
    const many = instructions(peer, opts.case, 220000);
    console.log(`| ${peer} | ${Math.round((many - few) / 200000)} |`);
  }
} else {
  const trials = { 'lenet-torch': [], PyTorch: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // Each peer in a process of its own, alternating.
    const p = spawnSync(process.execPath, [__filename, '--child', '--calls', String(CALLS), '--windows', String(WINDOWS)], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(p.stderr);
    trials['lenet-torch'].push(JSON.parse(p.stdout));
    trials.PyTorch.push(python());
    process.stderr.write(`round ${r + 1}/${ROUNDS} done\n`);
  }
  console.log(`${new Date().toISOString()}, ${os.cpus()[0].model}, Node ${process.version}, ${WINDOWS} windows of ${CALLS} calls x ${ROUNDS} rounds, 1 thread\n`);
  console.log('| call | lenet-torch (us) | in torch.tidy (us) | in a JS forward (us) | PyTorch (us) | PyTorch in a forward (us) | ratio | ratio in tidy | ratio in forwards |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [label] of CASES) {
    const [l, lt, lf] = ['', 'tidy ', 'forward '].map((k) => median(trials['lenet-torch'].map((t) => t[k + label])));
    const [p, pf] = ['', 'forward '].map((k) => median(trials.PyTorch.map((t) => t[k + label])));
    const row = [l, lt, lf, p, pf].map((x) => x.toFixed(2)).concat([l / p, lt / p, lf / pf].map((x) => x.toFixed(2)));
    console.log(`| \`${label}\` | ${row.join(' | ')} |`);
  }
}
