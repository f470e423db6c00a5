// d2l.show_images and d2l.predict_ch3: PNGs read back with pngjs, pixel by pixel where it matters.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { d2l, nn, torch, Tensor } from '../lib';
import { tempDirs } from './idx-files';

const tempDir = tempDirs('lenet-images-');

const read = (buffer: Uint8Array) => PNG.sync.read(Buffer.from(buffer));
/** Gray value at (x, y) (pngjs decodes to RGBA; the three channels are equal). */
const at = (png: PNG, x: number, y: number) => png.data[(y * png.width + x) * 4];
/** Layout at the default scale (150-pixel cells, 6-pixel gaps): where image i's pixel (r, c) of a 28x28 image lands. */
const CELL = 150, GAP = 6, ZOOM = 5, OFFSET = (CELL - 28 * ZOOM) / 2;

describe('d2l.show_images()', () => {
  test('a grid of num_rows x num_cols cells of 150 pixels (scale 1.5 at 100 dpi), each image scaled to 0..255 on its own', async () => {
    // Image 0 is a ramp 0..783 (float32); image 1 is a ramp 10..10.783 (a narrow range: stretched to 0..255 too).
    const ramp = Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => r * 28 + c));
    const X = torch.tensor([ramp, ramp.map((row) => row.map((v) => 10 + v / 1000))]);
    const png = read(await d2l.show_images(X, 1, 2));
    expect([png.width, png.height]).toEqual([2 * (CELL + GAP) + GAP, CELL + GAP + GAP]);
    for (const i of [0, 1]) {
      const left = GAP + i * (CELL + GAP) + OFFSET;
      expect(at(png, left, GAP + OFFSET)).toBe(0); // the minimum: black
      expect(at(png, left + 28 * ZOOM - 1, GAP + OFFSET + 28 * ZOOM - 1)).toBe(255); // the maximum: white
      expect(at(png, left + 14 * ZOOM, GAP + OFFSET + 14 * ZOOM)).toBe(Math.round(((14 * 28 + 14) / 783) * 255));
    }
    expect(at(png, 0, 0)).toBe(255); // white around the images
  });

  test('[N, 1, H, W] uint8 works as [N, H, W]; a constant image is black; num_rows * num_cols beyond N leaves cells empty', async () => {
    const X = torch.full([1, 1, 4, 4], 200, { dtype: torch.uint8 });
    const png = read(await d2l.show_images(X, 2, 2, { scale: 0.4 }));
    expect([png.width, png.height]).toEqual([2 * 46 + GAP, 2 * 46 + GAP]);
    expect(at(png, GAP + 2, GAP + 2)).toBe(0);
    expect(at(png, GAP + 46 + 2, GAP + 2)).toBe(255);
  });

  test('only the first num_rows * num_cols images are drawn (d2l zips axes with imgs)', async () => {
    const png = read(await d2l.show_images(torch.rand(5, 8, 8), 1, 2, { scale: 0.5 }));
    expect(png.width).toBe(2 * (50 + GAP) + GAP);
  });

  test("titles above the images, '\\n' breaking lines; path writes the same PNG (making its folder)", async () => {
    const file = path.join(tempDir(), 'sub', 'grid.png');
    const X = torch.zeros(2, 28, 28);
    const plain = read(await d2l.show_images(X, 1, 2));
    const buffer = await d2l.show_images(X, 1, 2, { titles: ['trouser\ntrouser', 'coat'], path: file });
    expect(fs.readFileSync(file).equals(buffer)).toBe(true); // a Buffer, typed as Uint8Array
    const png = read(buffer);
    expect(png.height).toBe(plain.height + 2 * 16 + 4); // two lines of 16 pixels (the 5x7 font at 2x), and a margin
    const dark = (y0: number, y1: number, x0: number, x1: number) => {
      let count = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (at(png, x, y) === 0) count++;
      return count;
    };
    expect(dark(GAP, GAP + 16, GAP, GAP + CELL)).toBeGreaterThan(50); // 'trouser'
    expect(dark(GAP + 16, GAP + 32, GAP, GAP + CELL)).toBeGreaterThan(50); // 'trouser' again
    expect(dark(GAP + 16, GAP + 32, 2 * GAP + CELL, 2 * GAP + 2 * CELL)).toBe(0); // 'coat' has one line
  });

  describe('BAD CALL', () => {
    test.each([
      ['imgs not a Tensor', () => d2l.show_images([[1]] as never, 1, 1), TypeError, /Expected imgs to be a Tensor of shape \[N, H, W\] or \[N, 1, H, W\]/],
      ['imgs of 3 channels', () => d2l.show_images(torch.zeros(2, 3, 4, 4), 1, 2), RangeError, /received a Tensor of shape \[2, 3, 4, 4\]/],
      ['imgs 2-d', () => d2l.show_images(torch.zeros(4, 4), 1, 1), RangeError, /imgs/],
      ['imgs bool', () => d2l.show_images(torch.zeros(1, 2, 2).eq(0), 1, 1), RangeError, /a Tensor of real numbers/],
      ['num_rows 0', () => d2l.show_images(torch.zeros(1, 2, 2), 0, 1), RangeError, /Expected num_rows to be a positive integer/],
      ['num_cols 1.5', () => d2l.show_images(torch.zeros(1, 2, 2), 1, 1.5), RangeError, /num_cols/],
      ['a grid too large', () => d2l.show_images(torch.zeros(1, 2, 2), 100000, 100000), RangeError, /at most 100 megapixels/],
      ['titles a string', () => d2l.show_images(torch.zeros(1, 2, 2), 1, 1, { titles: 'a' as never }), TypeError, /Expected titles to be an array of strings/],
      ['a title a number', () => d2l.show_images(torch.zeros(1, 2, 2), 1, 1, { titles: [1] as never }), TypeError, /titles\[0\]/],
      ['fewer titles than images drawn', () => d2l.show_images(torch.zeros(3, 2, 2), 1, 2, { titles: ['a'] }), RangeError, /one title per image drawn \(2\) but received 1 titles/],
      ['scale 0', () => d2l.show_images(torch.zeros(1, 2, 2), 1, 1, { scale: 0 }), RangeError, /Expected scale to be a number of inches/],
      ['path a number', () => d2l.show_images(torch.zeros(1, 2, 2), 1, 1, { path: 1 as never }), TypeError, /Expected path to be a file path/],
      ['an unknown option', () => d2l.show_images(torch.zeros(1, 2, 2), 1, 1, { title: ['a'] } as never), TypeError, /unexpected keyword argument 'title'/],
    ])('%s', async (_, call, type, message) => {
      const error = await call().then(() => undefined, (e: Error) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    });

    test('EXPECTED FAILURE: a path that cannot be written rejects with the file system\'s Error', async () => {
      const file = path.join(tempDir(), 'file');
      fs.writeFileSync(file, '');
      await expect(d2l.show_images(torch.zeros(1, 2, 2), 1, 1, { path: path.join(file, 'x.png') })).rejects.toThrow(/EEXIST|ENOTDIR/);
    });
  });
});

describe('d2l.predict_ch3()', () => {
  // A net that predicts class (label + 1) % 10 for the fixture below: every image i is uniformly i.
  const data = () => {
    const X = torch.arange(0, 8, 1).reshape(8, 1, 1, 1).mul(torch.ones(8, 1, 28, 28)).float();
    const y = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7], { dtype: torch.int64 });
    return d2l.load_array([X, y], 8, false);
  };
  class Shift extends nn.Module {
    override forward(X: Tensor): Tensor {
      const v = X.mean([1, 2, 3]).tolist() as number[];
      return torch.tensor(v.map((c) => Array.from({ length: 10 }, (_, k) => (k === (c + 1) % 10 ? 1 : 0))));
    }
  }

  test("draws the first n images of the first batch in one row, titled 'true\\npredicted'", async () => {
    const file = path.join(tempDir(), 'pred.png');
    const buffer = await d2l.predict_ch3(new Shift(), data(), 3, { path: file });
    const png = read(buffer);
    expect(fs.existsSync(file)).toBe(true);
    expect(png.width).toBe(3 * (CELL + GAP) + GAP);
    expect(png.height).toBe(CELL + 2 * GAP + 2 * 16 + 4);
    // The same picture as show_images with d2l's titles.
    const [X] = data()[Symbol.iterator]().next().value as [Tensor, Tensor];
    const titles = ['t-shirt\ntrouser', 'trouser\npullover', 'pullover\ndress'];
    const expected = await d2l.show_images(X.reshape(-1, 28, 28).index_select(0, torch.arange(0, 3, 1, { dtype: torch.int64 })), 1, 3, { titles });
    expect(Buffer.from(buffer).equals(expected)).toBe(true);
  });

  test('n defaults to 6', async () => {
    const png = read(await d2l.predict_ch3(new Shift(), data()));
    expect(png.width).toBe(6 * (CELL + GAP) + GAP);
  });

  describe('BAD CALL', () => {
    test.each([
      ['net not a Module', () => d2l.predict_ch3((() => 1) as never, data()), TypeError, /Expected net to be an nn\.Module/],
      ['test_iter not a DataLoader', () => d2l.predict_ch3(new Shift(), [] as never), TypeError, /Expected test_iter to be a DataLoader/],
      ['n 0', () => d2l.predict_ch3(new Shift(), data(), 0), RangeError, /Expected n to be a positive integer/],
      ['n beyond the batch', () => d2l.predict_ch3(new Shift(), data(), 9), RangeError, /Expected n to be at most the batch size \(8\) but received 9/],
      ['path a number', () => d2l.predict_ch3(new Shift(), data(), 2, { path: 1 as never }), TypeError, /path/],
    ])('%s', async (_, call, type, message) => {
      const error = await call().then(() => undefined, (e: Error) => e);
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    });
  });
});
