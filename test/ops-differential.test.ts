// Differential test of the operator road (lib/ops) against PyTorch: for every exposed torch.X whose schema the
// generator below can feed, inputs are generated from the schema (several dtypes and shapes, edge values: 0-d,
// empty, NaN, negative, broadcast), and lenet-torch's result must equal Python's (shape, dtype, values within the
// dtype's tolerance; the gradient of the first input for a differentiable result), or both must refuse. Python runs
// once for all cases (test/interop/ops_differential.py). Needs Python's torch (CI installs python3-torch); skipped,
// with the reason, without it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { F, torch, Tensor } from '../lib';
import { OP_NAMES } from '../lib/ops/generated';
import { native } from '../lib/binding';
import { findPython, NO_PYTHON_REASON } from './python';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseSchema } = require('../scripts/gen-ops.js') as { parseSchema: (s: string) => Schema };

interface Param { type: string; name: string; optional: boolean; kwOnly: boolean; out: boolean }
interface Schema { name: string; overload: string; params: Param[] }
type Arg = { tensor: { dtype: string; shape: number[]; data: (number | string)[] } } | number | boolean | Arg[];
interface Case { section: string; op: string; args: Arg[]; grad: boolean }
type Result =
  | { kind: 'tensor'; dtype: string; shape: number[]; data: (number | string | boolean)[]; grad?: Result | null }
  | { kind: 'list'; items: Result[]; grad?: Result | null }
  | { kind: 'scalar'; value: number | string | boolean; grad?: Result | null }
  | { kind: 'error'; message: string }
  | { kind: 'unsupported'; what: string };

// Not comparable value for value: random (or uninitialised) results, ops on the global state, and ops whose
// Python spelling is a Python function with another signature than the operator's.
const SKIP = new Set([
  'bernoulli', 'multinomial', 'normal', 'poisson', 'rand_like', 'randint_like', 'randn_like', 'rrelu', 'empty_like',
  'empty_strided', 'dropout', 'alpha_dropout', 'feature_dropout', 'feature_alpha_dropout', 'native_dropout',
  'binomial', 'empty', 'set_flush_denormal',
  // libtorch 1.13 dies of SIGFPE (integer division by zero) on an empty input, in PyTorch as here: see the README.
  'native_channel_shuffle', 'channel_shuffle', 'pixel_shuffle', 'pixel_unshuffle', 'is_same_size', 'result_type', 'can_cast', 'promote_types', 'rrelu_with_noise',
]);

// Where lenet-torch follows the schema and PyTorch 1.13's Python binding does not: its generated parser reads the
// defaults `int reduction=Mean` as 0 (none) and `SymInt? end=None` of slice_copy/slice_scatter as 1, so torch.kl_div(a,
// b) does not reduce in Python although F.kl_div and the C++ API do.
const KNOWN: Record<string, string> = {
  kl_div: 'reduction=Mean read as 0 by the Python binding',
  hinge_embedding_loss: 'reduction=Mean read as 0 by the Python binding',
  binary_cross_entropy_with_logits: 'reduction=Mean read as 0 by the Python binding',
  slice_copy: 'end=None read as 1 by the Python binding',
  binary_cross_entropy: 'F.binary_cross_entropy checks in Python that the sizes match; the operator does not',
  slice_scatter: 'end=None read as 1 by the Python binding',
};

// The inputs: [dtype, shape, values]. Values cycle over the shape's elements.
const INPUTS: [string, number[], (number | string)[]][] = [
  ['float32', [2, 3], [-1.5, 0, 2.25, -0.5, 1, 3]],
  ['float64', [3], [-2, 0.25, 'nan']],
  ['int64', [2, 3], [3, -1, 0, 2, 5, -4]],
  ['float32', [], [0.75]],
  ['float32', [0, 3], []],
  ['bool', [2, 3], [1, 0, 1, 1, 0, 0]],
];

function tensorArg(dtype: string, shape: number[], values: (number | string)[]): Arg {
  const n = shape.reduce((a, b) => a * b, 1);
  return { tensor: { dtype, shape, data: Array.from({ length: n }, (_, i) => values[i % values.length]) } };
}

/** A value for a parameter of `type`, or undefined when the generator cannot make one. */
function paramValue(p: Param, self: [string, number[], (number | string)[]]): Arg | undefined {
  const type = p.type.replace(/\([a-z]+!?\)/g, '').replace(/\?$/, '');
  if (type === 'Tensor') {
    // A second tensor broadcasts against the first (its last row); a third is the first again.
    return p.name === 'self' ? tensorArg(...self) : tensorArg(self[0], self[1].slice(-1), self[2].length ? [...self[2]].reverse() : [1]);
  }
  if (type === 'Tensor[]') return [tensorArg(...self), tensorArg(...self)];
  if (type === 'Scalar') return 2;
  if (type === 'float') return 0.5;
  if (type === 'bool') return false;
  if (type === 'int' || type === 'SymInt') return /dim/.test(p.name) ? -1 : 1;
  if (/^(int|SymInt)\[\d*\]$/.test(type) && /dim/.test(p.name)) return [-1];
  return undefined;
}

/** torch.X's cases: the overload with the fewest required arguments that can be generated, on every input. */
function casesFor(section: string, op: string, schemas: Schema[]): Case[] {
  const candidates = schemas
    .filter((s) => !s.params.some((p) => p.out) && s.params[0]?.name === 'self')
    .map((s) => s.params.filter((p) => !p.optional && !p.kwOnly))
    .filter((ps) => ps.every((p) => paramValue(p, INPUTS[0]) !== undefined))
    .sort((a, b) => a.length - b.length);
  if (candidates.length === 0) return [];
  return INPUTS.map((input, i) => ({
    section,
    op,
    args: candidates[0].map((p) => paramValue(p, input)!),
    grad: i === 0 || i === 3,
  }));
}

function toTensor(a: { dtype: string; shape: number[]; data: (number | string)[] }, grad: boolean): Tensor {
  const data = a.data.map((x) => (typeof x === 'string' ? Number(x === 'nan' ? NaN : x === 'inf' ? Infinity : -Infinity) : x));
  const t = torch.tensor(data as number[], { dtype: a.dtype as 'float32' }).reshape(a.shape);
  if (grad && (a.dtype === 'float32' || a.dtype === 'float64')) t.requires_grad_(true);
  return t;
}

function encodeNumber(v: number): number | string {
  return Number.isFinite(v) ? v : Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

function encode(value: unknown): Result {
  if (value instanceof Tensor) {
    let data: ArrayLike<number | bigint>;
    try {
      data = value.data();
    } catch {
      return { kind: 'unsupported', what: value.dtype };
    }
    const dtype = value.dtype;
    const flat = Array.from(data, (x) => (dtype === 'bool' ? x !== 0 : typeof x === 'bigint' ? Number(x) : encodeNumber(x)));
    return { kind: 'tensor', dtype, shape: [...value.shape], data: flat };
  }
  if (value !== null && typeof value === 'object' && Symbol.iterator in (value as object)) {
    return { kind: 'list', items: [...(value as Iterable<unknown>)].map(encode) };
  }
  if (typeof value === 'number') return { kind: 'scalar', value: encodeNumber(value) };
  if (typeof value === 'boolean') return { kind: 'scalar', value };
  return { kind: 'unsupported', what: typeof value };
}

function runNode(c: Case): Result {
  if (process.env.LT_DEBUG === "cases") process.stderr.write(`${c.op} ${JSON.stringify(c.args).slice(0, 150)}\n`);
  const args = c.args.map((a, i) => decode(a, c.grad && i === 0));
  let result: unknown;
  try {
    if (c.section === 'Tensor') {
      const self = args[0] as unknown as Record<string, (...a: unknown[]) => unknown>;
      result = self[c.op](...args.slice(1));
    } else {
      const ns = c.section === 'torch' ? torch : c.section === 'functional' ? F : (torch as unknown as Record<string, unknown>)[c.section];
      result = (ns as Record<string, (...a: unknown[]) => unknown>)[c.op](...args);
    }
  } catch (e) {
    return { kind: 'error', message: (e as Error).message.split('\n')[0] };
  }
  const out = encode(result);
  const x = args[0];
  const first = result !== null && typeof result === 'object' && Symbol.iterator in result ? [...(result as Iterable<unknown>)][0] : result;
  const y = first instanceof Tensor ? first : null;
  if (c.grad && x instanceof Tensor && x.requires_grad && y && y.requires_grad) {
    try {
      y.sum().backward();
      (out as { grad?: Result | null }).grad = x.grad ? encode(x.grad) : null;
    } catch (e) {
      (out as { grad?: Result | null }).grad = { kind: 'error', message: (e as Error).message.split('\n')[0] };
    }
  }
  return out;
}

function decode(a: Arg, grad: boolean): unknown {
  if (Array.isArray(a)) return a.map((x) => decode(x, false));
  if (typeof a === 'object') return toTensor(a.tensor, grad);
  return a;
}

const TOLERANCE: Record<string, [number, number]> = { float32: [1e-5, 1e-6], float64: [1e-10, 1e-12], float16: [1e-3, 1e-3], bfloat16: [1e-2, 1e-2] };

/** Why two results differ, or null. */
function difference(node: Result, py: Result, where = ''): string | null {
  if (py.kind === 'unsupported') return null;  // complex results: JS has no complex dtype
  if (py.kind === 'error') return node.kind === 'error' ? null : `${where}PyTorch refused (${py.message}) but lenet-torch did not`;
  if (node.kind === 'error') return `${where}lenet-torch refused (${node.message}) but PyTorch did not`;
  if (node.kind !== py.kind) return `${where}${node.kind} vs ${py.kind}`;
  if (py.kind === 'list' && node.kind === 'list') {
    if (node.items.length !== py.items.length) return `${where}${node.items.length} items vs ${py.items.length}`;
    for (let i = 0; i < py.items.length; i++) {
      const d = difference(node.items[i], py.items[i], `${where}[${i}] `);
      if (d) return d;
    }
  } else if (py.kind === 'scalar' && node.kind === 'scalar') {
    if (!close(node.value, py.value, [1e-6, 1e-9])) return `${where}${node.value} vs ${py.value}`;
  } else if (py.kind === 'tensor' && node.kind === 'tensor') {
    if (node.dtype !== py.dtype) return `${where}dtype ${node.dtype} vs ${py.dtype}`;
    if (node.shape.join() !== py.shape.join()) return `${where}shape [${node.shape}] vs [${py.shape}]`;
    const tol = TOLERANCE[py.dtype] ?? [0, 0];
    for (let i = 0; i < py.data.length; i++) {
      if (!close(node.data[i], py.data[i], tol)) return `${where}element ${i}: ${node.data[i]} vs ${py.data[i]}`;
    }
  }
  const ng = (node as { grad?: Result | null }).grad;
  const pg = (py as { grad?: Result | null }).grad;
  if (pg !== undefined || ng !== undefined) {
    if (!pg || !ng) return pg === ng ? null : `${where}gradient ${ng ? 'present' : 'absent'} vs ${pg ? 'present' : 'absent'}`;
    return difference(ng, pg, `${where}gradient: `);
  }
  return null;
}

function close(a: unknown, b: unknown, [rtol, atol]: [number, number]): boolean {
  if (typeof b === 'boolean' || typeof a === 'boolean') return Boolean(a) === Boolean(b);
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  const x = a as number;
  const y = b as number;
  return x === y || Math.abs(x - y) <= atol + rtol * Math.abs(y);
}

const python = findPython();
const run = python ? describe : describe.skip;

run(`the operators against PyTorch${python ? '' : ` (skipped: ${NO_PYTHON_REASON})`}`, () => {
  const groups = new Map<string, Schema[]>();
  for (const text of native.opSchemas()) {
    const s = parseSchema(text);
    if (!groups.has(s.name)) groups.set(s.name, []);
    groups.get(s.name)!.push(s);
  }
  // Every namespace; a Tensor method only where torch has no function of that name (the same operator).
  const cases = ['torch', 'Tensor', 'functional', 'linalg', 'special', 'fft'].flatMap((section) =>
    OP_NAMES[section]
      .map((e) => (typeof e === 'string' ? [e, e] : e))
      .filter(([py, aten]) => !SKIP.has(aten) && !KNOWN[aten] && !py.endsWith('_') && groups.has(aten))
      .filter(([py]) => section !== 'Tensor' || !OP_NAMES.torch.includes(py))
      .flatMap(([py, aten]) => casesFor(section, py, groups.get(aten)!)));

  test('lenet-torch gives what PyTorch gives, or refuses what it refuses, on at least 300 operators', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lt-ops-')), 'cases.json');
    fs.writeFileSync(file, JSON.stringify(cases));
    if (process.env.LT_DUMP_CASES) fs.copyFileSync(file, process.env.LT_DUMP_CASES);
    const py = spawnSync(python!, [path.join(__dirname, 'interop', 'ops_differential.py'), file], {
      encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 300000,
    });
    expect(py.stderr.split('\n').filter((l) => /Traceback|Error:/.test(l))).toEqual([]);
    const results = (JSON.parse(py.stdout) as { results: Result[] }).results;
    torch.manual_seed(0);
    const mismatches: string[] = [];
    const agreed = new Set<string>();
    cases.forEach((c, i) => {
      const d = difference(runNode(c), results[i]);
      if (d) mismatches.push(`${c.section}.${c.op} on ${JSON.stringify(c.args).slice(0, 120)}: ${d}`);
      else if (results[i].kind !== 'error' && results[i].kind !== 'unsupported') agreed.add(`${c.section}.${c.op}`);
    });
    expect(mismatches).toEqual([]);
    if (process.env.LT_DEBUG) process.stderr.write(`${agreed.size} operators agree, ${cases.length} cases\n`);
    expect(agreed.size).toBeGreaterThanOrEqual(300);
  });
});
