#!/usr/bin/env node
// Builds the native addon (build/Release/lenet_torch.node) with cmake-js, offline.
// On failure it prints one plain explanation instead of CMake's backtrace; the full log stays in build/build.log.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'build');
const logPath = path.join(buildDir, 'build.log');

const NO_LIBTORCH = `lenet-torch: libtorch was not found, so the native addon cannot be built.

  On Debian 12 / Ubuntu, install it (CPU build, libtorch 1.13) with:
    sudo apt-get install -y cmake g++ libtorch-dev libopenblas0-openmp

  To use another libtorch (a CUDA build, say), point CMake at it, then run npm install again:
    LIBTORCH=/path/to/libtorch npm install            (the folder holding share/cmake/Torch)
    npm install --cmake_Torch_DIR=/path/to/libtorch/share/cmake/Torch
  or install a Python torch: its libtorch is found through python3 -c 'import torch'.`;

function fail(message) {
  console.error(message);
  process.exit(1);
}

if (spawnSync('cmake', ['--version']).error) {
  fail('lenet-torch: cmake was not found on PATH. Install it (sudo apt-get install -y cmake g++) and run npm install again.');
}

fs.mkdirSync(buildDir, { recursive: true });
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const jobs = String(Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length));
const args = [cmakeJs, 'compile', '--directory', root, '--out', buildDir, '--parallel', jobs, '--log-level', 'warn'];
const verbose = process.env.LENET_TORCH_VERBOSE_BUILD === '1';
const result = spawnSync(process.execPath, args, {
  cwd: root,
  encoding: 'utf8',
  stdio: verbose ? 'inherit' : 'pipe',
  maxBuffer: 64 * 1024 * 1024,
});
const log = `${result.stdout || ''}${result.stderr || ''}`;
fs.writeFileSync(logPath, log);

if (result.status !== 0) {
  if (log.includes('LENET_TORCH_NO_LIBTORCH')) fail(NO_LIBTORCH);
  const tail = log.split('\n').filter((line) => /error|Error/.test(line)).slice(0, 30).join('\n');
  fail(`lenet-torch: building the native addon failed (full log: ${logPath}).\n${tail || log.slice(-4000)}`);
}
const torchLine = log.split('\n').find((line) => line.includes('lenet-torch: libtorch'));
console.log(`lenet-torch: native addon built${torchLine ? ` (${torchLine.replace(/^.*lenet-torch: /, '')})` : ''}`);
