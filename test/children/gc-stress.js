// A child process for test/processes.test.ts: native calls that fail (calls refused while train_ch6 trains the
// net, bad arguments past lib/'s checks, libtorch errors) in bursts between many short-lived tensors, with a young
// generation of 1 MB so that garbage collections, and the finalizers they run, keep landing inside those failures.
// Before the addon returned its errors instead of throwing them (native/errors.h), this aborted the process within
// seconds ("Check failed: AllowJavascriptExecution::IsAllowed"). Run as
//   node --expose-gc --max-semi-space-size=1 gc-stress.js SECONDS
// and prints one JSON line with what failed as expected.
'use strict';
const path = require('node:path');
const { torch, d2l } = require(path.join(__dirname, '..', '..'));
const { native } = require(path.join(__dirname, '..', '..', 'dist', 'binding'));
const { lenet } = require('../bench/chapter');

const seconds = Number(process.argv[2] || 10);
torch.manual_seed(0);
const X = torch.rand(2000, 1, 28, 28);
const y = torch.randint(0, 10, [2000]);
const net = lenet();
const weight = net.parameters().at(-1);
const a = torch.zeros([2, 3]);
const b = torch.zeros([4, 5]);
const counts = { refused: 0, badArgument: 0, libtorch: 0, bursts: 0, gcs: 0 };
let junk = null;

function attempt(fn, key, pattern) {
  try {
    fn();
  } catch (e) {
    if (!pattern.test(e.message)) throw e;
    counts[key]++;
  }
}

const stop = Date.now() + seconds * 1000;
let training = true;
function burst() {
  const end = Date.now() + 40;
  while (Date.now() < end) {
    for (let i = 0; i < 20; i++) torch.zeros([16]);
    junk = new Array(1 + (counts.bursts % 64)).fill(counts.bursts);
    attempt(() => weight.sum().backward(), 'refused', /trained by train_ch6/);
    // Past lib/'s validation, straight to the addon: its own TypeError.
    attempt(() => native.tensorReshape(a._h, 'not a shape'), 'badArgument', /shape must be an array/);
  }
  if (counts.bursts % 10 === 0) {
    attempt(() => a.matmul(b), 'libtorch', /cannot be multiplied|size mismatch|shapes/);
    global.gc();
    counts.gcs++;
  }
  counts.bursts++;
  if (training && Date.now() < stop) setTimeout(burst, 1);
}

setTimeout(burst, 1);
d2l
  .train_ch6(net, d2l.load_array([X, y], 256), d2l.load_array([X, y], 1000, false), 10000, 0.1, 'cpu', { verbose: false })
  .catch((e) => console.error(e));
setTimeout(() => {
  training = false;
  process.stdout.write(`${JSON.stringify({ ...counts, junk: junk && junk.length })}\n`);
  process.exit(0);
}, seconds * 1000 + 100);
