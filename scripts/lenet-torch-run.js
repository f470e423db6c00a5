#!/usr/bin/env node
// lenet-torch-run: starts the worker processes of a distributed training on this node, as torchrun does.
//   npx lenet-torch-run --nproc_per_node 2 train.js [script arguments]   (--nproc_per_node auto: one per CPU)
//   npx lenet-torch-run --nnodes 2 --node_rank 0 --master_addr 10.0.0.1 --master_port 29500 --nproc_per_node 2 train.js
// Each worker is `node script args` with torchrun's variables: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, and OMP_NUM_THREADS=1 unless set (one libtorch thread per worker, as
// torchrun sets it). SIGINT, SIGTERM and SIGHUP are passed on to the workers. When a worker fails (a non-zero exit
// or a signal), the others are stopped (SIGTERM, then SIGKILL after 3 s) and the launcher exits with the failed
// worker's status (128 + the signal's number for a signal), naming its rank. Plain Node, no dependencies.
'use strict';
const { spawn } = require('node:child_process');
const os = require('node:os');

const USAGE = `usage: lenet-torch-run [--nproc_per_node N] [--nnodes N] [--node_rank R] [--master_addr HOST] [--master_port PORT] script.js [args...]`;

function fail(message) {
  process.stderr.write(`lenet-torch-run: ${message}\n${USAGE}\n`);
  process.exit(2);
}

// Options before the script, as torchrun's: --name value, --name=value, dashes or underscores.
function parse(argv) {
  const options = { nproc_per_node: '1', nnodes: '1', node_rank: '0', master_addr: '127.0.0.1', master_port: '29500' };
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('--'); i++) {
    let [name, value] = argv[i].slice(2).split(/=(.*)/s);
    name = name.replace(/-/g, '_');
    if (name === 'help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (!(name in options)) fail(`unknown option --${name}`);
    if (value === undefined) {
      if (i + 1 >= argv.length) fail(`--${name} needs a value`);
      value = argv[++i];
    }
    options[name] = value;
  }
  if (i >= argv.length) fail('no script given');
  const int = (name, min) => {
    const v = Number(options[name]);
    if (!/^\d+$/.test(options[name]) || v < min) fail(`--${name} must be an integer >= ${min}, got '${options[name]}'`);
    return v;
  };
  const parsed = {
    nproc: options.nproc_per_node === 'auto' ? os.cpus().length : int('nproc_per_node', 1),
    nnodes: int('nnodes', 1),
    node_rank: int('node_rank', 0),
    master_addr: options.master_addr,
    master_port: int('master_port', 1),
    script: argv[i],
    args: argv.slice(i + 1),
  };
  if (parsed.node_rank >= parsed.nnodes) fail(`--node_rank must be below --nnodes (${parsed.nnodes}), got ${parsed.node_rank}`);
  if (parsed.master_port > 65535) fail(`--master_port must be a port number, got ${parsed.master_port}`);
  return parsed;
}

function main() {
  const o = parse(process.argv.slice(2));
  const world = o.nproc * o.nnodes;
  const workers = [];
  let failed = null;
  let stopping = false;

  const stopAll = (signal) => {
    for (const w of workers) if (w.exit === null) w.child.kill(signal);
  };
  const stopOthers = () => {
    if (stopping) return;
    stopping = true;
    stopAll('SIGTERM');
    setTimeout(() => stopAll('SIGKILL'), 3000).unref();
  };
  const finish = () => {
    if (workers.some((w) => w.exit === null)) return;
    if (!failed) process.exit(0);
    const { code, signal } = failed.exit;
    process.exit(signal ? 128 + (os.constants.signals[signal] ?? 1) : code);
  };

  for (let local = 0; local < o.nproc; local++) {
    const rank = o.node_rank * o.nproc + local;
    const env = {
      ...process.env,
      MASTER_ADDR: o.master_addr,
      MASTER_PORT: String(o.master_port),
      RANK: String(rank),
      WORLD_SIZE: String(world),
      LOCAL_RANK: String(local),
      LOCAL_WORLD_SIZE: String(o.nproc),
      GROUP_RANK: String(o.node_rank),
      OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '1',
    };
    const child = spawn(process.execPath, [o.script, ...o.args], { env, stdio: 'inherit' });
    const worker = { rank, local, child, exit: null };
    workers.push(worker);
    child.on('error', (error) => {
      process.stderr.write(`lenet-torch-run: worker rank ${rank} could not start: ${error.message}\n`);
    });
    child.on('exit', (code, signal) => {
      worker.exit = { code, signal };
      if ((code !== 0 || signal) && !failed && !stopping) {
        failed = worker;
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        process.stderr.write(`lenet-torch-run: worker rank ${rank} (local rank ${local}, pid ${child.pid}) ${how}; stopping the other workers\n`);
        stopOthers();
      } else if ((code !== 0 || signal) && !failed) {
        failed = worker;
      }
      finish();
    });
  }

  // Passed on to the workers; the launcher then ends with them (their status).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      stopping = true;
      stopAll(signal);
      setTimeout(() => stopAll('SIGKILL'), 10000).unref();
    });
  }
}

main();
