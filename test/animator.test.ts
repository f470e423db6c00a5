import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Animator } from '../lib/d2l/animator';

const LEGEND = ['train loss', 'train acc', 'test acc'];

/** Feeds an Animator as d2l's train_ch6 does: 5 batches an epoch, then the test accuracy at the epoch's end. */
function trainCh6(animator: Animator, numEpochs = 2, numBatches = 5): void {
  for (let epoch = 0; epoch < numEpochs; epoch++) {
    for (let i = 0; i < numBatches; i++) {
      const trainL = 2.3 - epoch - i / 10;
      const trainAcc = 0.1 + epoch / 4 + i / 20;
      animator.add(epoch + (i + 1) / numBatches, [trainL, trainAcc, null]);
    }
    animator.add(epoch + 1, [null, null, 0.5 + epoch / 4]);
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lenet-torch-animator-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('new Animator()', () => {
  test('takes no options: no series yet', () => {
    const animator = new Animator();
    expect(animator.X).toEqual([]);
    expect(animator.Y).toEqual([]);
    expect(String(animator)).toBe('Animator(0 series, 0 points)');
  });

  test("takes d2l's options by name", () => {
    const animator = new Animator({
      xlabel: 'epoch',
      ylabel: 'loss',
      legend: LEGEND,
      xlim: [1, 10],
      ylim: [0, 2.5],
      xscale: 'linear',
      yscale: 'linear',
      fmts: ['-', 'm--', 'g-.', 'r:'],
      nrows: 1,
      ncols: 1,
      figsize: [3.5, 2.5],
    });
    expect(String(animator)).toBe("Animator(0 series, 0 points, xlabel='epoch', ylabel='loss')");
  });

  test('null stands for Python None', () => {
    expect(() => new Animator({ xlabel: null, ylabel: null, legend: null, xlim: null, ylim: null })).not.toThrow();
  });

  describe('BAD CALL', () => {
    test.each([
      ['options not an object', () => new Animator(5 as never), TypeError, /options/],
      ['an unknown option', () => new Animator({ title: 'x' } as never), TypeError, /unexpected keyword argument 'title'/],
      ['xlabel a number', () => new Animator({ xlabel: 1 as never }), TypeError, /xlabel/],
      ['ylabel an array', () => new Animator({ ylabel: ['a'] as never }), TypeError, /ylabel/],
      ['legend a string', () => new Animator({ legend: 'train loss' as never }), TypeError, /legend/],
      ['legend holding a number', () => new Animator({ legend: ['a', 2] as never }), TypeError, /legend\[1\]/],
      ['legend naming a series twice', () => new Animator({ legend: ['a', 'a'] }), RangeError, /legend.*'a' appears twice/],
      ['xlim a number', () => new Animator({ xlim: 10 as never }), TypeError, /xlim/],
      ['xlim of three', () => new Animator({ xlim: [1, 2, 3] as never }), RangeError, /xlim/],
      ['xlim reversed', () => new Animator({ xlim: [10, 1] }), RangeError, /xlim/],
      ['xlim holding NaN', () => new Animator({ xlim: [0, NaN] }), RangeError, /xlim\[1\]/],
      ['ylim holding a string', () => new Animator({ ylim: ['0', 1] as never }), TypeError, /ylim\[0\]/],
      ['ylim from 0 on a log axis', () => new Animator({ ylim: [0, 1], yscale: 'log' }), RangeError, /ylim.*log/],
      ['xscale symlog', () => new Animator({ xscale: 'symlog' as never }), RangeError, /xscale/],
      ['yscale a number', () => new Animator({ yscale: 10 as never }), TypeError, /yscale/],
      ['fmts a string', () => new Animator({ fmts: '-' as never }), TypeError, /fmts/],
      ['fmts empty', () => new Animator({ fmts: [] }), RangeError, /fmts/],
      ['fmts with a marker', () => new Animator({ fmts: ['-', 'o'] }), RangeError, /fmts\[1\]/],
      ['fmts with two colours', () => new Animator({ fmts: ['r-g'] }), RangeError, /fmts\[0\]/],
      ['figsize a number', () => new Animator({ figsize: 3 as never }), TypeError, /figsize/],
      ['figsize of one', () => new Animator({ figsize: [3] as never }), RangeError, /figsize/],
      ['figsize zero wide', () => new Animator({ figsize: [0, 2.5] }), RangeError, /figsize\[0\]/],
      ['nrows 2', () => new Animator({ nrows: 2 }), RangeError, /nrows.*subplots are not supported/],
      ['ncols 2', () => new Animator({ ncols: 2 }), RangeError, /ncols.*subplots are not supported/],
      ['ncols a string', () => new Animator({ ncols: '1' as never }), TypeError, /ncols/],
    ])('%s', (_name, fn, type, message) => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    });
  });
});

describe('Animator#add()', () => {
  test("collects train_ch6's points, skipping the nulls", () => {
    const animator = new Animator({ xlabel: 'epoch', xlim: [1, 2], legend: LEGEND });
    trainCh6(animator);
    const batches = [0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6, 1.8, 2];
    expect(animator.X).toHaveLength(3);
    animator.X[0].forEach((x, i) => expect(x).toBeCloseTo(batches[i], 12));
    animator.X[1].forEach((x, i) => expect(x).toBeCloseTo(batches[i], 12));
    expect(animator.X[2]).toEqual([1, 2]);
    expect(animator.Y[0]).toHaveLength(10);
    expect(animator.Y[0][0]).toBeCloseTo(2.3, 12);
    expect(animator.Y[0][9]).toBeCloseTo(0.9, 12);
    expect(animator.Y[1][4]).toBeCloseTo(0.3, 12);
    expect(animator.Y[2]).toEqual([0.5, 0.75]);
    expect(String(animator)).toBe("Animator(3 series, 22 points, xlabel='epoch')");
  });

  test('a number y is one series; an array x pairs with y', () => {
    const one = new Animator();
    one.add(1, 0.5);
    one.add(2, 0.25);
    expect(one.X).toEqual([[1, 2]]);
    expect(one.Y).toEqual([[0.5, 0.25]]);

    const two = new Animator();
    two.add([1, 10], [2, 20]);
    two.add([3, null], [4, 40]);
    two.add([5, 50], [undefined, 60]);
    expect(two.X).toEqual([[1, 3], [10, 50]]);
    expect(two.Y).toEqual([[2, 4], [20, 60]]);
  });

  test('X and Y are copies', () => {
    const animator = new Animator();
    animator.add(1, [2, 3]);
    animator.X[0].push(99);
    animator.Y.pop();
    expect(animator.X).toEqual([[1], [1]]);
    expect(animator.Y).toEqual([[2], [3]]);
  });

  describe('BAD CALL', () => {
    const withTwoSeries = () => {
      const animator = new Animator();
      animator.add(1, [1, 2]);
      return animator;
    };
    test.each([
      ['x a string', () => withTwoSeries().add('1' as never, [1, 2]), TypeError, /Expected x to be/],
      ['x null', () => withTwoSeries().add(null as never, [1, 2]), TypeError, /Expected x to be/],
      ['x holding a string', () => withTwoSeries().add([1, '2'] as never, [1, 2]), TypeError, /x\[1\]/],
      ['x NaN', () => withTwoSeries().add(NaN, [1, 2]), RangeError, /Expected x to be/],
      ['x holding Infinity', () => withTwoSeries().add([Infinity, 1], [1, 2]), RangeError, /x\[0\]/],
      ['x shorter than y', () => withTwoSeries().add([1], [1, 2]), RangeError, /Expected x to be .*2 values/],
      ['y a string', () => withTwoSeries().add(1, '1' as never), TypeError, /Expected y to be/],
      ['y null', () => withTwoSeries().add(1, null as never), TypeError, /Expected y to be/],
      ['y holding an object', () => withTwoSeries().add(1, [1, {}] as never), TypeError, /y\[1\]/],
      ['y holding NaN', () => withTwoSeries().add(1, [NaN, 1]), RangeError, /y\[0\]/],
      ['y -Infinity', () => new Animator().add(1, -Infinity), RangeError, /Expected y to be/],
      ['y empty', () => new Animator().add(1, []), RangeError, /Expected y to be a non-empty array/],
      ['more series than the first call', () => withTwoSeries().add(2, [1, 2, 3]), RangeError, /Expected y to be 2 values/],
      ['fewer series than the first call', () => withTwoSeries().add(2, 1), RangeError, /Expected y to be 2 values/],
    ])('%s', (_name, fn, type, message) => {
      expect(fn).toThrow(type);
      expect(fn).toThrow(message);
    });

    test('a rejected call adds nothing', () => {
      const animator = withTwoSeries();
      expect(() => animator.add([2, 2], [3, NaN])).toThrow(RangeError);
      expect(animator.X).toEqual([[1], [1]]);
      expect(animator.Y).toEqual([[1], [2]]);
    });
  });
});

describe('Animator#toSVG()', () => {
  test('draws a figsize-sized SVG with the legend names, axis titles and a grid', async () => {
    const animator = new Animator({ xlabel: 'epoch', ylabel: 'value', xlim: [1, 2], legend: LEGEND, figsize: [4, 3] });
    trainCh6(animator);
    const svg = await animator.toSVG();
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toMatch(/width="400" height="300"/);
    for (const name of [...LEGEND, 'epoch', 'value']) expect(svg).toContain(`>${name}</text>`);
    expect(svg).toContain('role-axis-grid');
  });

  test("each series takes its fmt's colour and dashes; colourless fmts take matplotlib's cycle", async () => {
    const animator = new Animator({ legend: LEGEND });
    trainCh6(animator);
    // Default fmts ('-', 'm--', 'g-.'): C0 solid, magenta dashed, green dash-dot.
    const svg = await animator.toSVG();
    expect(svg).toMatch(/stroke="#1f77b4"[^>]*stroke-dasharray=""/);
    expect(svg).toMatch(/stroke="#bf00bf"[^>]*stroke-dasharray="5.55,2.4"/);
    expect(svg).toMatch(/stroke="#008000"[^>]*stroke-dasharray="9.6,2.4,1.5,2.4"/);

    const custom = new Animator({ fmts: ['r:', '--', '-.k', ''] });
    custom.add(1, [1, 2, 3, 4]);
    custom.add(2, [2, 3, 4, 5]);
    const svg2 = await custom.toSVG();
    expect(svg2).toMatch(/stroke="#ff0000"[^>]*stroke-dasharray="1.5,2.475"/);
    expect(svg2).toMatch(/stroke="#1f77b4"[^>]*stroke-dasharray="5.55,2.4"/);
    expect(svg2).toMatch(/stroke="#000000"[^>]*stroke-dasharray="9.6,2.4,1.5,2.4"/);
    expect(svg2).toMatch(/stroke="#ff7f0e"[^>]*stroke-dasharray=""/);
  });

  test("names unnamed series 'series i' and leaves out series without points", async () => {
    const animator = new Animator({ legend: ['loss'] });
    animator.add(1, [1, 2, null]);
    animator.add(2, [0.5, 3, null]);
    const svg = await animator.toSVG();
    expect(svg).toContain('>loss</text>');
    expect(svg).toContain('>series 1</text>');
    expect(svg).not.toContain('series 2');
  });

  test('draws an empty Animator, and leaves out points a log axis cannot place', async () => {
    await expect(new Animator({ xlabel: 'epoch' }).toSVG()).resolves.toMatch(/^<svg[\s\S]*>epoch<\/text>/);
    const animator = new Animator({ yscale: 'log', legend: ['a', 'b'] });
    animator.add(1, [0, 1]);
    animator.add(2, [-1, 10]);
    const svg = await animator.toSVG();
    expect(svg).toContain('>b</text>');
    expect(svg).not.toContain('>a</text>');
  });
});

describe('Animator#save()', () => {
  test('writes the SVG, creating the parent folders', async () => {
    const animator = new Animator({ xlabel: 'epoch', legend: LEGEND });
    trainCh6(animator);
    const path = join(dir, 'figures', 'lenet', 'animator.svg');
    await animator.save(path);
    const text = await readFile(path, 'utf8');
    // Vega numbers its clip paths per render; the rest is the same document.
    const unclipped = (svg: string) => svg.replace(/clip\d+/g, 'clip');
    expect(unclipped(text) === unclipped(await animator.toSVG())).toBe(true);
    expect(text).toContain('>train loss</text>');
    expect((await stat(path)).size).toBeGreaterThan(1000);
  });

  describe('BAD CALL', () => {
    test('path not a string', async () => {
      await expect(new Animator().save(5 as never)).rejects.toThrow(TypeError);
      await expect(new Animator().save(5 as never)).rejects.toThrow(/Expected path to be a string/);
    });

    test('path empty', async () => {
      await expect(new Animator().save('')).rejects.toThrow(RangeError);
    });
  });

  describe('EXPECTED FAILURE', () => {
    test("the file system's error rejects, with the caller's frames", async () => {
      const err = await new Animator().save(dir).then(
        () => null,
        (e: NodeJS.ErrnoException) => e,
      );
      expect(err).not.toBeNull();
      expect(err!.code).toBe('EISDIR');
      expect(err!.stack).toContain('animator.test.ts');
    });
  });
});
