#!/usr/bin/env node
// Builds the native addon (build/Release/lenet_torch.node) with cmake-js, offline.
// It prints a line per stage as the build goes (configure, each compiled file, link); the full log goes to
// build/build.log. On failure it prints one plain explanation instead of CMake's backtrace.
// In an installed copy of the package (inside node_modules, no .git), it then deletes everything under build/ but the
// .node file: the precompiled header alone is ~585 MB. A checkout keeps its build folder for incremental rebuilds.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'build');
const logPath = path.join(buildDir, 'build.log');
// lib/binding.ts loads this file; keep the two in step.
const addonPath = path.join(buildDir, 'Release', 'lenet_torch.node');

const APT = 'apt-get install -y cmake g++ make libtorch-dev libhwy-dev libopenblas0-openmp   (as root, or with sudo)';
const NO_LIBTORCH = `lenet-torch: libtorch was not found, so the native addon cannot be built.

  On Debian 12 or 13 / Ubuntu 24.04, install it (CPU build) with:
    ${APT}

  To use another libtorch (a CUDA build, say), point CMake at it, then run npm install again:
    LIBTORCH=/path/to/libtorch npm install            (the folder holding share/cmake/Torch)
    npm install --cmake_Torch_DIR=/path/to/libtorch/share/cmake/Torch
  or install a Python torch: its libtorch is found through python3 -c 'import torch'.`;

// Each compile job maps torch/torch.h's precompiled header and peaks at 0.9-1.2 GB (measured with g++ 12 and
// libtorch 1.13); the header itself is compiled alone first and peaks at ~1.7 GB. One job per core, fewer when
// the memory available would not hold them: 2 cores and 2 GB free build with 1 job rather than swap or be killed.
const GB = 1024 ** 3;
const MEMORY_PER_JOB = 1.25 * GB;

function fail(message) {
  console.error(message);
  process.exit(1);
}

function availableMemory() {
  // process.availableMemory() (Node >= 20.13) also respects a cgroup (container) limit.
  return typeof process.availableMemory === 'function' ? process.availableMemory() : os.freemem();
}

function chooseJobs() {
  const cores = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const forced = process.env.LENET_TORCH_JOBS;
  if (forced !== undefined && forced !== '') {
    const jobs = Number(forced);
    if (!Number.isInteger(jobs) || jobs < 1) fail(`lenet-torch: LENET_TORCH_JOBS must be a positive integer, not '${forced}'.`);
    return { jobs, why: 'from LENET_TORCH_JOBS' };
  }
  const free = availableMemory();
  const jobs = Math.max(1, Math.min(cores, Math.floor(free / MEMORY_PER_JOB)));
  return { jobs, why: `${cores} core${cores === 1 ? '' : 's'}, ${(free / GB).toFixed(1)} GB of memory available` };
}

/** An installed copy, not a checkout: it sits in a node_modules folder and has no .git beside package.json. */
function isInstalledCopy() {
  if (process.env.LENET_TORCH_KEEP_BUILD === '1') return false;
  return root.split(path.sep).includes('node_modules') && !fs.existsSync(path.join(root, '.git'));
}

// npm (7+) runs a dependency's install script with its output piped and shows it only when the script fails, so a
// build's progress would be invisible there (yarn and pnpm show it). When that is so and a terminal is attached,
// progress also goes to the terminal.
function openTerminal() {
  const env = process.env;
  const hidden = /^npm\//.test(env.npm_config_user_agent || '') && env.npm_lifecycle_event === 'install' &&
    env.npm_config_foreground_scripts !== 'true' && !process.stdout.isTTY;
  if (!hidden) return null;
  try {
    return fs.openSync('/dev/tty', 'w');
  } catch {
    return null;
  }
}

const started = Date.now();
const terminal = openTerminal();
function say(text) {
  const line = `lenet-torch: ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${text}\n`;
  process.stdout.write(line);
  // \r and erase-line first: npm's spinner may have left a character on the terminal's current line.
  if (terminal !== null) fs.writeSync(terminal, `\r\x1b[K${line}`);
}

function fileName(target) {
  return /cmake_pch/.test(target) ? 'the precompiled header' : target.replace(/\.(o|obj)$/, '');
}

/** Turns cmake-js / CMake / Ninja / Make output into a line per stage. */
function progress(sources, fresh) {
  let configured = false;
  return (line) => {
    let m;
    if ((m = /^-- lenet-torch: (libtorch .*)$/.exec(line))) {
      say(`configured: ${m[1]}`);
    } else if (/^-- lenet-torch: CUDA build/.test(line)) {
      say('configured: CUDA build');
    } else if (!configured && /^-- Build files have been written/.test(line)) {
      configured = true;
      say(fresh
        ? `compiling ${sources} files; first torch/torch.h as a precompiled header (the longest step, ~1.7 GB)`
        : 'compiling what changed since the last build');
    } else if ((m = /^\[(\d+)\/(\d+)\] (Building|Linking) .*?([^/\s]+)$/.exec(line))) {
      // Ninja: "[3/12] Building CXX object CMakeFiles/lenet_torch.dir/native/common.cc.o", printed as each step ends.
      const [done, total] = [Number(m[1]), Number(m[2])];
      if (done === 0) return;
      const what = m[3] === 'Linking' ? 'lenet_torch.node linked' : fileName(m[4]);
      say(`${String(Math.floor((100 * done) / total)).padStart(3)}% (${done}/${total}) ${what}`);
    } else if ((m = /^FAILED: (\S+)/.exec(line))) {
      say(`failed: ${fileName(path.basename(m[1]))}`);
    } else if ((m = /^\[\s*(\d+)%\] (Building|Linking) .*?([^/\s]+)$/.exec(line))) {
      // Make: "[ 16%] Building CXX object CMakeFiles/lenet_torch.dir/native/common.cc.o", printed as each step starts.
      say(`${m[1].padStart(3)}% ${m[2] === 'Linking' ? 'linking lenet_torch.node' : `compiling ${fileName(m[3])}`}`);
    }
  };
}

/** Deletes everything under build/ but the .node file (an installed copy needs nothing else). */
function leaveOnlyAddon() {
  let freed = 0;
  const measure = (p) => {
    const st = fs.lstatSync(p);
    if (!st.isDirectory()) return st.size;
    return fs.readdirSync(p).reduce((sum, name) => sum + measure(path.join(p, name)), 0);
  };
  for (const name of fs.readdirSync(buildDir)) {
    const p = path.join(buildDir, name);
    if (p === path.dirname(addonPath)) continue;
    freed += measure(p);
    fs.rmSync(p, { recursive: true, force: true });
  }
  for (const name of fs.readdirSync(path.dirname(addonPath))) {
    const p = path.join(path.dirname(addonPath), name);
    if (p === addonPath) continue;
    freed += measure(p);
    fs.rmSync(p, { recursive: true, force: true });
  }
  return freed;
}

async function main() {
  if (spawnSync('cmake', ['--version']).error) {
    fail(`lenet-torch: cmake was not found on PATH. Install it and run npm install again:\n    ${APT}`);
  }
  fs.mkdirSync(buildDir, { recursive: true });
  const sources = fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.cc')).length;
  const { jobs, why } = chooseJobs();
  const verbose = process.env.LENET_TORCH_VERBOSE_BUILD === '1';
  say(`building the native addon (cmake-js) with ${jobs} parallel job${jobs === 1 ? '' : 's'} (${why}); log: ${path.relative(process.cwd(), logPath) || logPath}`);

  // `cmake-js build` configures when there is no CMakeCache.txt, then builds; unlike `compile`, a failed compile is
  // not retried from scratch (which doubled the time to an error). A configure that failed (libtorch missing, say)
  // leaves a cache but no build files: start that one over.
  const cache = path.join(buildDir, 'CMakeCache.txt');
  if (fs.existsSync(cache) && !['build.ninja', 'Makefile'].some((f) => fs.existsSync(path.join(buildDir, f)))) fs.rmSync(cache);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'build', '--directory', root, '--out', buildDir, '--parallel', String(jobs), '--log-level', 'warn'];
  const log = fs.createWriteStream(logPath);
  // CMake keeps the precompiled header in build/CMakeFiles/<target>.dir/; without it this is a first build.
  const cmakeFiles = path.join(buildDir, 'CMakeFiles');
  const fresh = !fs.existsSync(cmakeFiles) || !fs.readdirSync(cmakeFiles).some((name) =>
    fs.existsSync(path.join(cmakeFiles, name, 'cmake_pch.hxx.gch')));
  const onLine = progress(sources, fresh);
  const tail = [];
  let warnings = 0;
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      log.write(chunk);
      if (verbose) process.stdout.write(chunk);
      const lines = (pending + chunk).split('\n');
      pending = lines.pop();
      for (const line of lines) {
        if (/\bwarning:/.test(line)) warnings++;
        tail.push(line);
        if (tail.length > 4000) tail.splice(0, 2000);
        onLine(line);
      }
    });
    stream.on('end', () => {
      if (pending) tail.push(pending);
    });
  }
  const status = await new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ? 1 : code)));
  await new Promise((resolve) => log.end(resolve));

  const text = tail.join('\n');
  if (status !== 0) {
    if (text.includes('LENET_TORCH_NO_LIBTORCH')) fail(NO_LIBTORCH);
    const errors = tail.filter((line) => /error|Error/.test(line)).slice(0, 30).join('\n');
    fail(`lenet-torch: building the native addon failed (full log: ${logPath}).\n${errors || text.slice(-4000)}`);
  }
  const torchLine = tail.find((line) => line.includes('lenet-torch: libtorch'));
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const note = warnings ? `; ${warnings} compiler warning${warnings === 1 ? '' : 's'} in the log` : '';
  if (isInstalledCopy()) {
    const freed = leaveOnlyAddon();
    say(`removed the build's intermediate files (${(freed / 1024 ** 2).toFixed(0)} MB); kept ${path.relative(root, addonPath)}`);
  }
  // The last line keeps its old form: "lenet-torch: native addon built (libtorch 1.13.0 from /usr)".
  const summary = `native addon built in ${seconds} s${torchLine ? ` (${torchLine.replace(/^.*lenet-torch: /, '')})` : ''}${note}`;
  console.log(`lenet-torch: ${summary}`);
  if (terminal !== null) fs.writeSync(terminal, `\r\x1b[Klenet-torch: ${summary}\n`);
}

main().catch((error) => fail(`lenet-torch: building the native addon failed: ${error && error.stack ? error.stack : error}`));
