#!/usr/bin/env node
// The chapter's LeNet on Fashion-MNIST, trained by lenet-torch and, in the same run, by PyTorch (Debian's
// python3-torch: the same libtorch) in its best configuration here and with the chapter's own code, and by
// TensorFlow.js: `npm run bench`.
//
//   node test/bench/run.js [--epochs 10] [--rounds 3] [--threads 1,2] [--device cpu|cuda]
//                          [--peers lenet-torch,pytorch-best,pytorch,tfjs] [--tfjs-epochs 1] [--tfjs-examples 1280]
//                          [--tfjs-rounds 1] [--workers 4] [--data DIR] [--python /usr/bin/python3] [--out FILE]
//                          [--isa avx512|avx2|default]
//
// Peers: lenet-torch (the chapter as scripts/lenet.js runs it); pytorch-best (the chapter's net and train_ch6 with the
// data converted once into an in-memory TensorDataset, no loader workers: PyTorch's best configuration on this
// machine); pytorch (the chapter's code verbatim: torchvision + ToTensor + a DataLoader with 4 worker processes);
// tfjs (TensorFlow.js's cpu backend, single-threaded, so it runs at the first thread count only).
// Each trial runs in a process of its own (peak RSS is the trial's), on the same data, batch size (256) and lr (0.9);
// within a round every peer runs at every thread count, one after the other, so that a slow spell of this shared
// machine falls on all of them. Each trial prints one JSON line; this runner prints a line per trial on stderr, then
// markdown tables (medians and every trial, ratios paired by round, 2-thread scaling, the share of the physical
// limit) on stdout and into --out (default test/bench/RESULTS-<device>.md).
//
// --isa forces a lower SIMD instruction set on every peer, so that any machine measures e.g. the AVX2 path: through
// ATEN_CPU_CAPABILITY (lenet-torch's direct loops and libtorch's / PyTorch's own vectorized kernels), oneDNN's
// ONEDNN_MAX_CPU_ISA and OpenBLAS's OPENBLAS_CORETYPE. The tables say which target lenet-torch's loops ran, and each
// peer's share of the machine's measured single-core sgemm rate (test/bench/sgemm.js, under the same environment;
// at n threads, of n times that rate).
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const BATCH_SIZE = 256;
const LR = 0.9;
const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
const RAW_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
// One LeNet training example (forward + backward, batch 256) costs about 2.3 MFLOP. With --peak-eps N (a machine's
// FP32 rate / 2.3 MFLOP), the tables add each peer's share of it. (The old default, 60,000 from OpenBLAS's sgemm
// rate on the 2-core VM, was passed once lenet-torch's own AVX-512 loops beat that rate.)
const MFLOP_PER_EXAMPLE = 2.3;

const PEERS = {
  'lenet-torch': { label: 'lenet-torch', script: 'lenet_torch.js' },
  'pytorch-best': { label: 'PyTorch, data in memory', script: 'pytorch_lenet.py', args: ['--loader', 'memory'] },
  pytorch: { label: "PyTorch, the chapter's code", script: 'pytorch_lenet.py', args: ['--loader', 'chapter'] },
  tfjs: { label: 'TensorFlow.js', script: 'tfjs_lenet.js' },
};
const isPython = (peer) => PEERS[peer].script.endsWith('.py');

// A bad option is the user's mistake, not a crash: its message alone, exit code 2.
const usageError = (error) => {
  console.error(`${error.message}\nusage: node test/bench/run.js [--epochs N] [--rounds N] [--threads N[,N...]] [--device cpu|cuda] ` +
    '[--peers lenet-torch,pytorch-best,pytorch,tfjs] [--tfjs-epochs N] [--tfjs-examples N] [--tfjs-rounds N] [--workers N] [--data DIR] ' +
    '[--python PATH] [--cache DIR] [--peak-eps N] [--isa avx512|avx2|default] [--out FILE]');
  process.exit(2);
};
process.on('uncaughtException', usageError);

const { values: opts } = parseArgs({
  options: {
    epochs: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: [...new Set([1, os.availableParallelism()])].join(',') },
    device: { type: 'string', default: 'cpu' },
    peers: { type: 'string', default: 'lenet-torch,pytorch-best,pytorch,tfjs' },
    'tfjs-epochs': { type: 'string', default: '1' },
    // tfjs's cpu backend trains about 10 examples/sec here: a whole epoch takes hours. 60000 for a full epoch.
    'tfjs-examples': { type: 'string', default: '1280' },
    'tfjs-rounds': { type: 'string', default: '1' },
    workers: { type: 'string', default: '4' },
    data: { type: 'string' },
    python: { type: 'string', default: '/usr/bin/python3' },
    // torchvision's root, where the IDX files are decompressed once for PyTorch (download=False needs them plain).
    cache: { type: 'string', default: path.join(os.tmpdir(), 'lenet-torch-bench') },
    'peak-eps': { type: 'string' },
    isa: { type: 'string' },
    out: { type: 'string' },
  },
});

function positiveInt(name) {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Expected --${name} to be a positive integer but received ${opts[name]}`);
  return n;
}

const EPOCHS = positiveInt('epochs');
const ROUNDS = positiveInt('rounds');
const THREADS = opts.threads.split(',').map((t) => {
  const n = Number(t);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Expected --threads to be positive integers (1,2) but received ${opts.threads}`);
  return n;
});
const TFJS_EPOCHS = positiveInt('tfjs-epochs');
const TFJS_EXAMPLES = Math.min(60000, positiveInt('tfjs-examples'));
const TFJS_ROUNDS = Math.min(ROUNDS, positiveInt('tfjs-rounds'));
const WORKERS = Number(opts.workers);
if (!Number.isInteger(WORKERS) || WORKERS < 0) throw new RangeError(`Expected --workers to be an integer >= 0 but received ${opts.workers}`);
const PEAK_EPS = opts['peak-eps'] === undefined ? null : positiveInt('peak-eps');
// What each --isa sets for the trials: ATEN_CPU_CAPABILITY, oneDNN's highest ISA, OpenBLAS's core type.
const ISA_ENV = {
  avx512: { ATEN_CPU_CAPABILITY: 'avx512' },
  avx2: { ATEN_CPU_CAPABILITY: 'avx2', ONEDNN_MAX_CPU_ISA: 'AVX2', DNNL_MAX_CPU_ISA: 'AVX2', OPENBLAS_CORETYPE: 'Haswell' },
  default: { ATEN_CPU_CAPABILITY: 'default', ONEDNN_MAX_CPU_ISA: 'SSE41', DNNL_MAX_CPU_ISA: 'SSE41', OPENBLAS_CORETYPE: 'Nehalem' },
};
if (opts.isa !== undefined && !ISA_ENV[opts.isa]) {
  throw new RangeError(`Expected --isa to be one of ${Object.keys(ISA_ENV).join(', ')} but received ${opts.isa}`);
}
const TRIAL_ENV = { ...process.env, ...(opts.isa ? ISA_ENV[opts.isa] : {}) };
const DEVICE = opts.device;
if (DEVICE !== 'cpu' && DEVICE !== 'cuda') throw new RangeError(`Expected --device to be cpu or cuda but received ${DEVICE}`);
const OUT = path.resolve(opts.out ?? path.join(__dirname, `RESULTS-${DEVICE}.md`));
const requested = opts.peers.split(',').map((p) => p.trim()).filter(Boolean);
for (const p of requested) {
  if (!PEERS[p]) throw new RangeError(`Expected --peers to name some of ${Object.keys(PEERS).join(', ')} but received ${p}`);
}
const notes = [];
const peers = requested.filter((p) => {
  if (p === 'tfjs' && DEVICE === 'cuda') {
    notes.push('TensorFlow.js was skipped: its cpu backend does not run on CUDA (and tfjs-node-gpu cannot install offline).');
    return false;
  }
  return true;
});
if (peers.length === 0) throw new RangeError('Expected --peers to leave at least one peer to run');
process.off('uncaughtException', usageError);

// The one folder all peers read: --data, else $FASHION_MNIST_DIR, else Debian's dataset-fashion-mnist.
function dataDir() {
  const dir = path.resolve(opts.data ?? process.env.FASHION_MNIST_DIR ?? DEBIAN_DIR);
  const has = (d) => RAW_FILES.every((f) => fs.existsSync(path.join(d, f)) || fs.existsSync(path.join(d, `${f}.gz`)));
  if (has(dir)) return dir;
  if (has(path.join(dir, 'FashionMNIST', 'raw'))) return path.join(dir, 'FashionMNIST', 'raw');
  throw new Error(`Fashion-MNIST not found in ${dir}: expected ${RAW_FILES.map((f) => `${f}[.gz]`).join(', ')} ` +
    '(sudo apt-get install dataset-fashion-mnist, or pass --data DIR)');
}

/** Runs one trial: its JSON, with the job's wall time from spawn to exit. */
function trial(peer, round, threads) {
  const { script, args: extra = [] } = PEERS[peer];
  const file = path.join(__dirname, script);
  const seed = String(round);
  const common = ['--threads', String(threads), '--device', DEVICE, '--seed', seed];
  const [cmd, args] = isPython(peer)
    ? [opts.python, [file, ...extra, '--epochs', String(EPOCHS), '--root', opts.cache, '--data', DATA, '--workers', String(WORKERS), ...common]]
    : peer === 'tfjs'
      ? [process.execPath, [file, '--epochs', String(TFJS_EPOCHS), '--examples', String(TFJS_EXAMPLES), '--data', DATA, ...common]]
      : [process.execPath, [file, '--epochs', String(EPOCHS), '--data', DATA, ...common]];
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: TRIAL_ENV });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', (error) => reject(new Error(`${cmd} ${args.join(' ')}: ${error.message}`)));
    child.on('close', (code, signal) => {
      const job_seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      if (code !== 0 || !line) {
        const tail = (stderr + stdout).trim().split('\n').slice(-15).join('\n');
        reject(new Error(`${peer} (round ${round}, ${threads} thread(s)) failed (${signal ?? `exit code ${code}`}):\n  ${cmd} ${args.join(' ')}\n${tail}`));
        return;
      }
      resolve({ ...JSON.parse(line), peer, round, threads, job_seconds, command: `${cmd} ${args.map((a) => path.isAbsolute(a) ? path.relative(process.cwd(), a) || a : a).join(' ')}` });
    });
  });
}

/** The single-core sgemm rate (test/bench/sgemm.js) under the trials' environment, GFLOP/s; null if it fails. */
function sgemm() {
  try {
    const out = execFileSync(process.execPath, [path.join(__dirname, 'sgemm.js')], { encoding: 'utf8', env: TRIAL_ENV, timeout: 120000 });
    return JSON.parse(out.trim().split('\n').pop()).gflops;
  } catch {
    return null;
  }
}

// ---- formatting ----

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const num = (x, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const fmt = {
  eps: (x) => num(x, x < 100 ? 1 : 0),
  s: (x) => `${num(x, 1)} s`,
  mb: (x) => `${num(x)} MB`,
  acc: (x) => num(x, 3),
  pct: (x) => `${num(x * 100, x < 0.01 ? 2 : 1)} %`,
  ratio: (x) => `${num(x, 2)}x`,
};
/** "median [a, b, c]", or just the value for one trial. */
function cell(xs, f) {
  if (xs.length === 0) return '';
  return xs.length === 1 ? f(xs[0]) : `**${f(median(xs))}** [${xs.map(f).join(', ')}]`;
}

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60000 }).trim();
  } catch {
    return null;
  }
}

function machine() {
  const cpus = os.cpus();
  const release = fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8') : '';
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(release)?.[1];
  const lscpu = sh('lscpu', []) ?? '';
  const field = (name) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(lscpu)?.[1];
  const cores = Number(field('Core\\(s\\) per socket')) * Number(field('Socket\\(s\\)'));
  const model = cpus[0] ? cpus[0].model.trim() : 'unknown CPU';
  return {
    cpu: `${model}, ${Number.isFinite(cores) && cores > 0 ? `${cores} cores, ` : ''}${cpus.length} logical CPUs, ${num(os.totalmem() / 2 ** 30, 1)} GiB RAM`,
    os: `${pretty ?? os.type()}, ${os.type()} ${os.release()} ${os.arch()}`,
    gpu: DEVICE === 'cuda' ? sh('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader']) : null,
  };
}

function report(trials, ctx) {
  const at = (peer, threads) => trials.filter((t) => t.peer === peer && (threads === undefined || t.threads === threads));
  const pick = (peer, threads, key) => at(peer, threads).map((t) => t[key]).filter((v) => typeof v === 'number');
  const first = (peer) => at(peer)[0];
  const ran = peers.filter((p) => at(p).length);
  const label = (p) => PEERS[p].label;
  const lt = first('lenet-torch');
  const py = first('pytorch-best') ?? first('pytorch');
  const tj = first('tfjs');
  const cuda = DEVICE === 'cuda';
  const lines = [];
  const L = (s = '') => lines.push(s);
  const table = (head, rows) => {
    L(`| ${head.join(' | ')} |`);
    L(`|${head.map(() => '---').join('|')}|`);
    for (const r of rows) L(`| ${r.join(' | ')} |`);
    L();
  };
  const tn = (n) => `${n} thread${n > 1 ? 's' : ''}`;

  L(`# LeNet on Fashion-MNIST: ${ran.map(label).join(', ')}, side by side`);
  L();
  L(`Written by \`${ctx.command}\` (test/bench/run.js).`);
  L();
  L(`- date: ${ctx.date}`);
  L(`- machine: ${ctx.machine.cpu}; ${ctx.machine.os}; load average ${num(ctx.load[0], 2)} at the start, ` +
    `${num(os.loadavg()[0], 2)} at the end (1 min)`);
  if (ctx.machine.gpu) L(`- GPU: ${ctx.machine.gpu}`);
  if (!cuda) {
    const isas = [...new Set(at('lenet-torch').map((t) => t.cpu_capability).filter(Boolean))];
    L(`- SIMD: ${opts.isa ? `forced to ${opts.isa} (--isa: ${Object.entries(ISA_ENV[opts.isa]).map(([k, v]) => `${k}=${v}`).join(' ')})` : "the CPU's best"}` +
      `${isas.length ? `; lenet-torch's direct loops ran ${isas.join(', ')}` : ''}` +
      `${ctx.sgemm ? `; measured single-core sgemm rate (test/bench/sgemm.js, the best of before and after the rounds): ${num(ctx.sgemm, 1)} GFLOP/s ` +
        `= ${num(ctx.sgemm * 1000 / MFLOP_PER_EXAMPLE)} examples/sec at ${MFLOP_PER_EXAMPLE} MFLOP an example` : ''}`);
  }
  L(`- Node ${process.version}; lenet-torch ${ctx.versions.lenetTorch} on libtorch ${ctx.versions.libtorch}` +
    (py ? `; Python ${py.versions.python}, PyTorch ${py.versions.torch}, torchvision ${py.versions.torchvision} (${opts.python})` : '') +
    (tj ? `; TensorFlow.js ${tj.versions.tfjs} (cpu backend)` : ''));
  L(`- device: ${DEVICE}${lt ? ` (lenet-torch: ${lt.device}` : ''}${py ? `${lt ? ', ' : ' ('}PyTorch: ${py.device})` : lt ? ')' : ''}; ` +
    `threads: ${THREADS.join(' and ')} (torch.set_num_threads in lenet-torch and PyTorch${ran.includes('tfjs') ? `; tfjs's cpu backend is single-threaded JavaScript and runs at ${tn(THREADS[0])} only` : ''})`);
  L(`- the chapter's settings: batch size ${BATCH_SIZE}, lr ${LR}, ${EPOCHS} epoch${EPOCHS > 1 ? 's' : ''} of the 60,000 training ` +
    `examples, SGD on the mean cross-entropy, Xavier-uniform weights; test accuracy on the 10,000 test examples; data from ${DATA}`);
  L(`- ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}; in each, every peer at every thread count, in order: ` +
    `${THREADS.map((n) => `${ran.filter((p) => p !== 'tfjs' || n === THREADS[0]).map(label).join(', ')} at ${tn(n)}`).join('; then ')}` +
    `${ran.includes('tfjs') && TFJS_ROUNDS < ROUNDS ? ` (TensorFlow.js in the first ${TFJS_ROUNDS === 1 ? 'round only' : `${TFJS_ROUNDS} rounds`})` : ''}; ` +
    'each trial in a process of its own; round r seeds every peer with r');
  if (ran.includes('pytorch-best')) {
    L("- PyTorch, data in memory (test/bench/pytorch_lenet.py --loader memory): PyTorch's best configuration on this machine: " +
      "the chapter's net, train_ch6 and evaluate_accuracy_gpu, with the images converted once (as ToTensor would) into " +
      'an in-memory TensorDataset, batched by a DataLoader without worker processes');
  }
  if (ran.includes('pytorch')) {
    L(`- PyTorch, the chapter's code (test/bench/pytorch_lenet.py): torchvision's FashionMNIST with ToTensor, ` +
      `DataLoader with ${WORKERS} worker processes (d2l's get_dataloader_workers() is 4), the chapter's train_ch6 ` +
      'and evaluate_accuracy_gpu, without the Animator');
  }
  if (ran.includes('tfjs')) {
    const full = TFJS_EXAMPLES >= 60000;
    L(`- TensorFlow.js (test/bench/tfjs_lenet.js) trains ${TFJS_EPOCHS} epoch${TFJS_EPOCHS > 1 ? 's' : ''} of ` +
      `${full ? 'all 60,000' : `${num(TFJS_EXAMPLES)} shuffled`} examples (--tfjs-epochs ${TFJS_EPOCHS}, --tfjs-examples ${TFJS_EXAMPLES}): ` +
      "its pure-JS cpu backend is slow (tfjs-node cannot install offline; the wasm backend cannot train conv nets)" +
      (full ? '' : ', so a whole epoch would take hours; its accuracy after so few steps says nothing'));
  }
  for (const n of notes) L(`- ${n}`);
  L();

  // Ratios a / b of one key, paired by round (both trials of a pair ran minutes apart).
  const paired = (pa, ta, pb, tb, key) => {
    const rs = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const x = at(pa, ta).find((t) => t.round === r);
      const y = at(pb, tb).find((t) => t.round === r);
      if (x && y) rs.push(x[key] / y[key]);
    }
    return rs;
  };
  const ratioCell = (rs) => (rs.length ? cell(rs, fmt.ratio) : '');

  L(`## Training examples/sec${ROUNDS > 1 ? ': median [every trial, in round order]' : ''}`);
  L();
  const rows = THREADS.map((n) => [tn(n), ...ran.map((p) => cell(pick(p, n, 'examples_per_sec'), fmt.eps))]);
  if (THREADS.length > 1) {
    const [one, many] = [THREADS[0], THREADS[THREADS.length - 1]];
    rows.push([`${tn(many)} / ${tn(one)}, paired by round`, ...ran.map((p) => ratioCell(paired(p, many, p, one, 'examples_per_sec')))]);
  }
  table(['', ...ran.map(label)], rows);

  const others = ran.filter((p) => p !== 'lenet-torch');
  if (ran.includes('lenet-torch') && others.length) {
    L('## lenet-torch / each peer, training examples/sec paired by round (higher: lenet-torch faster)');
    L();
    table(['', ...others.map(label)], THREADS.map((n) => [tn(n), ...others.map((p) => ratioCell(paired('lenet-torch', n, p, n, 'examples_per_sec')))]));
  }

  for (const n of THREADS) {
    const here = ran.filter((p) => at(p, n).length);
    L(`## ${tn(n)}: medians${ROUNDS > 1 ? ' [every trial, in round order]' : ''}`);
    L();
    const row = (name, f) => [name, ...here.map(f)];
    table(['', ...here.map(label)], [
      row('training examples/sec (whole epochs, data loading in, evaluation out)', (p) => cell(pick(p, n, 'examples_per_sec'), fmt.eps)),
      ...(ctx.sgemm && !cuda ? [row(`share of ${n} x the measured single-core sgemm rate (${num(n * ctx.sgemm, 1)} GFLOP/s)`,
        (p) => cell(pick(p, n, 'examples_per_sec').map((x) => (x * MFLOP_PER_EXAMPLE) / (n * ctx.sgemm * 1000)), fmt.pct))] : []),
      ...(PEAK_EPS && !cuda ? [row(`share of the given limit (--peak-eps ${num(PEAK_EPS)} examples/sec)`, (p) => cell(pick(p, n, 'examples_per_sec').map((x) => x / PEAK_EPS), fmt.pct))] : []),
      row('training time', (p) => cell(pick(p, n, 'train_seconds'), fmt.s)),
      row('whole-job wall time (process start to exit)', (p) => cell(pick(p, n, 'job_seconds'), fmt.s)),
      row('peak RSS', (p) => cell(pick(p, n, 'peak_rss_mb'), fmt.mb) +
        (pick(p, n, 'peak_rss_children_mb').some((x) => x > 0) ? ` (+ loader workers: largest ${fmt.mb(median(pick(p, n, 'peak_rss_children_mb')))})` : '')),
      row('final training loss', (p) => cell(pick(p, n, 'loss'), fmt.acc)),
      row('final training accuracy', (p) => cell(pick(p, n, 'train_acc'), fmt.acc)),
      row('final test accuracy', (p) => cell(pick(p, n, 'test_acc'), fmt.acc)),
      row('examples trained per trial', (p) => { const t = at(p, n)[0]; return `${num(t.examples)} (${t.epochs} × ${num(t.examples / t.epochs)})`; }),
    ]);
  }

  L('## Trials');
  L();
  table(['#', 'round', 'threads', 'peer', 'examples/sec', 'training', 'epochs (s)', 'whole job', 'peak RSS', 'loss', 'train acc', 'test acc'],
    trials.map((t, i) => [i + 1, t.round, t.threads, label(t.peer), fmt.eps(t.examples_per_sec), fmt.s(t.train_seconds),
      t.epoch_seconds.map((x) => num(x, 1)).join(', '), fmt.s(t.job_seconds), fmt.mb(t.peak_rss_mb), fmt.acc(t.loss),
      fmt.acc(t.train_acc), fmt.acc(t.test_acc)]));

  L('Notes:');
  L();
  L('- examples/sec = examples trained / the sum of the epochs\' training times. Each epoch is timed whole: the pass ' +
    "over the shuffled training set, batching and data loading included, evaluation excluded (lenet-torch: train_ch6's " +
    "history[].seconds; PyTorch: a clock around the chapter's whole `for X, y in train_iter` loop; TensorFlow.js: the " +
    'same around its batch loop). Whole-job wall time is from spawning the process to its exit: interpreter, module ' +
    'and data loading, evaluation after every epoch.');
  for (const p of ['pytorch-best', 'pytorch'].filter((q) => ran.includes(q))) {
    L(`- The chapter's own figure for ${label(p)} (its d2l.Timer runs around each step only, so waiting on the loader ` +
      `is left out): ${THREADS.map((n) => `${tn(n)} ${cell(pick(p, n, 'd2l_examples_per_sec'), fmt.eps)}`).join('; ')} examples/sec.`);
  }
  if (PEAK_EPS && !cuda) {
    L(`- The given limit: one training example costs about ${MFLOP_PER_EXAMPLE} MFLOP (forward and backward of LeNet); ` +
      `--peak-eps ${num(PEAK_EPS)} examples/sec is ${num(PEAK_EPS * MFLOP_PER_EXAMPLE / 1000)} GFLOP/s.`);
  }
  L('- This machine is shared: the load average above shows how busy it was; compare the peers round by round.');
  return lines.join('\n') + '\n';
}

let DATA;

async function main() {
  const date = new Date().toISOString();
  const load = os.loadavg();
  DATA = dataDir();
  if (peers.some(isPython)) {
    // torchvision's FashionMNIST (download=False) reads the decompressed files from root/FashionMNIST/raw.
    await new Promise((resolve, reject) => {
      const child = spawn(opts.python, [path.join(__dirname, 'pytorch_lenet.py'), '--prepare-only', '--root', opts.cache, '--data', DATA], { stdio: 'inherit' });
      child.on('error', (error) => reject(new Error(`${opts.python}: ${error.message} (pass --python, or leave pytorch out of --peers)`)));
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`preparing ${opts.cache} for torchvision failed (exit code ${code})`))));
    });
  }

  const plan = [];
  for (let r = 1; r <= ROUNDS; r++) {
    for (const n of THREADS) {
      for (const p of peers) if (p !== 'tfjs' || (r <= TFJS_ROUNDS && n === THREADS[0])) plan.push([p, r, n]);
    }
  }
  console.error(`${plan.length} trials: ${EPOCHS} epoch(s), ${THREADS.join(' and ')} thread(s), device ${DEVICE}, data ${DATA}`);
  const before = DEVICE === 'cpu' ? sgemm() : null;
  if (before) console.error(`single-core sgemm: ${num(before, 1)} GFLOP/s${opts.isa ? ` (--isa ${opts.isa})` : ''}`);
  const trials = [];
  for (const [i, [peer, round, threads]] of plan.entries()) {
    process.stderr.write(`[${i + 1}/${plan.length}] round ${round}, ${threads} thread(s), ${PEERS[peer].label} ... `);
    const t = await trial(peer, round, threads);
    trials.push(t);
    console.error(`${fmt.eps(t.examples_per_sec)} examples/sec${t.cpu_capability ? ` (${t.cpu_capability})` : ''}, training ${fmt.s(t.train_seconds)}, job ${fmt.s(t.job_seconds)}, ` +
      `peak RSS ${fmt.mb(t.peak_rss_mb)}, loss ${fmt.acc(t.loss)}, train acc ${fmt.acc(t.train_acc)}, test acc ${fmt.acc(t.test_acc)}`);
  }

  const lenetTorch = require('../../package.json').version;
  // The runner itself is not measured, so it may load the addon for the version (when no lenet-torch trial ran).
  const libtorch = trials.find((t) => t.peer === 'lenet-torch')?.versions.libtorch ?? require('../..').torch.__version__;
  const after = DEVICE === 'cpu' ? sgemm() : null;
  const sgemmRate = Math.max(before ?? 0, after ?? 0) || null;
  const command = ['node', path.relative(process.cwd(), __filename) || __filename, ...process.argv.slice(2)].join(' ');
  const table = report(trials, { date, load, machine: machine(), versions: { lenetTorch, libtorch }, command, sgemm: sgemmRate });
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, table);
  process.stdout.write(table);
  const shown = path.relative(process.cwd(), OUT);
  console.error(`written to ${shown && !shown.startsWith('..') ? shown : OUT}`);
}

main().catch((error) => {
  console.error(error.message ?? error);
  process.exitCode = 1;
});
