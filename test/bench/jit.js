#!/usr/bin/env node
// TorchScript inference: torchvision's resnet18 (traced in Python, random weights) served by lenet-torch's
// torch.jit.load and by Python's torch.jit.load, on the same file, input shape and libtorch thread count.
//
//   node test/bench/jit.js [--batches 1,32] [--concurrency 16] [--threads N] [--rounds 3] [--requests 64]
//                          [--python /usr/bin/python3]
//
// Each trial is a process of its own that loads the model, warms up, then makes --requests forward calls (batch
// 1; at batch 32, a quarter as many), --concurrency of them in flight at once: in Node, that many
// `model.forward(x)` Promises from one event loop (libuv's thread pool runs them, UV_THREADPOOL_SIZE set to the
// concurrency); in Python, a thread pool of that size (TorchScript releases the GIL). It reports requests/sec and
// the p50 / p99 latency of a call; the Node trial also reports how busy the event loop was while the calls ran
// (performance.eventLoopUtilization: the share of the time it ran JS or native code rather than waiting for events)
// and its longest stall (perf_hooks.monitorEventLoopDelay: this includes waiting for a core, which on a machine with
// fewer cores than compute threads can take long while the loop has nothing to do). Peers alternate within a round;
// the table holds medians over rounds and the ratio of lenet-torch's requests/sec to Python's, paired by round.
'use strict';

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values: opts } = parseArgs({
  options: {
    batches: { type: 'string', default: '1,32' },
    concurrency: { type: 'string', default: '16' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '64' },
    python: { type: 'string', default: '/usr/bin/python3' },
    trial: { type: 'string' }, // internal: run one lenet-torch trial: FILE,BATCH,REQUESTS
  },
});
const concurrency = Number(opts.concurrency);
const threads = Number(opts.threads);

async function trial(file, batch, requests) {
  const { monitorEventLoopDelay, performance } = require('node:perf_hooks');
  const { torch } = require('../..');
  torch.set_num_threads(threads);
  const model = await torch.jit.load(file, { map_location: 'cpu' });
  const x = torch.randn([batch, 3, 224, 224]);
  const call = async () => {
    const start = process.hrtime.bigint();
    await torch.no_grad(() => model.forward(x));
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  await Promise.all(Array.from({ length: concurrency }, call)); // warm-up: one call per pool thread
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const latencies = [];
  let next = 0;
  const elu = performance.eventLoopUtilization();
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (next < requests) {
      next++;
      latencies.push(await call());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  delay.disable();
  const busy = performance.eventLoopUtilization(elu).utilization;
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  console.log(JSON.stringify({ rps: requests / seconds, p50: at(50), p99: at(99), stall: delay.max / 1e6, busy }));
}

function run(peer, file, batch, requests) {
  const [cmd, args, env] = peer === 'lenet-torch'
    ? [process.execPath, [__filename, '--threads', String(threads), '--concurrency', String(concurrency), '--trial', `${file},${batch},${requests}`],
      { ...process.env, UV_THREADPOOL_SIZE: String(concurrency) }]
    : [opts.python, [path.join(__dirname, 'jit_pytorch.py'), 'serve', file, String(batch), String(requests), String(concurrency), String(threads)], process.env];
  const out = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (out.status !== 0) throw new Error(`${peer} trial failed:\n${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').pop());
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-torch-jit-bench-'));
  const file = path.join(dir, 'resnet18.pt');
  execFileSync(opts.python, [path.join(__dirname, 'jit_pytorch.py'), 'export', file], { stdio: 'inherit' });
  const { torch } = require('../..');
  const batches = opts.batches.split(',').map(Number);
  const peers = ['lenet-torch', 'PyTorch'];
  const results = {};
  for (let round = 0; round < Number(opts.rounds); round++) {
    for (const batch of batches) {
      const requests = batch === 1 ? Number(opts.requests) : Math.max(concurrency, Number(opts.requests) >> 2);
      // Alternate which peer goes first, so neither always meets the machine warmer.
      for (const peer of round % 2 ? [...peers].reverse() : peers) {
        const r = run(peer, file, batch, requests);
        (results[`${peer},${batch}`] ??= []).push(r);
        console.error(`round ${round + 1} batch ${batch} ${peer}: ${r.rps.toFixed(2)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms` +
          (r.stall === undefined ? '' : `, event loop busy ${(100 * r.busy).toFixed(1)}%, stall max ${r.stall.toFixed(1)} ms`));
      }
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const cpu = os.cpus()[0].model;
  console.log(`resnet18 (torch.jit.trace in Python, weights=None), ${concurrency} concurrent forward calls, ${threads} libtorch threads; ` +
    `${new Date().toISOString().slice(0, 10)}, ${cpu}, ${os.cpus().length} cores, Node ${process.version}, libtorch ${torch.__version__}; ` +
    `medians of ${opts.rounds} alternating rounds\n`);
  console.log('| batch | peer | requests/sec | p50 ms | p99 ms | event loop busy | event loop stall max ms | req/s vs PyTorch (paired) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const batch of batches) {
    for (const peer of peers) {
      const rs = results[`${peer},${batch}`];
      const ratio = peer === 'lenet-torch' ? `${median(rs.map((r, i) => r.rps / results[`PyTorch,${batch}`][i].rps)).toFixed(2)}x` : '';
      const stall = rs[0].stall === undefined ? '' : median(rs.map((r) => r.stall)).toFixed(1);
      const busy = rs[0].busy === undefined ? '' : `${(100 * median(rs.map((r) => r.busy))).toFixed(1)}%`;
      console.log(`| ${batch} | ${peer} | ${median(rs.map((r) => r.rps)).toFixed(2)} | ${median(rs.map((r) => r.p50)).toFixed(1)} | ` +
        `${median(rs.map((r) => r.p99)).toFixed(1)} | ${busy} | ${stall} | ${ratio} |`);
    }
  }
}

if (opts.trial) {
  const [file, batch, requests] = opts.trial.split(',');
  trial(file, Number(batch), Number(requests)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main();
}
