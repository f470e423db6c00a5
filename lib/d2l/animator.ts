/**
 * d2l's Animator (d2l/torch.py), ported: collects points series by series while a model trains and draws them as
 * one line chart. Where d2l redraws a matplotlib figure in a notebook, this renders a Vega-Lite chart to SVG,
 * headless (Vega's 'none' renderer: no canvas, no browser).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as VegaLite from 'vega-lite';
import { checkArgCount, checkInt, checkNumber, checkOptions, checkString, invalidType, invalidValue, parseArgs } from '../validate';

/** An axis scale, as matplotlib's `set_xscale` / `set_yscale`. */
export type Scale = 'linear' | 'log';

/** Options of {@link Animator}, named as d2l's `Animator.__init__`; all are optional. */
export interface AnimatorOptions {
  /** Title of the x axis. Default: none. */
  xlabel?: string | null;
  /** Title of the y axis. Default: none. */
  ylabel?: string | null;
  /** Names of the series, in the order of `add()`'s values; unnamed series read 'series 0', 'series 1', ... */
  legend?: readonly string[] | null;
  /** Fixed x range `[lo, hi]`, lo < hi. Default: fitted to the data. */
  xlim?: readonly [number, number] | null;
  /** Fixed y range `[lo, hi]`, lo < hi. Default: fitted to the data. */
  ylim?: readonly [number, number] | null;
  /** Default: 'linear'. On a log axis, points <= 0 are left out (matplotlib masks them). */
  xscale?: Scale;
  /** Default: 'linear'. */
  yscale?: Scale;
  /**
   * One matplotlib format per series, used in turn: a line style ('-' solid, '--' dashed, '-.' dash-dot, ':' dotted)
   * with an optional colour letter (b g r c m y k w). Default: `['-', 'm--', 'g-.', 'r:']`.
   */
  fmts?: readonly string[];
  /** Only 1: one plot per Animator (subplots are not supported). */
  nrows?: number;
  /** Only 1: one plot per Animator (subplots are not supported). */
  ncols?: number;
  /** Figure size `[width, height]` in inches, at 100 px per inch. Default: `[3.5, 2.5]`. */
  figsize?: readonly [number, number];
}

/** How a series is stroked: colour and SVG dash array. */
interface LineStyle {
  color: string;
  dash: number[];
}

const OPTION_NAMES = ['xlabel', 'ylabel', 'legend', 'xlim', 'ylim', 'xscale', 'yscale', 'fmts', 'nrows', 'ncols', 'figsize'];
const SCALES: readonly Scale[] = ['linear', 'log'];
const DEFAULT_FMTS = ['-', 'm--', 'g-.', 'r:'];
const PX_PER_INCH = 100;
/** matplotlib's default property cycle ('tab10'), C0..C9. */
const CYCLE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
/** matplotlib's single-letter colours. */
const COLORS: Record<string, string> = {
  b: '#0000ff',
  g: '#008000',
  r: '#ff0000',
  c: '#00bfbf',
  m: '#bf00bf',
  y: '#bfbf00',
  k: '#000000',
  w: '#ffffff',
};
/** matplotlib's rcParams dash patterns, scaled by its default line width (1.5). */
const DASHES: Record<string, number[]> = {
  '-': [],
  '--': [5.55, 2.4],
  '-.': [9.6, 2.4, 1.5, 2.4],
  ':': [1.5, 2.475],
};
const FMT_EXPECTED = "a line format: '-', '--', '-.' or ':' with an optional colour letter (b g r c m y k w)";

function checkLabel(name: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalidType(name, 'a string', value);
  return value;
}

function checkStrings(name: string, value: unknown, expected: string): string[] {
  if (!Array.isArray(value)) throw invalidType(name, expected, value);
  return value.map((s, i) => {
    if (typeof s !== 'string') throw invalidType(`${name}[${i}]`, 'a string', s);
    return s;
  });
}

/** A pair of finite numbers `[lo, hi]` with lo < hi (and lo > 0 on a log axis), or null. */
function checkLim(name: string, value: unknown, scale: Scale): [number, number] | null {
  if (value === undefined || value === null) return null;
  const expected = scale === 'log' ? 'a pair [lo, hi] with 0 < lo < hi (a log axis)' : 'a pair [lo, hi] with lo < hi';
  if (!Array.isArray(value)) throw invalidType(name, expected, value);
  if (value.length !== 2) throw invalidValue(name, expected, value);
  const lo = checkNumber(`${name}[0]`, value[0]);
  const hi = checkNumber(`${name}[1]`, value[1]);
  if (!(lo < hi) || (scale === 'log' && lo <= 0)) throw invalidValue(name, expected, value);
  return [lo, hi];
}

/**
 * Parses matplotlib formats into styles. A format without a colour letter takes the next colour of matplotlib's
 * cycle, which (as in matplotlib) only colourless lines advance: the defaults draw C0, magenta, green, red.
 */
function parseFmts(fmts: readonly string[]): LineStyle[] {
  let cycle = 0;
  return fmts.map((fmt, i) => {
    let letter: string | undefined;
    let style = fmt;
    if (style.length > 0 && style[0] in COLORS) [letter, style] = [style[0], style.slice(1)];
    else if (style.length > 0 && style[style.length - 1] in COLORS) [letter, style] = [style[style.length - 1], style.slice(0, -1)];
    const dash = DASHES[style === '' ? '-' : style];
    if (dash === undefined) throw invalidValue(`fmts[${i}]`, FMT_EXPECTED, fmt);
    const color = letter === undefined ? CYCLE[cycle++ % CYCLE.length] : COLORS[letter];
    return { color, dash };
  });
}

// Rendering runs on a worker thread: Vega's first parse and render take 200-300 ms, which would stall the event
// loop (train_ch6 draws after every epoch). One worker per thread that draws, started on first use (so most
// trainings, which never draw, never load Vega's ~20 MB), and unref'd so it never keeps the process alive.
const RENDERER = `
const { parentPort } = require('node:worker_threads');
const vega = require(${JSON.stringify(require.resolve('vega'))});
const vl = require(${JSON.stringify(require.resolve('vega-lite'))});
parentPort.on('message', async ({ id, spec }) => {
  try {
    const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
    try {
      parentPort.postMessage({ id, svg: await view.toSVG() });
    } finally {
      view.finalize();
    }
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.message) || e) });
  }
});
`;

let renderer: { worker: Worker; pending: Map<number, { resolve: (svg: string) => void; reject: (e: Error) => void }> } | null = null;
let nextRender = 0;

function render(spec: VegaLite.TopLevelSpec): Promise<string> {
  if (!renderer) {
    const worker = new Worker(RENDERER, { eval: true });
    const current = { worker, pending: new Map<number, { resolve: (svg: string) => void; reject: (e: Error) => void }>() };
    const fail = (error: Error) => {
      for (const { reject } of current.pending.values()) reject(error);
      current.pending.clear();
      if (renderer === current) renderer = null;
    };
    worker.on('message', ({ id, svg, error }: { id: number; svg?: string; error?: string }) => {
      const request = current.pending.get(id);
      current.pending.delete(id);
      if (current.pending.size === 0) worker.unref();
      if (error !== undefined) request?.reject(new Error(`Animator: drawing the chart failed: ${error}`));
      else request?.resolve(svg!);
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`Animator: the drawing thread stopped (exit code ${code})`)));
    renderer = current;
  }
  const { worker, pending } = renderer;
  const id = nextRender++;
  return new Promise<string>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    // Referenced while a drawing is pending, so that the process waits for the file being saved.
    worker.ref();
    worker.postMessage({ id, spec });
  });
}

/** A point's coordinate: a finite number, or null/undefined for "no point" (Python's None). */
function checkCoordinate(name: string, value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return checkNumber(name, value, { expected: 'a finite number or null' });
}

/**
 * Plots data in animation, as d2l's `Animator`: `add()` appends one point to each series, `toSVG()` / `save()`
 * draw them as one line chart (Vega-Lite, rendered headless).
 * @example
 * const animator = new d2l.Animator({xlabel: 'epoch', xlim: [1, num_epochs],
 *                                    legend: ['train loss', 'train acc', 'test acc']});
 * animator.add(epoch + (i + 1) / num_batches, [train_l, train_acc, null]);
 * animator.add(epoch + 1, [null, null, test_acc]);
 * await animator.save('lenet.svg');
 * @throws TypeError naming the option for a wrong type; RangeError for a bad value (xlim with lo >= hi, an unknown
 *   fmt, figsize <= 0) and for nrows/ncols other than 1 (subplots are not supported).
 */
export class Animator {
  readonly #xlabel: string | null;
  readonly #ylabel: string | null;
  readonly #legend: string[];
  readonly #xlim: [number, number] | null;
  readonly #ylim: [number, number] | null;
  readonly #xscale: Scale;
  readonly #yscale: Scale;
  readonly #styles: LineStyle[];
  readonly #figsize: [number, number];
  #X: number[][] = [];
  #Y: number[][] = [];

  constructor(options: AnimatorOptions = {}) {
    checkArgCount('Animator', arguments.length, 1);
    const a = parseArgs('Animator', OPTION_NAMES, [checkOptions('options', options)]);
    for (const name of ['nrows', 'ncols']) {
      if (a[name] !== undefined && checkInt(name, a[name], { min: 1 }) !== 1) {
        throw invalidValue(name, '1 (subplots are not supported: use one Animator per plot)', a[name]);
      }
    }
    this.#xlabel = checkLabel('xlabel', a.xlabel);
    this.#ylabel = checkLabel('ylabel', a.ylabel);
    this.#legend = a.legend === undefined || a.legend === null ? [] : checkStrings('legend', a.legend, 'an array of strings');
    // Series are told apart by name in the chart, so two series must not share one.
    const dup = this.#legend.find((s, i) => this.#legend.indexOf(s) !== i);
    if (dup !== undefined) throw invalidValue('legend', `an array of distinct names ('${dup}' appears twice)`, a.legend);
    this.#xscale = checkString('xscale', a.xscale ?? 'linear', SCALES);
    this.#yscale = checkString('yscale', a.yscale ?? 'linear', SCALES);
    this.#xlim = checkLim('xlim', a.xlim, this.#xscale);
    this.#ylim = checkLim('ylim', a.ylim, this.#yscale);
    const fmts = a.fmts === undefined ? DEFAULT_FMTS : checkStrings('fmts', a.fmts, 'an array of format strings');
    if (fmts.length === 0) throw invalidValue('fmts', 'a non-empty array of format strings', a.fmts);
    this.#styles = parseFmts(fmts);
    const figsize = a.figsize ?? [3.5, 2.5];
    const sizeExpected = 'a pair [width, height] of positive numbers (inches)';
    if (!Array.isArray(figsize)) throw invalidType('figsize', sizeExpected, figsize);
    if (figsize.length !== 2) throw invalidValue('figsize', sizeExpected, figsize);
    this.#figsize = [checkNumber('figsize[0]', figsize[0], { gt: 0 }), checkNumber('figsize[1]', figsize[1], { gt: 0 })];
  }

  /** The x values of each series so far (copies), as d2l's `animator.X`. */
  get X(): number[][] {
    return this.#X.map((s) => s.slice());
  }

  /** The y values of each series so far (copies), as d2l's `animator.Y`. */
  get Y(): number[][] {
    return this.#Y.map((s) => s.slice());
  }

  /**
   * Adds one point to each series: `y[i]` at `x[i]`, or at `x` when x is one number. A null or undefined x or y
   * (Python's None) adds nothing to that series. The first call fixes the number of series.
   * @example animator.add(epoch + 1, [null, null, test_acc]);
   * @throws TypeError naming x / y (or x[i] / y[i]) for a wrong type; RangeError for NaN or infinite values, an
   *   empty y, x and y of different lengths, or a number of series other than the first call's.
   */
  add(x: number | readonly (number | null | undefined)[], y: number | readonly (number | null | undefined)[]): void {
    checkArgCount('Animator.add', arguments.length, 2);
    let ys: (number | null)[];
    if (typeof y === 'number') ys = [checkNumber('y', y)];
    else if (Array.isArray(y)) ys = y.map((v, i) => checkCoordinate(`y[${i}]`, v));
    else throw invalidType('y', 'a number or an array of numbers (or nulls)', y);
    const n = ys.length;
    if (n === 0) throw invalidValue('y', 'a non-empty array (one value per series)', y);
    if (this.#Y.length > 0 && n !== this.#Y.length) {
      throw invalidValue('y', `${this.#Y.length} values, one per series (the number of series is fixed by the first add())`, y);
    }
    let xs: (number | null)[];
    if (typeof x === 'number') xs = new Array<number | null>(n).fill(checkNumber('x', x));
    else if (Array.isArray(x)) xs = x.map((v, i) => checkCoordinate(`x[${i}]`, v));
    else throw invalidType('x', 'a number or an array of numbers (or nulls)', x);
    if (xs.length !== n) throw invalidValue('x', `a number or an array of ${n} values (as many as y)`, x);

    if (this.#X.length === 0) {
      this.#X = Array.from({ length: n }, () => []);
      this.#Y = Array.from({ length: n }, () => []);
    }
    for (let i = 0; i < n; i++) {
      const [a, b] = [xs[i], ys[i]];
      if (a !== null && b !== null) {
        this.#X[i].push(a);
        this.#Y[i].push(b);
      }
    }
  }

  /**
   * Renders the chart as an SVG document: one line per series, in its fmt's colour and dash, with the legend's
   * names, the axis titles, xlim/ylim and a grid. Series without points are left out. Drawn on a worker thread:
   * the event loop keeps turning.
   * @example const svg = await animator.toSVG();
   */
  async toSVG(): Promise<string> {
    checkArgCount('Animator.toSVG', arguments.length, 0);
    return render(this.#spec());
  }

  /**
   * Writes `toSVG()` to `path`, creating the parent folders.
   * @example await animator.save('figures/lenet.svg');
   * @throws TypeError naming path when it is not a non-empty string; file-system errors reject the promise.
   */
  async save(path: string): Promise<void> {
    checkArgCount('Animator.save', arguments.length, 1);
    if (typeof path !== 'string') throw invalidType('path', 'a string', path);
    if (path === '') throw invalidValue('path', 'a non-empty string', path);
    // fs/promises rejects with a stack that ends in Node's internals; keep the caller's frames.
    const site = new Error();
    try {
      const svg = await this.toSVG();
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, svg);
    } catch (err) {
      if (err instanceof Error && site.stack) err.stack = `${err.stack}\n${site.stack.split('\n').slice(1).join('\n')}`;
      throw err;
    }
  }

  /** One line: `Animator(3 series, 42 points, xlabel='epoch')`. */
  toString(): string {
    const points = this.#X.reduce((sum, s) => sum + s.length, 0);
    const xlabel = this.#xlabel === null ? '' : `, xlabel='${this.#xlabel}'`;
    const ylabel = this.#ylabel === null ? '' : `, ylabel='${this.#ylabel}'`;
    return `Animator(${this.#X.length} series, ${points} points${xlabel}${ylabel})`;
  }

  #name(i: number): string {
    return this.#legend[i] ?? `series ${i}`;
  }

  #spec(): VegaLite.TopLevelSpec {
    const n = this.#X.length;
    const values: { series: string; order: number; x: number; y: number }[] = [];
    const shown: number[] = [];
    for (let i = 0; i < n; i++) {
      let order = 0;
      this.#X[i].forEach((x, j) => {
        const y = this.#Y[i][j];
        // A log axis can't place values <= 0: leave them out, as matplotlib masks them.
        if ((this.#xscale === 'log' && x <= 0) || (this.#yscale === 'log' && y <= 0)) return;
        values.push({ series: this.#name(i), order: order++, x, y });
      });
      if (order > 0) shown.push(i);
    }
    const names = shown.map((i) => this.#name(i));
    // Series keep the fmt of their index (fmts are used in turn), whichever others are empty.
    const styles = shown.map((i) => this.#styles[i % this.#styles.length]);
    // Fitted axes don't force 0 in (as matplotlib's autoscale); a log scale has no zero to drop.
    const scale = (type: Scale, lim: [number, number] | null) =>
      lim !== null ? { type, domain: lim, nice: false } : type === 'log' ? { type, nice: true } : { type, zero: false, nice: true };
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      width: this.#figsize[0] * PX_PER_INCH,
      height: this.#figsize[1] * PX_PER_INCH,
      // figsize is the whole figure, as in matplotlib: axes, titles and legend fit inside it.
      autosize: { type: 'fit', contains: 'padding' },
      background: 'white',
      data: { values },
      mark: { type: 'line', clip: true, strokeWidth: 1.5, point: { size: 12, filled: true } },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: this.#xlabel, scale: scale(this.#xscale, this.#xlim), axis: { grid: true } },
        y: { field: 'y', type: 'quantitative', title: this.#ylabel, scale: scale(this.#yscale, this.#ylim), axis: { grid: true } },
        color: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: names, range: styles.map((s) => s.color) },
          legend: { orient: 'top', symbolType: 'stroke', symbolStrokeWidth: 1.5 },
        },
        strokeDash: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: names, range: styles.map((s) => s.dash) },
        },
        order: { field: 'order', type: 'quantitative' },
      },
      config: { view: { stroke: '#000000' }, axis: { gridColor: '#b0b0b0', gridOpacity: 0.3 } },
    };
  }
}
