/**
 * The machinery behind d2l.load_data_fashion_mnist and d2l.load_data_mnist: two data sets of the same shape (four IDX
 * files of 28x28 images and labels 0..9), told apart only by an IdxDataSet (file checksums, mirror, where to look).
 * The files are found on disk or downloaded once, checked, decoded into native memory and batched natively.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { NativeBatchSource } from '../../binding';
import { native } from '../binding';
import { DataLoader, Dataset } from '../data';
import { DeviceLike, parseDevice } from '../device';
import { Tensor } from '../tensor';
import { checkBool, checkOptions, checkPair, invalidType, invalidValue, parseArgs } from '../validate';

const gunzip = promisify(zlib.gunzip);

export interface FileSpec {
  name: string;
  /** IDX dimensions after the count: [28, 28] for images, [] for labels. */
  dims: number[];
  /** MD5 of the published .gz (torchvision's table). */
  gzMd5: string;
  /** SHA-256 of the decompressed IDX bytes, where known: the same data whichever gzip packed it (Debian recompresses). */
  sha256?: string;
}

export type Key = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';
const KEYS: Key[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

/** One data set of four IDX files: everything that tells Fashion-MNIST and MNIST apart. */
export interface IdxDataSet {
  /** Its name in messages: 'Fashion-MNIST'. */
  name: string;
  /** The d2l function that loads it, for argument errors: 'load_data_fashion_mnist'. */
  fn: string;
  /** torchvision's folder under a root (d2l's ../data): 'FashionMNIST' (the files are in its raw/). */
  d2lDir: string;
  /** The environment variables naming a folder holding the files, and a mirror. */
  envDir: string;
  envMirror: string;
  /** The published mirror. */
  mirror: string;
  /** The download cache's folder under ~/.cache/lenet-torch. */
  cache: string;
  /** The Debian package shipping the files, and where it puts them, if there is one. */
  debian?: { pkg: string; dir: string };
  files: Record<Key, FileSpec>;
}

/** The options both loaders take. */
export interface LoadIdxOptions {
  /** Resize the images (bilinear, as torchvision's Resize): an int or [h, w]; 224 for AlexNet. */
  resize?: number | [number, number] | null;
  /** Look only here (and in root/<torchvision's folder>/raw), and download here when the files are missing. */
  root?: string;
  /** Keep the whole data set on this device; batches come out there. Default: the CPU. */
  device?: DeviceLike;
  /** Download the files when no folder holds them (default true). */
  download?: boolean;
  /** Where to download from (default: the data set's mirror variable, else its published mirror). */
  mirror?: string;
}

/** The decoded content of one IDX file of unsigned bytes: its dimensions and a uint8 tensor of [N, ...dims]. */
interface Idx {
  dims: number[];
  data: Tensor;
}

/** deflate's largest ratio of output to input: 258-byte matches coded in about 2 bits each, ~1032:1. */
const MAX_DEFLATE_RATIO = 1032;

/**
 * Decodes an IDX file of unsigned bytes (gunzipping it on the fly when it is gzipped) straight into a uint8 tensor,
 * chunk by chunk, so the file is never held whole in a JS buffer; checks everything a damaged or wrong file could
 * get wrong, and names the file in the error. What the header promises is checked against the file before anything
 * is allocated (a plain file must hold exactly that many bytes, a gzip file could hold at most ~1032x its size),
 * and inflating stops as soon as the data runs past the promise, so a forged header or a gzip bomb costs nothing.
 */
export async function readIdx(file: string, expectedDims: number[]): Promise<Idx> {
  const ndim = expectedDims.length + 1;
  const magic = 0x800 + ndim;
  const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;
  const headerSize = 4 + 4 * ndim;
  const handle = await fs.open(file);
  const first = Buffer.alloc(2);
  let size: number;
  let bytesRead: number;
  try {
    size = (await handle.stat()).size;
    ({ bytesRead } = await handle.read(first, 0, 2, 0));
  } finally {
    await handle.close();
  }
  const gzipped = bytesRead === 2 && first[0] === 0x1f && first[1] === 0x8b;
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream: NodeJS.ReadableStream = gzipped ? input.pipe(zlib.createGunzip({ chunkSize: 1 << 20 })) : input;
  if (gzipped) input.on('error', (error) => (stream as zlib.Gunzip).destroy(error));

  let header = Buffer.alloc(0);
  let dims: number[] | undefined;
  let tensor: Tensor | undefined;
  let expected = 0;
  let written = 0;
  const promise = (holds: string) => `the header promises ${expected} bytes of data ([${dims!.join(', ')}]) but ${holds}`;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let data = chunk;
      if (!dims) {
        header = Buffer.concat([header, chunk]);
        if (header.length >= 4 && header.readUInt32BE(0) !== magic) {
          throw new Error(`${file}: bad magic number ${hex(header.readUInt32BE(0))}, expected ${hex(magic)} (IDX, unsigned bytes, ${ndim} dimension${ndim > 1 ? 's' : ''})`);
        }
        if (header.length < headerSize) continue;
        dims = Array.from({ length: ndim }, (_, i) => header.readUInt32BE(4 + 4 * i));
        if (expectedDims.some((d, i) => dims![i + 1] !== d)) {
          throw new Error(`${file}: wrong dimensions [${dims.join(', ')}], expected [N, ${expectedDims.join(', ')}]`);
        }
        expected = dims.reduce((a, b) => a * b, 1);
        if (!gzipped && headerSize + expected !== size) {
          const fault = headerSize + expected > size ? 'truncated' : 'corrupt';
          throw new Error(`${file}: ${fault}: ${promise(`the file holds ${size - headerSize}`)}`);
        }
        if (gzipped && headerSize + expected > size * MAX_DEFLATE_RATIO) {
          throw new Error(`${file}: truncated: ${promise(`a gzip file of ${size} bytes holds at most ${size * MAX_DEFLATE_RATIO}`)}`);
        }
        // Every byte is written below before the tensor is used (or it is dropped with an Error): no zero-fill.
        tensor = new Tensor(native.empty(ndim === 3 ? [dims[0], 1, dims[1], dims[2]] : dims, 'uint8', null));
        data = header.subarray(headerSize);
      }
      if (written + data.length > expected) {
        throw new Error(`${file}: corrupt: ${promise('the file holds more')}`);
      }
      if (data.length > 0) native.copyInto(tensor!._h, written, data);
      written += data.length;
    }
  } catch (error) {
    // Stop reading and inflating now, whatever the fault.
    input.destroy();
    if (gzipped) (stream as zlib.Gunzip).destroy();
    const e = error as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && e.code.startsWith('Z_')) throw new Error(`${file}: not a valid gzip file (${e.message})`);
    throw error;
  }
  if (!dims) {
    if (header.length < 4) throw new Error(`${file}: truncated: ${header.length} bytes, too short for an IDX header`);
    throw new Error(`${file}: truncated: the IDX header needs ${headerSize} bytes, the file has ${header.length}`);
  }
  if (written !== expected) throw new Error(`${file}: truncated: ${promise(`the file holds ${written}`)}`);
  return { dims, data: tensor! };
}

/** One split of an IDX data set in native memory: uint8 images, int64 labels, and the ToTensor / Resize transform. */
class IdxDataset implements Dataset {
  readonly length: number;
  private readonly x: Tensor;
  private readonly y: Tensor;
  private readonly resize: [number, number] | null;

  constructor(images: Idx, labels: Idx, resize: [number, number] | null, device: string | null, files: [string, string]) {
    const n = images.dims[0];
    if (labels.dims[0] !== n) {
      throw new Error(`${files[0]} holds ${n} images but ${files[1]} holds ${labels.dims[0]} labels: the counts must match`);
    }
    if (n > 0 && Number(labels.data.max().item()) > 9) {
      const at = Number(labels.data.argmax().item());
      throw new Error(`${files[1]}: label ${Number(labels.data.max().item())} at index ${at} is not a class 0..9`);
    }
    this.length = n;
    this.x = device ? images.data.to(device) : images.data;
    this.y = labels.data.to(device ?? 'cpu', 'int64');
    this.resize = resize;
  }

  /** @internal */
  _source(): NativeBatchSource {
    return { x: this.x._h, y: this.y._h, scale: 1 / 255, resize: this.resize };
  }
}

/** Which of the four files `dir` holds (each plain or .gz), and which it lacks. */
async function lookIn(FILES: Record<Key, FileSpec>, dir: string): Promise<{ files: Partial<Record<Key, string>>; missing: string[] }> {
  const files: Partial<Record<Key, string>> = {};
  const missing: string[] = [];
  for (const key of KEYS) {
    const candidates = [`${FILES[key].name}.gz`, FILES[key].name].map((f) => path.join(dir, f));
    const hits = await Promise.all(candidates.map((f) => fs.stat(f).then((s) => s.isFile(), () => false)));
    const hit = candidates.find((_, i) => hits[i]);
    if (hit) files[key] = hit;
    else missing.push(FILES[key].name);
  }
  return { files, missing };
}

function cacheDir(set: IdxDataSet): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'lenet-torch', set.cache);
}

function progressLine(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
}

/** Downloads one file into dir, checking it against the published checksums before it gets its final name. */
async function download(mirror: string, spec: FileSpec, dir: string): Promise<string> {
  const url = new URL(`${spec.name}.gz`, mirror.endsWith('/') ? mirror : `${mirror}/`).toString();
  const target = path.join(dir, `${spec.name}.gz`);
  const partial = `${target}.part`;
  const response = await fetch(url, { signal: AbortSignal.timeout(10 * 60 * 1000) }).catch((error: Error) => {
    // fetch's own message is a bare 'fetch failed'; the reason (ECONNREFUSED, ENOTFOUND, a timeout) is its cause.
    const cause = (error.cause as Error | undefined)?.message;
    throw new Error(`GET ${url}: ${error.message}${cause ? ` (${cause})` : ''}`);
  });
  if (!response.ok || !response.body) throw new Error(`GET ${url}: HTTP ${response.status} ${response.statusText}`);
  const total = Number(response.headers.get('content-length')) || 0;
  const md5 = createHash('md5');
  let received = 0;
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  body.on('data', (chunk: Buffer) => {
    md5.update(chunk);
    received += chunk.length;
    const mb = (received / 1e6).toFixed(1);
    progressLine(`Downloading ${spec.name}.gz: ${mb}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`);
  });
  if (!process.stderr.isTTY) console.error(`Downloading ${url}`);
  await pipeline(body, createWriteStream(partial));
  progressLine('');
  const gz = await fs.readFile(partial);
  const content = gz[0] === 0x1f && gz[1] === 0x8b ? await gunzip(gz).catch(() => gz) : gz;
  const sha256 = createHash('sha256').update(content).digest('hex');
  if (md5.digest('hex') !== spec.gzMd5 && sha256 !== spec.sha256) {
    await fs.rm(partial, { force: true });
    throw new Error(`${url}: checksum mismatch (the file is not the published ${spec.name}.gz)`);
  }
  await fs.rename(partial, target);
  console.error(`Downloaded ${spec.name}.gz (${(received / 1e6).toFixed(1)} MB) from ${url}`);
  return target;
}


/**
 * Finds (or downloads), checks and loads one IdxDataSet: [train_iter, test_iter]. batch_size is already checked and
 * options is the caller's options argument, checked here.
 */
/** The largest side resize takes, and the most one resized batch may hold. */
const MAX_RESIZE = 4096;
const MAX_BATCH_BYTES = 4 * 2 ** 30;

export async function loadIdxDataSet(set: IdxDataSet, batch_size: number, options: unknown): Promise<[DataLoader, DataLoader]> {
  const FILES = set.files;
  const o = parseArgs(set.fn, ['resize', 'root', 'device', 'download', 'mirror'], [checkOptions('options', options)]);
  const resize = o.resize == null ? null : checkPair('resize', o.resize, { min: 1 });
  if (resize) {
    // Resized per batch as it is drawn: what has to fit is one batch. 28-pixel images blown past 4096 pixels a side
    // (146x) are a mistake, and so is a batch of more than 4 GiB of floats.
    if (resize[0] > MAX_RESIZE || resize[1] > MAX_RESIZE) throw invalidValue('resize', `at most ${MAX_RESIZE} pixels a side`, o.resize);
    const bytes = batch_size * resize[0] * resize[1] * 4;
    if (bytes > MAX_BATCH_BYTES) {
      throw invalidValue('resize', `small enough for a batch of ${batch_size} to fit in 4 GiB (this one would take ${(bytes / 2 ** 30).toFixed(1)} GiB)`, o.resize);
    }
  }
  if (o.root !== undefined && typeof o.root !== 'string') throw invalidType('root', 'a folder path', o.root);
  const device = o.device === undefined ? null : String(parseDevice('device', o.device));
  const allowDownload = checkBool('download', o.download ?? true);
  if (o.mirror !== undefined && typeof o.mirror !== 'string') throw invalidType('mirror', 'a URL', o.mirror);
  const mirror = (o.mirror as string | undefined) ?? process.env[set.envMirror] ?? set.mirror;

  const root = o.root as string | undefined;
  const places: [string, string][] = root
    ? [[path.resolve(root), 'root'], [path.resolve(root, set.d2lDir, 'raw'), 'root, d2l layout']]
    : [
        ...(process.env[set.envDir] ? [[path.resolve(process.env[set.envDir]!), `$${set.envDir}`] as [string, string]] : []),
        [path.resolve('..', 'data', set.d2lDir, 'raw'), "d2l's ../data"],
        ...(set.debian ? [[set.debian.dir, `Debian package ${set.debian.pkg}`] as [string, string]] : []),
        [cacheDir(set), 'download cache'],
      ];
  const searched: string[] = [];
  let found: Record<Key, string> | undefined;
  for (const [dir, why] of places) {
    const { files, missing } = await lookIn(FILES, dir);
    if (missing.length === 0) {
      found = files as Record<Key, string>;
      break;
    }
    searched.push(`  ${dir} (${why}): ${missing.length === KEYS.length ? 'no files' : `missing ${missing.join(', ')}`}`);
  }
  if (!found) {
    const into = root ? path.resolve(root, set.d2lDir, 'raw') : cacheDir(set);
    let failure = 'downloading is off (download: false)';
    if (allowDownload) {
      try {
        await fs.mkdir(into, { recursive: true });
        const { files } = await lookIn(FILES, into);
        for (const key of KEYS) files[key] ??= await download(mirror, FILES[key], into);
        found = files as Record<Key, string>;
      } catch (error) {
        failure = `downloading from ${mirror} into ${into} failed: ${(error as Error).message}`;
      }
    }
    if (!found) {
      throw new Error(
        `${set.name} was not found. Searched for ${Object.values(FILES).map((f) => `${f.name}[.gz]`).join(', ')} in:\n` +
          `${searched.join('\n')}\nand ${failure}.\n` +
          `To get the files: ${set.debian ? `sudo apt-get install ${set.debian.pkg} (Debian/Ubuntu), or ` : ''}put them in a folder and ` +
          `set ${set.envDir} to it, or pass {root: folder}.`,
      );
    }
  }
  const f = found;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readIdx(f.trainImages, FILES.trainImages.dims),
    readIdx(f.trainLabels, FILES.trainLabels.dims),
    readIdx(f.testImages, FILES.testImages.dims),
    readIdx(f.testLabels, FILES.testLabels.dims),
  ]);
  const train = new IdxDataset(trainImages, trainLabels, resize, device, [f.trainImages, f.trainLabels]);
  const test = new IdxDataset(testImages, testLabels, resize, device, [f.testImages, f.testLabels]);
  return [new DataLoader(train, { batch_size, shuffle: true }), new DataLoader(test, { batch_size, shuffle: false })];
}
