/**
 * Tensor printing as PyTorch does it (torch/_tensor_str.py): 4 decimals or scientific notation chosen from the
 * values, columns aligned, lines wrapped at 80 characters, `...` past 1000 elements, and the dtype, device and
 * grad suffixes PyTorch adds.
 */
import type { NativeTypedArray } from '../binding';

/**
 * Node's `util.inspect.custom`, which Node defines as `Symbol.for('nodejs.util.inspect.custom')`: spelled out here so
 * the published typings need no @types/node (a `node:util` import there breaks a consumer's strict type-check).
 */
export const inspectCustom: unique symbol = Symbol.for('nodejs.util.inspect.custom');

const LINE_WIDTH = 80;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;
const PREFIX = 'tensor(';
const DEFAULT_DTYPES = new Set(['float32', 'int64', 'bool']);

export interface Printable {
  shape: number[];
  dtype: string;
  data: NativeTypedArray;
  device: string;
  requiresGrad: boolean;
  gradFn: string | null;
}

type Formatter = (value: number) => string;

function pythonExp(value: number, digits: number): string {
  // JS writes 1.2340e+5; Python writes 1.2340e+05.
  return value.toExponential(digits).replace(/e([+-])(\d)$/, 'e$10$2');
}

function special(value: number): string | null {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return null;
}

/** PyTorch's _Formatter: picks int, fixed or scientific mode from the values shown, and one column width. */
function makeFormatter(values: number[], dtype: string): Formatter {
  let format: Formatter;
  if (dtype === 'bool') {
    format = (v) => (v ? 'True' : 'False');
  } else if (!dtype.startsWith('float') && dtype !== 'bfloat16') {
    format = (v) => String(v);
  } else {
    const finite = values.filter((v) => Number.isFinite(v) && v !== 0).map(Math.abs);
    const intMode = finite.every((v) => v === Math.ceil(v));
    const min = finite.length ? Math.min(...finite) : 0;
    const max = finite.length ? Math.max(...finite) : 0;
    const sci = finite.length > 0 && (max / min > 1000 || max > 1e8 || (!intMode && min < 1e-4));
    if (sci) {
      format = (v) => special(v) ?? pythonExp(v, 4);
    } else if (intMode) {
      format = (v) => special(v) ?? `${v.toFixed(0)}.`;
    } else {
      format = (v) => special(v) ?? v.toFixed(4);
    }
  }
  const width = Math.max(0, ...values.map((v) => format(v).length));
  return (v) => format(v).padStart(width);
}

/** Flat indices of the elements that will be shown (all, or the edges of each dimension when summarizing). */
function shownIndices(shape: number[], summarize: boolean): number[] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out: number[] = [];
  const walk = (dim: number, offset: number) => {
    if (dim === shape.length) {
      out.push(offset);
      return;
    }
    const n = shape[dim];
    const idx =
      summarize && n > 2 * EDGE_ITEMS
        ? [...Array(EDGE_ITEMS).keys(), ...Array.from({ length: EDGE_ITEMS }, (_, i) => n - EDGE_ITEMS + i)]
        : [...Array(n).keys()];
    for (const i of idx) walk(dim + 1, offset + i * strides[dim]);
  };
  walk(0, 0);
  return out;
}

function body(t: Printable, values: (i: number) => number, fmt: Formatter, summarize: boolean): string {
  const { shape } = t;
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const render = (dim: number, offset: number, indent: number): string => {
    const n = shape[dim];
    const edges = summarize && n > 2 * EDGE_ITEMS;
    const pick = (i: number) => offset + i * strides[dim];
    const items = edges
      ? [...Array(EDGE_ITEMS).keys(), -1, ...Array.from({ length: EDGE_ITEMS }, (_, i) => n - EDGE_ITEMS + i)]
      : [...Array(n).keys()];
    if (dim === shape.length - 1) {
      const elements = items.map((i) => (i < 0 ? ' ...' : fmt(values(pick(i)))));
      const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / (fmt(0).length + 2)));
      const lines: string[] = [];
      for (let i = 0; i < elements.length; i += perLine) lines.push(elements.slice(i, i + perLine).join(', '));
      return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
    }
    const slices = items.map((i) => (i < 0 ? '...' : render(dim + 1, pick(i), indent + 1)));
    return `[${slices.join(`,${'\n'.repeat(shape.length - dim - 1)}${' '.repeat(indent + 1)}`)}]`;
  };
  return render(0, 0, PREFIX.length);
}

function addSuffixes(text: string, suffixes: string[], indent: number): string {
  const parts = [text];
  let lastLineLength = text.length - text.lastIndexOf('\n') + 1;
  for (const suffix of suffixes) {
    if (lastLineLength + suffix.length + 2 > LINE_WIDTH) {
      parts.push(`,\n${' '.repeat(indent)}${suffix}`);
      lastLineLength = indent + suffix.length;
    } else {
      parts.push(`, ${suffix}`);
      lastLineLength += suffix.length + 2;
    }
  }
  parts.push(')');
  return parts.join('');
}

export function formatTensor(t: Printable): string {
  const numel = t.shape.reduce((a, b) => a * b, 1);
  const values = (i: number) => Number(t.data[i]);
  const suffixes: string[] = [];
  if (t.device !== 'cpu') suffixes.push(`device='${t.device}'`);
  let text: string;
  if (numel === 0) {
    text = '[]';
    if (t.shape.length !== 1) suffixes.push(`size=(${t.shape.join(', ')}${t.shape.length === 1 ? ',' : ''})`);
  } else {
    const summarize = numel > THRESHOLD;
    const shown = t.shape.length === 0 ? [0] : shownIndices(t.shape, summarize);
    const fmt = makeFormatter(shown.map(values), t.dtype);
    text = t.shape.length === 0 ? fmt(values(0)).trim() : body(t, values, fmt, summarize);
  }
  if (!DEFAULT_DTYPES.has(t.dtype)) suffixes.push(`dtype=torch.${t.dtype}`);
  if (t.gradFn) {
    suffixes.push(`grad_fn=<${t.gradFn}>`);
  } else if (t.requiresGrad) {
    suffixes.push('requires_grad=True');
  }
  return addSuffixes(PREFIX + text, suffixes, PREFIX.length);
}
