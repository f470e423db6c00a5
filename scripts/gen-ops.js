#!/usr/bin/env node
// Generates lib/ops/generated.ts, the typed names of every operator lenet-torch exposes, from two sources:
//   the operator schemas of the libtorch the addon was built with (binding.opSchemas(): c10::Dispatcher's registry)
//   lib/ops/python-api.json: the public names of PyTorch's torch, Tensor, nn.functional, linalg, special, fft
//     (scripts/python-api.py, run with the matching python3-torch)
// A Python name is exposed when libtorch has the operator it names (torch.X, Tensor.X, F.X: aten::X;
// torch.linalg.X: aten::linalg_X; torch.special.X: aten::special_X; torch.fft.X: aten::fft_X) and one of its
// overloads takes only types JS can pass. test/ops-typings.test.ts regenerates it and fails when it is stale.
//   node scripts/gen-ops.js            writes lib/ops/generated.ts
//   node scripts/gen-ops.js --check    exits 1 when the file differs from what it would write
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const target = path.join(root, 'lib', 'ops', 'generated.ts');
const functionsTarget = path.join(root, 'lib', 'ops', 'torch-functions.ts');

// Written by hand, in lib/ (and left out here): what Python does in Python rather than in one operator (see
// lib/ops/functional.ts for nn.functional's), or what lenet-torch keeps for its own reasons (lib/tensor.ts says
// why for each).
const HAND_WRITTEN = {
  torch: ['tensor', 'zeros', 'ones', 'rand', 'randn', 'full', 'randint', 'randperm', 'arange', 'cat', 'stack',
    'manual_seed', 'set_num_threads', 'get_num_threads', 'no_grad', 'is_grad_enabled', 'set_grad_enabled', 'load',
    'save', 'device'],
  // Kept by hand in lib/tensor.ts: Python-level or JS-specific (to/float/long/type/tolist/data/size/dim: no one
  // operator; item: JS number or boolean; reshape/view: shape checks with -1 inference; index/index_put_:
  // indexing sugar; backward/requires_grad_: autograd's engine and a flag, not operators; dispose: JS memory).
  Tensor: ['dim', 'numel', 'size', 'to', 'float', 'long', 'type', 'item', 'tolist', 'reshape', 'view', 'index_put_',
    'requires_grad_', 'backward', 'data', 'index', 'dispose', 'grad', 'device', 'dtype', 'shape'],
  functional: ['relu', 'relu_', 'dropout', 'dropout2d', 'alpha_dropout', 'feature_alpha_dropout', 'batch_norm',
    'softmax', 'log_softmax', 'max_pool2d', 'max_pool1d', 'cross_entropy', 'nll_loss', 'mse_loss', 'layer_norm',
    'threshold'],
  linalg: [], special: [], fft: [],
};
const PREFIX = { torch: '', Tensor: '', functional: '', linalg: 'linalg_', special: 'special_', fft: 'fft_' };
const SECTIONS = Object.keys(PREFIX);

function splitTop(text) {
  const parts = [];
  let depth = 0, quote = null, cur = '';
  for (const ch of text) {
    if (quote) { if (ch === quote) quote = null; cur += ch; continue; }
    if (ch === '"' || ch === "'") quote = ch;
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) { parts.push(cur.trim()); cur = ''; } else cur += ch;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

/** 'aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor' as {name, overload, params, returns}. */
function parseSchema(text) {
  const open = text.indexOf('(');
  const [name, overload = ''] = text.slice(6, open).split('.');
  let depth = 0, close = open;
  for (; close < text.length; close++) {
    if (text[close] === '(') depth++;
    if (text[close] === ')' && --depth === 0) break;
  }
  const params = [];
  let kwOnly = false;
  for (const p of splitTop(text.slice(open + 1, close))) {
    if (p === '*') { kwOnly = true; continue; }
    const eq = p.indexOf('=');
    const decl = eq < 0 ? p : p.slice(0, eq);
    const sp = decl.lastIndexOf(' ');
    const type = decl.slice(0, sp).trim();
    params.push({ type, name: decl.slice(sp + 1), optional: eq >= 0, kwOnly, out: kwOnly && /\([a-z]+!\)/.test(type) });
  }
  let ret = text.slice(close + 1).replace(/^\s*->\s*/, '').trim();
  let returns;
  if (ret.startsWith('(')) {
    returns = splitTop(ret.slice(1, -1)).map((r) => {
      const sp = r.lastIndexOf(' ');
      return /^[A-Za-z]/.test(r.slice(sp + 1)) && sp > 0 && !r.slice(sp + 1).includes(']') ? { type: r.slice(0, sp), name: r.slice(sp + 1) } : { type: r, name: '' };
    });
  } else {
    const m = /^(.*\S)\s+([a-z_][a-z0-9_]*)$/i.exec(ret);
    returns = [m && !/[\]\)?]$/.test(m[2]) && m[1] !== 'Tensor(a' ? { type: m[1], name: m[2] } : { type: ret, name: '' }];
  }
  return { name, overload, params, returns };
}

const SCALARS = {
  Tensor: 'Tensor', int: 'number', SymInt: 'number', float: 'number', bool: 'boolean', str: 'string',
  Scalar: 'number | boolean', ScalarType: 'Dtype', Device: 'DeviceLike', Layout: 'Layout',
  MemoryFormat: 'MemoryFormat', Generator: 'null', Dimname: 'string', None: 'null',
};

/** A schema type as TS, or null when JS cannot pass (or receive) it. */
function tsType(type, isReturn) {
  type = type.replace(/\([a-z]+!?\)/g, '').replace(/\(a -> \*\)/g, '').trim();
  if (type.endsWith('?')) {
    const inner = tsType(type.slice(0, -1), isReturn);
    return inner === null ? null : inner === 'null' ? 'null' : `${inner} | null`;
  }
  const list = /^(.*)\[(\d*)\]$/.exec(type);
  if (list) {
    const inner = tsType(list[1], isReturn);
    if (inner === null) return null;
    const element = inner.includes('|') ? `(${inner})` : inner;
    return !isReturn && inner === 'number' ? 'number | number[]' : `${element}[]`;
  }
  return Object.prototype.hasOwnProperty.call(SCALARS, type) ? SCALARS[type] : null;
}

const RESERVED = new Set(['default', 'in', 'function', 'var', 'new', 'delete', 'class', 'return', 'this', 'with',
  'switch', 'case', 'enum', 'export', 'import', 'extends', 'super', 'throw', 'try', 'catch', 'finally', 'void',
  'while', 'for', 'if', 'else', 'do', 'break', 'continue', 'const', 'let', 'yield', 'typeof', 'instanceof']);
const ident = (n) => (RESERVED.has(n) ? `${n}_` : n);

function returnType(schema, method) {
  const rs = schema.returns;
  if (rs.length === 0) return 'void';
  if (rs.length === 1) {
    if (method && /\(a!\)/.test(rs[0].type) && schema.params[0] && /\(a!\)/.test(schema.params[0].type)) return 'this';
    return tsType(rs[0].type, true);
  }
  const types = rs.map((r) => tsType(r.type, true));
  if (types.includes(null)) return null;
  // Python's torch.return_types.max & co: the class lib/tensor.ts has for them.
  if (rs.length === 2 && rs[0].name === 'values' && rs[1].name === 'indices' && types.every((t) => t === 'Tensor')) return 'ValuesIndices';
  if (rs.every((r) => r.name)) return `NamedTuple<{ ${rs.map((r, i) => `${r.name}: ${types[i]}`).join('; ')} }>`;
  return `[${types.join(', ')}]`;
}

/** TS call signatures of one overload, or [] when JS cannot call it. */
function signatures(schema, section, hasOut) {
  const method = section === 'Tensor';
  let params = schema.params.filter((p) => !p.out);
  if (schema.params.some((p) => p.out)) return [];  // reached through out= of the functional overload
  if (method) {
    if (!params[0] || params[0].name !== 'self' || tsType(params[0].type, false) !== 'Tensor') return [];
    params = params.slice(1);
  }
  const ret = returnType(schema, method);
  if (ret === null) return [];
  const typed = [];
  for (const p of params) {
    const t = tsType(p.type, false);
    if (t === null) {
      if (p.optional) continue;  // JS leaves it at its default
      return [];
    }
    typed.push({ ...p, name: !method && p.name === 'self' ? 'input' : p.name, ts: t });
  }
  const positional = typed.filter((p) => !p.kwOnly);
  const opt = (p) => `${ident(p.name)}?: ${p.ts}`;
  const field = (p) => `${ident(p.name)}${p.optional || p.kwOnly ? '?' : ''}: ${p.ts}`;
  const options = (ps) => {
    const fields = ps.map(field);
    if (hasOut && !method) fields.push('out?: Tensor | Tensor[]');
    if (ps.some((p) => p.name === 'pin_memory')) fields.push('requires_grad?: boolean');
    if (fields.length === 0) return [];
    // Optional when every field is.
    return [`options${ps.every((p) => p.optional || p.kwOnly) ? '?' : ''}: { ${fields.join('; ')} }`];
  };
  const kw = typed.filter((p) => p.kwOnly);
  const sigs = [];
  // Python takes any argument by name: f(a, b, c?, {kw}), f(a, b, {c, kw}), f(a, {b, c, kw}) (input stays first).
  const first = method ? 0 : Math.min(1, positional.length);
  for (let cut = positional.length; cut >= first; cut--) {
    const head = positional.slice(0, cut).map((p) => (p.optional ? opt(p) : `${ident(p.name)}: ${p.ts}`));
    sigs.push(`(${[...head, ...options([...positional.slice(cut), ...kw])].join(', ')}): ${ret}`);
  }
  // Python's varargs: t.view(2, 3), torch.zeros(2, 3).
  if (positional.length === 1 && /^(int|SymInt)\[\d*\]$/.test(positional[0].type)) {
    sigs.push(`(...${ident(positional[0].name)}: number[]): ${ret}`);
  }
  return sigs;
}

// nn.functional's Python functions take these where the operator takes something else: inplace= picks the
// operator's X_ variant; reduction='mean' is the operator's int; size_average and reduce are deprecated (refused).
const ADAPTED = new Set(['inplace', 'size_average', 'reduce']);

/**
 * The Python names of a section that map to the operator of the same name, each with, for nn.functional's Python
 * functions, their parameters ([name, required][]): the builtins as they are; a Python function when every one of
 * its parameters (but the adapted ones) is a parameter of one overload (self spelled input) and, with inplace=, the
 * operator has an X_ variant. F.unfold (im2col) is not aten::unfold (Tensor.unfold).
 */
function candidates(api, section, groups) {
  if (section !== 'functional') return api[section].map((py) => [py, null]);
  const adapted = Object.entries(api.functional_python).filter(([py, params]) => {
    const group = groups.get(py);
    if (!group || params.some(([n]) => n === 'args' || n === 'kwargs')) return false;
    if (params.some(([n]) => n === 'inplace') && !groups.has(`${py}_`)) return false;
    return group.some((s) => {
      const names = new Set(s.params.filter((p) => !p.out).map((p) => (p.name === 'self' ? 'input' : p.name)));
      return params.every(([n]) => ADAPTED.has(n) || names.has(n)) &&
        (!params.some(([n]) => n === 'reduction') || s.params.some((p) => p.name === 'reduction' && p.type === 'int'));
    });
  });
  return [...api.functional.map((py) => [py, null]), ...adapted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A Python function's signature: its parameters as Python names them, untyped but for input. */
function pythonSignature(params) {
  const list = params.map(([n, required], i) => (i === 0 && n === 'input' ? 'input: Tensor' : `${ident(n)}${required ? '' : '?'}: unknown`));
  const options = params.filter(([n], i) => !(i === 0 && n === 'input')).map(([n]) => `${ident(n)}?: unknown`);
  const required = params.filter(([, r]) => r).map(([n]) => (n === 'input' ? 'input: Tensor' : `${ident(n)}: unknown`));
  return `(${list.join(', ')}): Tensor;\n  ${''}(${[...required, `options?: { ${options.join('; ')} }`].join(', ')}): Tensor`;
}

function generate(schemas, api, version) {
  const groups = new Map();
  for (const text of schemas) {
    const s = parseSchema(text);
    if (!groups.has(s.name)) groups.set(s.name, []);
    groups.get(s.name).push(s);
  }
  const out = [];
  const names = {};
  for (const section of SECTIONS) {
    names[section] = [];
    const hand = new Set(HAND_WRITTEN[section]);
    const lines = [];
    for (const [py, pyParams] of candidates(api, section, groups)) {
      if (hand.has(py)) continue;
      const aten = PREFIX[section] + py;
      const group = groups.get(aten);
      if (!group) continue;
      const hasOut = group.some((s) => s.params.some((p) => p.out));
      const sigs = pyParams ? [pythonSignature(pyParams)] : [...new Set(group.flatMap((s) => signatures(s, section, hasOut)))];
      if (sigs.length === 0) continue;
      names[section].push(pyParams ? [py, aten, pyParams] : aten === py ? py : [py, aten]);
      lines.push(`  /** ${section === 'Tensor' ? 'Tensor' : section === 'torch' ? 'torch' : `torch.${section === 'functional' ? 'nn.functional' : section}`}.${py}: aten::${aten} */`);
      for (const sig of sigs) lines.push(`  ${py}${sig};`);
    }
    const iface = { torch: 'TorchOps', Tensor: 'TensorOps', functional: 'FunctionalOps', linalg: 'LinalgOps', special: 'SpecialOps', fft: 'FftOps' }[section];
    out.push(`/** The generated operators of ${section === 'Tensor' ? 'Tensor' : section === 'torch' ? 'torch' : `torch.${section === 'functional' ? 'nn.functional' : section}`}. */`);
    out.push(`export interface ${iface} {`, ...lines, '}', '');
  }
  const header = [
    '// GENERATED by scripts/gen-ops.js from the operator schemas of libtorch ' + version + ' and lib/ops/python-api.json',
    '// (PyTorch ' + api.version + '). Do not edit: run `node scripts/gen-ops.js`; test/ops-typings.test.ts fails when stale.',
    '/* eslint-disable */',
    "import type { DeviceLike } from '../device';",
    "import type { Dtype, Tensor, ValuesIndices } from '../tensor';",
    "import type { Layout, MemoryFormat, NamedTuple } from './types';",
    '',
    `/** The libtorch these names were generated from. */`,
    `export const GENERATED_FOR = ${JSON.stringify(version)};`,
    '',
    '/** Per namespace, the Python names exposed: a name, or [Python name, aten operator] where they differ. */',
    '/** For nn.functional\'s Python functions, also their parameters: [Python name, aten operator, [name, required][]]. */',
    'export type OpEntry = string | readonly [string, string] | readonly [string, string, readonly (readonly [string, boolean])[]];',
    'export const OP_NAMES: { readonly [section: string]: readonly OpEntry[] } = {',
    ...SECTIONS.map((s) => `  ${s}: ${JSON.stringify(names[s])},`),
    '};',
    '',
  ];
  // torch's functions as real exports (lib/torch.ts re-exports them), so torch stays a module namespace with types.
  const fns = [
    '// GENERATED by scripts/gen-ops.js with lib/ops/generated.ts: the generated functions of torch as exports.',
    '/* eslint-disable */',
    "import type { TorchOps } from './generated';",
    "import { operator } from './index';",
    '',
    'const op = <K extends keyof TorchOps>(name: K, aten: string): TorchOps[K] => operator(aten, `torch.${name}`) as unknown as TorchOps[K];',
    '',
  ];
  for (const e of names.torch) {
    const [py, aten] = typeof e === 'string' ? [e, e] : e;
    fns.push(`const op_${py}: TorchOps['${py}'] = op('${py}', '${aten}');`, `export { op_${py} as ${py} };`);
  }
  return { text: [...header, ...out].join('\n'), functions: fns.join('\n') + '\n', names };
}

function main() {
  const binding = require(path.join(root, 'build', 'Release', 'lenet_torch.node'));
  const api = JSON.parse(fs.readFileSync(path.join(root, 'lib', 'ops', 'python-api.json'), 'utf8'));
  const { text, functions } = generate(binding.opSchemas(), api, binding.torchVersion);
  for (const [file, content] of [[target, text], [functionsTarget, functions]]) {
    if (process.argv.includes('--check')) {
      const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      if (current !== content) {
        console.error(`${path.relative(root, file)} is stale against libtorch ${binding.torchVersion}: run node scripts/gen-ops.js`);
        process.exitCode = 1;
      }
      continue;
    }
    fs.writeFileSync(file, content);
    console.log(`wrote ${path.relative(root, file)} (${content.length} bytes)`);
  }
}

module.exports = { target, functionsTarget, generate, parseSchema, candidates, HAND_WRITTEN, PREFIX };
if (require.main === module) main();
