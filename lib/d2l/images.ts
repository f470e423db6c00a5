/**
 * d2l's show_images and predict_ch3, headless: where d2l draws a matplotlib figure, these write a PNG (grayscale,
 * encoded by pngjs), with the titles drawn in a built-in 5x7 bitmap font (lib/d2l/font.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PNG } from 'pngjs';
import { DataLoader } from '../data';
import { Module } from '../nn/module';
import { Tensor } from '../tensor';
import { arange, no_grad } from '../torch';
import { checkArgCount, checkInt, checkNumber, checkOptions, invalidType, invalidValue, parseArgs } from '../validate';
import { get_fashion_mnist_labels } from './fashion_mnist';
import { GLYPH_HEIGHT, GLYPH_WIDTH, ink } from './font';

/** Pixels per inch of `scale` (matplotlib's default dpi): d2l's scale=1.5 gives 150-pixel cells. */
const DPI = 100;
/** Titles are drawn with each font pixel 2x2, so that 5x7 glyphs stay legible beside 150-pixel images. */
const TEXT_ZOOM = 2;
const GAP = 6;
const BACKGROUND = 255;
const TEXT = 0;

/** Options of {@link show_images}, named as d2l's; all are optional. */
export interface ShowImagesOptions {
  /** One title per image shown, drawn above it; '\n' breaks lines (predict_ch3's 'trouser\ntrouser'). */
  titles?: readonly string[] | null;
  /** Size of each image's cell in inches, at 100 pixels per inch (d2l's default 1.5: 150 pixels). */
  scale?: number;
  /** Write the PNG here (its folder is made if missing). */
  path?: string;
}

/** invalidValue's RangeError, for a value better described in words (a Tensor's shape, a count) than by describe(). */
const described = (name: string, expected: string, received: string) =>
  new RangeError(`Expected ${name} to be ${expected} but received ${received}`);

/** The images as [N, H, W] float32 values, whatever their dtype and device. */
function grayImages(imgs: unknown): { n: number; h: number; w: number; values: Float32Array } {
  if (!(imgs instanceof Tensor)) throw invalidType('imgs', 'a Tensor of shape [N, H, W] or [N, 1, H, W]', imgs);
  const shape = [...imgs.shape];
  const ok = shape.length === 3 || (shape.length === 4 && shape[1] === 1);
  if (!ok) throw described('imgs', 'a Tensor of shape [N, H, W] or [N, 1, H, W] (grayscale)', `a Tensor of shape [${shape.join(', ')}]`);
  if (imgs.dtype === 'bool' || imgs.dtype.startsWith('complex')) {
    throw described('imgs', 'a Tensor of real numbers', `a ${imgs.dtype} Tensor`);
  }
  const [n, h, w] = [shape[0], shape[shape.length - 2], shape[shape.length - 1]];
  const values = no_grad(() => imgs.detach().to('cpu', 'float32').data()) as Float32Array;
  return { n, h, w, values };
}

/**
 * Draws images in a grid of num_rows x num_cols, with optional titles, as d2l.show_images, and resolves to the PNG
 * (a Uint8Array; a Buffer at run time), also written to `path` when given. Each image is scaled to 0..255 from its
 * own minimum to its maximum, as matplotlib's imshow does (a constant image is black), and enlarged by a whole factor
 * (nearest pixel) to fill its cell. As d2l's zip(axes, imgs), the first min(N, num_rows * num_cols) images are drawn, row by row.
 * @example await d2l.show_images(X.reshape(18, 28, 28), 2, 9, { titles: d2l.get_fashion_mnist_labels(y), path: 'x.png' });
 * @throws TypeError / RangeError for a bad argument (imgs not a 3-d or [N, 1, H, W] Tensor, fewer titles than images
 *   drawn); rejects with the file system's Error when path cannot be written.
 */
export async function show_images(
  imgs: Tensor,
  num_rows: number,
  num_cols: number,
  options: ShowImagesOptions = {},
): Promise<Uint8Array> {
  checkArgCount('show_images', arguments.length, 4);
  const { n, h, w, values } = grayImages(imgs);
  checkInt('num_rows', num_rows, { min: 1 });
  checkInt('num_cols', num_cols, { min: 1 });
  const o = parseArgs('show_images', ['titles', 'scale', 'path'], [checkOptions('options', options)]);
  const shown = Math.min(n, num_rows * num_cols);
  let titles: string[] | null = null;
  if (o.titles != null) {
    if (!Array.isArray(o.titles)) throw invalidType('titles', 'an array of strings', o.titles);
    titles = o.titles.map((t, i) => {
      if (typeof t !== 'string') throw invalidType(`titles[${i}]`, 'a string', t);
      return t;
    });
    if (titles.length < shown) throw described('titles', `one title per image drawn (${shown})`, `${titles.length} titles`);
  }
  const scale = checkNumber('scale', o.scale ?? 1.5, { gt: 0, max: 20, expected: 'a number of inches in (0, 20]' });
  if (o.path !== undefined && typeof o.path !== 'string') throw invalidType('path', 'a file path', o.path);

  const cell = Math.max(Math.round(scale * DPI), w, h);
  const zoom = Math.max(1, Math.floor(Math.min(cell / w, cell / h)));
  const lines = titles ? Math.max(1, ...titles.slice(0, shown).map((t) => t.split('\n').length)) : 0;
  const lineHeight = GLYPH_HEIGHT * TEXT_ZOOM;
  const titleHeight = lines ? lines * lineHeight + 4 : 0;
  const cellW = cell + GAP;
  const cellH = titleHeight + cell + GAP;
  const width = num_cols * cellW + GAP;
  const height = num_rows * cellH + GAP;
  // PNG allows 2^31 - 1 per side; past 100 megapixels a grid is a mistake, not a figure.
  if (width * height > 1e8) {
    throw invalidValue('num_rows', `a grid of at most 100 megapixels (${num_rows} x ${num_cols} cells of ${cell} pixels is ${width} x ${height})`, num_rows);
  }
  const pixels = Buffer.alloc(width * height, BACKGROUND);

  for (let i = 0; i < shown; i++) {
    const left = GAP + (i % num_cols) * cellW;
    const top = GAP + Math.floor(i / num_cols) * cellH;
    const image = values.subarray(i * h * w, (i + 1) * h * w);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of image) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi > lo ? hi - lo : 1;
    const ox = left + Math.floor((cell - w * zoom) / 2);
    const oy = top + titleHeight + Math.floor((cell - h * zoom) / 2);
    for (let y = 0; y < h * zoom; y++) {
      const row = (oy + y) * width + ox;
      const src = Math.floor(y / zoom) * w;
      for (let x = 0; x < w * zoom; x++) {
        const v = image[src + Math.floor(x / zoom)];
        pixels[row + x] = Number.isFinite(v) ? Math.round(((v - lo) / range) * 255) : 0;
      }
    }
    if (titles) drawText(pixels, width, titles[i], left, top, cell);
  }
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8 });
  png.data = pixels;
  const buffer = PNG.sync.write(png, { colorType: 0, inputColorType: 0 });
  if (o.path !== undefined) {
    await mkdir(dirname(o.path as string), { recursive: true });
    await writeFile(o.path as string, buffer);
  }
  return buffer;
}

/** Draws text centred in a box `boxWidth` wide at (left, top), line by line; what does not fit is clipped. */
function drawText(pixels: Buffer, width: number, text: string, left: number, top: number, boxWidth: number): void {
  text.split('\n').forEach((line, li) => {
    const textWidth = line.length * GLYPH_WIDTH * TEXT_ZOOM - TEXT_ZOOM;
    const x0 = left + Math.floor((boxWidth - textWidth) / 2);
    const y0 = top + li * GLYPH_HEIGHT * TEXT_ZOOM;
    [...line].forEach((ch, ci) => {
      for (let gx = 0; gx < 5; gx++) {
        for (let gy = 0; gy < 7; gy++) {
          if (!ink(ch, gx, gy)) continue;
          for (let dy = 0; dy < TEXT_ZOOM; dy++) {
            for (let dx = 0; dx < TEXT_ZOOM; dx++) {
              const x = x0 + (ci * GLYPH_WIDTH + gx) * TEXT_ZOOM + dx;
              if (x < left || x >= left + boxWidth) continue;
              pixels[(y0 + gy * TEXT_ZOOM + dy) * width + x] = TEXT;
            }
          }
        }
      }
    });
  });
}

/** Options of {@link predict_ch3}. */
export interface PredictOptions {
  /** Write the PNG here. */
  path?: string;
}

/**
 * Predicts the first n images of test_iter's first batch and draws them in one row, each titled with its true and
 * predicted Fashion-MNIST labels ('trouser\ntrouser'), as d2l.predict_ch3; resolves to the PNG (a Uint8Array),
 * written to path when given. The batch is moved to the net's device; the net runs without autograd, in whatever
 * mode it is in.
 * @example await d2l.predict_ch3(net, test_iter, 6, { path: 'predictions.png' });
 * @throws TypeError for a net that is not an nn.Module or a test_iter that is not a DataLoader; RangeError for n
 *   outside 1..(the batch size), or when test_iter is empty.
 */
export async function predict_ch3(net: Module, test_iter: DataLoader, n = 6, options: PredictOptions = {}): Promise<Uint8Array> {
  checkArgCount('predict_ch3', arguments.length, 4);
  if (!(net instanceof Module)) throw invalidType('net', 'an nn.Module', net);
  if (!(test_iter instanceof DataLoader)) throw invalidType('test_iter', 'a DataLoader', test_iter);
  checkInt('n', n, { min: 1 });
  const o = parseArgs('predict_ch3', ['path'], [checkOptions('options', options)]);
  if (o.path !== undefined && typeof o.path !== 'string') throw invalidType('path', 'a file path', o.path);
  const batch = test_iter[Symbol.iterator]().next();
  if (batch.done) throw described('test_iter', 'a DataLoader with at least one batch', 'an empty one');
  const [X, y] = batch.value as [Tensor, Tensor];
  if (n > X.shape[0]) throw invalidValue('n', `at most the batch size (${X.shape[0]})`, n);
  const device = net.parameters()[0]?.device;
  const logits = no_grad(() => net.forward(device ? X.to(device) : X));
  const trues = get_fashion_mnist_labels(y);
  const preds = get_fashion_mnist_labels(logits.argmax(1));
  const titles = trues.map((t, i) => `${t}\n${preds[i]}`);
  const [, , H, W] = X.shape;
  const first = X.reshape(-1, H, W).index_select(0, arange(0, n, 1, { dtype: 'int64', device: X.device }));
  return show_images(first, 1, n, { titles: titles.slice(0, n), ...(o.path !== undefined ? { path: o.path as string } : {}) });
}
