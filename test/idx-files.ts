// Helpers of the data-set tests (test/data.test.ts, test/mnist.test.ts, test/images.test.ts): temporary folders,
// small IDX files, a mirror on 127.0.0.1 so that no test reaches the internet, and reading a rejection's message.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Tensor } from '../lib';
import type { DataLoader } from '../lib/data';

/** The four files of an IDX data set (MNIST and Fashion-MNIST name them alike). */
export const IDX_NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** A maker of temporary folders named `prefix...`, all removed after the calling test file. */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

export const labelsOf = (y: Tensor): number[] => y.tolist() as number[];

/** The first batch of one pass. */
export function first(loader: DataLoader): [Tensor, Tensor] {
  return loader[Symbol.iterator]().next().value as [Tensor, Tensor];
}

/** The message of the Error a promise rejects with (errors from native code are of another realm: compare text). */
export async function failure(promise: Promise<unknown>): Promise<string> {
  const outcome = await promise.then(
    () => undefined,
    (error: Error) => error,
  );
  if (outcome === undefined) throw new Error('expected the promise to reject, but it resolved');
  return outcome.message;
}

/** An IDX file of unsigned bytes: magic 0x0000080N, N big-endian dimensions, then the data. */
export function idx(dims: number[], data: Uint8Array, magic = 0x800 + dims.length): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/** Writes the four files (content by name), plain or gzipped, into dir; returns their paths by name. */
export function writeIdxFiles(dir: string, content: Record<string, Buffer>, gzip = false): Record<string, string> {
  fs.mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  for (const name of IDX_NAMES) {
    files[name] = path.join(dir, gzip ? `${name}.gz` : name);
    fs.writeFileSync(files[name], gzip ? zlib.gzipSync(content[name]) : content[name]);
  }
  return files;
}

export interface Mirror {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/** A mirror on 127.0.0.1 serving one folder (404 for what it lacks). */
export async function serve(dir: string): Promise<Mirror> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = path.join(dir, path.basename(new URL(req.url ?? '/', 'http://x').pathname));
    fs.stat(file, (error, stat) => {
      if (error || !stat.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': stat.size });
      fs.createReadStream(file).pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
