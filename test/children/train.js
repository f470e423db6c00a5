// A child process for test/processes.test.ts: trains the chapter's net on synthetic data and does to itself what
// the scenario says while the training runs. Uses the built package (dist/, made by `npm ci` / `npm run build`).
'use strict';
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { torch, d2l } = require(path.join(__dirname, '..', '..'));
const { lenet } = require('../bench/chapter');

// About 1 s an epoch here: long enough that whatever the scenario does lands in the middle of native work.
function data(n = 20000) {
  torch.manual_seed(0);
  const X = torch.rand(n, 1, 28, 28);
  const y = torch.randint(0, 10, [n]);
  return [d2l.load_array([X, y], 256), d2l.load_array([X, y], 1000, false)];
}

async function train(epochs = 3) {
  const [train_iter, test_iter] = data();
  return d2l.train_ch6(lenet(), train_iter, test_iter, epochs, 0.9, 'cpu', { verbose: false });
}

function after(ms, fn) {
  setTimeout(fn, ms);
}

// A worker that trains (or evaluates) and reports; used by the worker scenarios.
if (!isMainThread) {
  (async () => {
    if (workerData.threads) torch.set_num_threads(workerData.threads);
    if (workerData.task === 'evaluate') {
      const [, test_iter] = data();
      for (;;) await d2l.evaluate_accuracy_gpu(lenet(), test_iter);
    }
    if (workerData.task === 'tidy') {
      // 256 MiB made inside a scope that never ends: the parent terminates this worker in the middle of it.
      torch.tidy(() => {
        torch.ones(64 * 1024 * 1024);
        parentPort.postMessage('made');
        for (;;);
      });
    }
    if (workerData.task === 'exit') after(400, () => process.exit(7));
    const result = await train(workerData.epochs ?? 3);
    parentPort.postMessage({ loss: result.loss, threads: torch.get_num_threads() });
  })();
  return;
}

const scenario = process.argv[2];
const say = (line) => process.stdout.write(`${line}\n`);

async function main() {
  switch (scenario) {
    case 'exit': // process.exit() from a timer while a run of batches is on a worker thread
      after(500, () => process.exit(3));
      await train(20);
      say('trained');
      break;
    case 'throw': // an uncaught exception while training
      after(500, () => {
        throw new Error('boom');
      });
      await train(20);
      say('trained');
      break;
    case 'signal': // the parent sends SIGINT or SIGTERM once this says "training"
      say('training');
      await train(20);
      say('trained');
      break;
    case 'workers': { // two workers and the main thread train at once; loading the addon in a worker leaves the
      // process's thread count (torch.set_num_threads is process-wide, as in PyTorch) as the main thread set it
      torch.set_num_threads(1);
      const workers = [1, 2].map(() => new Worker(__filename, { workerData: { epochs: 2 } }));
      const results = workers.map((w) => new Promise((resolve, reject) => { w.on('message', resolve); w.on('error', reject); }));
      const mine = await train(2);
      const theirs = await Promise.all(results);
      await Promise.all(workers.map((w) => w.terminate()));
      say(JSON.stringify({ main: { loss: mine.loss, threads: torch.get_num_threads() }, workers: theirs }));
      break;
    }
    case 'terminate-train':
    case 'terminate-evaluate': { // worker.terminate() in the middle of native work; the process goes on
      const task = scenario === 'terminate-train' ? 'train' : 'evaluate';
      for (let i = 0; i < 3; i++) {
        const worker = new Worker(__filename, { workerData: { task, epochs: 20 } });
        worker.on('error', () => undefined);
        await new Promise((r) => setTimeout(r, 300 + 150 * i));
        await worker.terminate();
      }
      const result = await train(1);
      say(`alive ${Number.isFinite(result.loss)}`);
      break;
    }
    case 'terminate-tidy': { // worker.terminate() inside torch.tidy: the open scope's tensors are freed (no finalizer
      // would free them); the resident memory after each of 4 workers, in MiB
      const rss = [Math.round(process.memoryUsage().rss / 2 ** 20)];
      for (let i = 0; i < 4; i++) {
        const worker = new Worker(__filename, { workerData: { task: 'tidy' } });
        await new Promise((resolve, reject) => { worker.on('message', resolve); worker.on('error', reject); });
        await worker.terminate();
        rss.push(Math.round(process.memoryUsage().rss / 2 ** 20));
      }
      say(JSON.stringify({ rss }));
      break;
    }
    case 'worker-exit': { // process.exit() inside a worker while it trains
      const worker = new Worker(__filename, { workerData: { task: 'exit', epochs: 20 } });
      const code = await new Promise((resolve) => worker.on('exit', resolve));
      const result = await train(1);
      say(`worker exited ${code}, alive ${Number.isFinite(result.loss)}`);
      break;
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
