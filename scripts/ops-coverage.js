#!/usr/bin/env node
// How much of PyTorch's Python API lenet-torch exposes: of the public names of torch, Tensor, torch.nn.functional,
// torch.linalg, torch.special and torch.fft (lib/ops/python-api.json, from python3-torch) that libtorch implements
// as an operator of the same name (aten::X; linalg_X, special_X, fft_X), how many are callable in lenet-torch
// (generated from the schemas or written by hand), against the libtorch of the build. Prints a markdown table and
// what is left out, with the reason.   node scripts/ops-coverage.js [--missing] [--api FILE]
// --api: the names from another PyTorch (`python3 scripts/python-api.py > FILE` with that version's python3-torch,
// e.g. Debian 13's 2.6 in its chroot) instead of the checked-in ones (1.13, the host's).
'use strict';
const path = require('path');
const root = path.join(__dirname, '..');
const lt = require(path.join(root, 'dist'));
const { native } = require(path.join(root, 'dist', 'binding'));
const apiAt = process.argv.indexOf('--api');
const api = require(apiAt > 0 ? path.resolve(process.argv[apiAt + 1]) : path.join(root, 'lib', 'ops', 'python-api.json'));
const { PREFIX } = require('./gen-ops.js');

const groups = new Set(native.opSchemas().map((s) => s.slice(6, s.indexOf('(')).split('.')[0]));
const where = {
  torch: (n) => lt.torch[n], Tensor: (n) => lt.Tensor.prototype[n], functional: (n) => lt.F[n],
  linalg: (n) => lt.torch.linalg[n], special: (n) => lt.torch.special[n], fft: (n) => lt.torch.fft[n],
};
const python = {
  torch: api.torch_python, Tensor: api.Tensor_python, functional: Object.keys(api.functional_python), linalg: [], special: [], fft: [],
};
const label = { torch: 'torch', Tensor: 'Tensor', functional: 'torch.nn.functional', linalg: 'torch.linalg', special: 'torch.special', fft: 'torch.fft' };

const rows = [];
const missing = [];
let total = 0, exposed = 0;
for (const section of Object.keys(where)) {
  const names = [...api[section], ...python[section]].filter((n) => groups.has(PREFIX[section] + n));
  const have = names.filter((n) => typeof where[section](n) === 'function');
  for (const n of names) {
    if (typeof where[section](n) === 'function') continue;
    const reason = python[section].includes(n)
      ? 'written in Python over other operators, with its own signature'
      : 'no overload JS can call (a type JS cannot pass)';
    missing.push(`${label[section]}.${n}: ${reason}`);
  }
  rows.push(`| ${label[section]} | ${names.length} | ${have.length} | ${(100 * have.length / names.length).toFixed(1)} % |`);
  total += names.length;
  exposed += have.length;
}
console.log(`libtorch ${native.torchVersion}, PyTorch names from ${api.version}\n`);
console.log('| namespace | names libtorch implements as operators | exposed | coverage |');
console.log('|---|---:|---:|---:|');
console.log(rows.join('\n'));
console.log(`| all | ${total} | ${exposed} | ${(100 * exposed / total).toFixed(1)} % |`);
if (process.argv.includes('--missing')) console.log(`\nLeft out:\n${missing.map((m) => `- ${m}`).join('\n')}`);
