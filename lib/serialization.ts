/**
 * torch.save and torch.load in PyTorch's own file format: the zip archive that torch.save writes since PyTorch 1.6
 * (built and read by libtorch's PyTorchStreamWriter / PyTorchStreamReader, off the main thread) holding a protocol-2
 * pickle, data.pkl (lib/pickle.ts), and one record per tensor storage. A file saved here loads in Python with
 * `torch.load(path)` (and with weights_only=True), and one that Python saved loads here.
 */
import { stat } from 'node:fs/promises';
import { types } from 'node:util';
import type { NativeArchive, NativeTensor } from '../binding';
import { native } from './binding';
import { DeviceLike, parseDevice } from './device';
import { Call, Dict, Global, Persistent, Tuple, dumps, loads } from './pickle';
import { Dtype, Tensor } from './tensor';
import { atCaller, checkArgCount, checkBool, invalidType, invalidValue, isOptions, parseArgs } from './validate';

/**
 * What torch.save writes and torch.load gives back: tensors, numbers, bigints, strings, booleans and null, nested
 * in arrays, Maps and plain objects (a state dict is a plain object of tensors).
 */
export type Saveable =
  | Tensor | number | bigint | string | boolean | null
  | Saveable[] | Map<string | number, Saveable> | { [key: string]: Saveable };

export interface LoadOptions {
  /** Where every tensor goes: 'cpu', 'cuda:0', a torch.device. Default: where it was saved from. */
  map_location?: DeviceLike | null;
  /** Accepted for code ported from PyTorch: torch.load here only ever reads data, as weights_only=True does. */
  weights_only?: boolean;
}

// One list: PyTorch's storage class for each dtype, and the dtype's size in bytes.
const STORAGES: readonly (readonly [Dtype, string, number])[] = [
  ['float32', 'FloatStorage', 4], ['float64', 'DoubleStorage', 8], ['float16', 'HalfStorage', 2],
  ['bfloat16', 'BFloat16Storage', 2], ['int64', 'LongStorage', 8], ['int32', 'IntStorage', 4],
  ['int16', 'ShortStorage', 2], ['int8', 'CharStorage', 1], ['uint8', 'ByteStorage', 1], ['bool', 'BoolStorage', 1],
];

const REBUILD_TENSOR_V2 = new Global('torch._utils', '_rebuild_tensor_v2');
const ORDERED_DICT = new Global('collections', 'OrderedDict');

function checkPath(value: unknown): string {
  if (typeof value !== 'string') throw invalidType('f', 'a file path (a string)', value);
  if (value === '' || value.includes('\0')) throw invalidValue('f', 'a non-empty file path without NUL characters', value);
  return value;
}

// Duck-typed: a native rejection is an Error of the main realm, which instanceof misses inside a vm context (jest).
const messageOf = (e: unknown): string => {
  const message = (e as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(e);
};
const quote = (key: string | number): string => (typeof key === 'number' ? String(key) : `'${key}'`);

const SAVEABLE = 'a Tensor, a number, a bigint, a string, a boolean, null, or an array, Map or plain object of them';

// Where a value lies in obj, for messages: built only when one is needed (a path per value would cost memory).
interface Place {
  readonly parent: Place | null;
  readonly key: string | number;
}
function whereOf(place: Place | null): string {
  const keys: string[] = [];
  for (let p = place; p !== null; p = p.parent) keys.push(`[${quote(p.key)}]`);
  return `obj${keys.reverse().join('')}`;
}

const isPrimitive = (v: unknown): boolean =>
  v === null || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' || typeof v === 'boolean';

/**
 * A copy of obj's structure (dicts as Maps, in their order), checked all through; the tensors met are collected.
 * Walked with a to-do stack, not by recursion, so that any depth of nesting is saved (and loaded back).
 */
function snapshot(obj: unknown, tensors: Tensor[]): unknown {
  const root = new Map<string, unknown>();
  // A value to copy into `into` under `key`; or the end of an object's contents, after which it may appear again
  // (only an object inside itself, a cycle, is refused).
  type Job = { value: unknown; place: Place | null; into: Map<unknown, unknown> | unknown[]; key: unknown } | { close: object };
  const todo: Job[] = [{ value: obj, place: null, into: root, key: 'obj' }];
  const open = new Set<object>();
  while (todo.length > 0) {
    const job = todo.pop()!;
    if ('close' in job) {
      open.delete(job.close);
      continue;
    }
    const { value, place, into, key } = job;
    let copy: unknown = value;
    if (value instanceof Tensor) {
      if (value.is_disposed) throw new Error(`torch.save: ${whereOf(place)} is a disposed Tensor`);
      tensors.push(value);
    } else if (!isPrimitive(value)) {
      const isMap = types.isMap(value);
      if (!Array.isArray(value) && !isMap && !isOptions(value)) throw invalidType(whereOf(place), SAVEABLE, value);
      const object = value as object;
      if (open.has(object)) throw invalidValue(whereOf(place), `${SAVEABLE} (without cycles)`, 'an object that contains itself');
      open.add(object);
      todo.push({ close: object });
      const entries: [unknown, unknown][] = Array.isArray(object)
        ? Array.from(object, (item, i) => [i, item])
        : isMap ? [...(object as Map<unknown, unknown>)] : Object.keys(object).map((k) => [k, (object as Record<string, unknown>)[k]]);
      const out: Map<unknown, unknown> | unknown[] = Array.isArray(object) ? new Array(object.length) : new Map();
      if (out instanceof Map) {
        for (const [k] of entries) {
          if (isMap && typeof k !== 'string' && !Number.isSafeInteger(k)) throw invalidType(`the keys of ${whereOf(place)}`, 'strings or integers', k);
          out.set(k, undefined); // its place in the order, which setting its value keeps
        }
      }
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, item] = entries[i];
        if (!isPrimitive(item)) todo.push({ value: item, place: { parent: place, key: k as string | number }, into: out, key: k });
        else if (out instanceof Map) out.set(k, item);
        else out[i] = item;
      }
      copy = out;
    }
    if (into instanceof Map) into.set(key, copy);
    else into[key as number] = copy;
  }
  return root.get('obj');
}

/**
 * Saves `obj` to the file `f` in PyTorch's format, as torch.save: `await torch.save(net.state_dict(), 'lenet.pt')`.
 * Python reads it back with `torch.load('lenet.pt')`. A number is written as a Python int when it is a safe integer
 * and as a float otherwise. The tensors' values are copied before this returns; the file is written on a worker
 * thread. Tensors that share memory (views of one tensor) share it again when loaded.
 * @throws (as rejections, like everything here) TypeError naming the path into obj (`obj['1.weight']`) for a
 *   value that cannot be saved, or naming f; Error naming the file when it cannot be written.
 */
export async function save(obj: Saveable, f: string): Promise<void> {
  checkArgCount('save', arguments.length, 2);
  const site = new Error();
  const tensors: Tensor[] = [];
  const tree = snapshot(obj, tensors);
  const path = checkPath(f);

  const layout = native.storageLayout(tensors.map((t) => t._h));
  const keys = new Map<number, number>(); // first tensor sharing a storage -> its record, data/<key>
  const storages: NativeTensor[] = [];
  const pickled = new Map<Tensor, Call>();
  tensors.forEach((t, i) => {
    const [first, offset, stride, numel] = layout[i];
    let key = keys.get(first);
    if (key === undefined) {
      key = storages.length;
      keys.set(first, key);
      storages.push(t._h);
    }
    if (tensors[first].dtype !== t.dtype) {
      throw new Error(`torch.save: two tensors in obj share memory as ${tensors[first].dtype} and ${t.dtype}, which PyTorch's format cannot express`);
    }
    const storage = new Tuple(['storage', new Global('torch', STORAGES.find(([d]) => d === t.dtype)![1]), String(key), String(t.device), numel]);
    pickled.set(t, new Call(REBUILD_TENSOR_V2, [
      new Persistent(storage), offset, new Tuple([...t.shape]), new Tuple(stride), t.requires_grad, new Call(ORDERED_DICT, []),
    ]));
  });
  const pickle = dumps(tree, (v) => (v instanceof Tensor ? pickled.get(v) : undefined));
  try {
    await native.writeArchive(path, pickle, storages);
  } catch (e) {
    throw atCaller(e, site, `torch.save: ${messageOf(e)}`);
  }
}

// A storage as torch.load rebuilds it: its bytes on the target device, read as `dtype` (null while torch.load only
// finds out which records data.pkl names).
class Storage {
  constructor(readonly dtype: Dtype, readonly bytes: NativeTensor | null, readonly numel: number, readonly key: string) {}
}

// What a tensor stands for while its storage is not read yet.
const PENDING = Object.freeze({ pending: 'tensor' });

// What the GLOBAL of a storage class (torch.FloatStorage, ...) stands for.
class StorageType {
  constructor(readonly dtype: Dtype, readonly itemsize: number) {}
}

function checkCount(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${what} is not a non-negative integer`);
  }
  return value;
}

function checkCounts(what: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not a tuple of integers`);
  return value.map((v, i) => checkCount(`${what}[${i}]`, v));
}

// PyTorch's _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
function rebuildTensor(args: unknown[]): Tensor | typeof PENDING {
  const [storage, offsetArg, sizeArg, strideArg, requiresGrad] = args;
  if (!(storage instanceof Storage)) throw new Error('a tensor is rebuilt from something that is not a storage');
  const offset = checkCount('a tensor\'s storage offset', offsetArg);
  const size = checkCounts('a tensor\'s size', sizeArg);
  const stride = checkCounts('a tensor\'s stride', strideArg);
  if (size.length !== stride.length) throw new Error(`a tensor has size ${size} but stride ${stride}`);
  // The last element must lie inside the storage (checked in exact arithmetic: the file is not trusted).
  if (!size.includes(0)) {
    const last = size.reduce((sum, s, i) => sum + BigInt(s - 1) * BigInt(stride[i]), BigInt(offset));
    if (last >= BigInt(storage.numel)) {
      throw new Error(`a tensor of size [${size.join(', ')}], stride [${stride.join(', ')}] and offset ${offset} reaches past the end of its storage data/${storage.key} (${storage.numel} elements)`);
    }
  }
  if (storage.bytes === null) return PENDING;
  const t = new Tensor(native.fromStorage(storage.bytes, storage.dtype, size, stride, offset));
  if (requiresGrad === true) t.requires_grad = true;
  return t;
}

// Python's OrderedDict(items), as PyTorch's weights_only unpickler calls it: a REDUCE may pass the items as a list
// of (key, value) pairs or as a dict (older pickles do), which must not be dropped.
function orderedDict(args: unknown[]): Dict {
  const d = new Dict();
  if (args.length > 1) throw new Error(`OrderedDict is called with ${args.length} arguments; it takes at most one`);
  const [items] = args;
  if (items === undefined) return d;
  if (items instanceof Dict) {
    for (const [key, value] of items.entries) d.entries.set(key, value);
  } else if (Array.isArray(items)) {
    for (const pair of items) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new Error('OrderedDict is called with an item that is not a (key, value) pair');
      d.entries.set(pair[0], pair[1]);
    }
  } else {
    throw new Error('OrderedDict is called with something other than a dict or a list of (key, value) pairs');
  }
  return d;
}

/**
 * Loads what torch.save (in Node or in Python) wrote to the file `f`, as torch.load:
 * `net.load_state_dict(await torch.load('lenet.pt'))`. Dicts come back as plain objects in the file's order (a Map
 * when a key is not a string; an OrderedDict's `_metadata` is dropped), lists and tuples as arrays, Python ints as
 * numbers (bigints past 2^53), tensors with their dtype, shape and shared memory. Only data is read, as PyTorch's
 * weights_only=True does: a file holding other Python objects is refused, naming them.
 * @example const sd = await torch.load('lenet.pt', { map_location: 'cpu' });
 * @throws (as rejections) TypeError / RangeError naming f or map_location; Error naming the file when it is
 *   missing, is not a PyTorch checkpoint, or holds what cannot be loaded.
 */
export async function load<T = any>(f: string, options?: LoadOptions | DeviceLike): Promise<T> {
  checkArgCount('load', arguments.length, 2);
  const site = new Error();
  const a = parseArgs('load', ['f', 'map_location', 'weights_only'], [f, ...(options === undefined ? [] : [options])], 1);
  const path = checkPath(a.f);
  const target = a.map_location == null ? null : String(parseDevice('map_location', a.map_location));
  if (a.weights_only !== undefined) checkBool('weights_only', a.weights_only);

  let kind: string | null;
  try {
    const st = await stat(path);
    kind = st.isFile() ? null : st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device';
  } catch (e) {
    const code = (e as { code?: string }).code;
    const reason = code === 'ENOENT' ? 'no such file' : messageOf(e);
    throw atCaller(e, site, `torch.load: cannot read '${path}': ${reason}`);
  }
  // A FIFO without a writer would never settle (the native side refuses one too, should the path change meanwhile).
  if (kind !== null) throw atCaller(undefined, site, `torch.load: '${path}' is ${kind}, not a file`);

  let pickle: Uint8Array;
  let sizes: Map<string, number>;
  let archive: NativeArchive;
  try {
    const [bytes, list, opened] = await native.readArchive(path);
    [pickle, sizes, archive] = [bytes, new Map(list), opened];
  } catch (e) {
    throw atCaller(e, site, `torch.load: '${path}' is not a PyTorch checkpoint (the zip archive torch.save writes): ${messageOf(e)}`);
  }
  try {
    // data.pkl is read twice: first to learn which records it names and how large each must be (a record it does not
    // name is never read, one larger than it says is refused before it is inflated), then to rebuild the tensors.
    const plan = loadHooks(target, sizes, null);
    try {
      loads(pickle, plan);
    } catch (e) {
      native.closeArchive(archive);
      throw e;
    }
    const names = [...plan.wanted.keys()];
    const bytes = await native.readRecords(archive, names, [...plan.wanted.values()]);
    return loads(pickle, loadHooks(target, sizes, new Map(names.map((name, i) => [name, bytes[i]])))) as T;
  } catch (e) {
    throw atCaller(e, site, `torch.load: cannot load '${path}': ${messageOf(e)}`);
  }
}

/**
 * The unpickler's hooks for a checkpoint whose records declare `sizes`. Without `records` (the first pass), storages
 * are only checked, and the records they need collected in `wanted` with their sizes in bytes; with the records
 * read (the second), the tensors are built.
 */
function loadHooks(target: string | null, sizes: Map<string, number>, records: Map<string, NativeTensor> | null) {
  const storages = new Map<string, Storage>();
  const wanted = new Map<string, number>();

  const device = (location: string): string => {
    if (target !== null) return target;
    if (location === 'cpu') return location;
    if (/^cuda(:\d+)?$/.test(location)) {
      if (!native.cudaIsAvailable()) {
        throw new Error(
          'Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is false. If you are ' +
          "running on a CPU-only machine, please use torch.load with map_location: 'cpu' to map your storages to the CPU.");
      }
      return location;
    }
    throw new Error(`a storage was saved on '${location}', a device lenet-torch does not have: pass map_location`);
  };

  const persistent_load = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new Error('it names something other than a storage by persistent id');
    const [, type, key, location, numelArg] = pid;
    if (!(type instanceof StorageType) || typeof key !== 'string' || typeof location !== 'string') {
      throw new Error('a storage is named by a malformed persistent id');
    }
    const numel = checkCount(`the size of storage data/${key}`, numelArg);
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== type.dtype) throw new Error(`storage data/${key} is read both as ${known.dtype} and as ${type.dtype}`);
      return known;
    }
    const name = `data/${key}`;
    const size = sizes.get(name);
    if (size === undefined) throw new Error(`the archive has no record ${name}`);
    const nbytes = numel * type.itemsize;
    if (!Number.isSafeInteger(nbytes)) throw new Error(`storage ${name} is too large: ${numel} ${type.dtype} elements`);
    if (size !== nbytes) throw new Error(`record ${name} holds ${size} bytes, not the ${nbytes} of ${numel} ${type.dtype} elements`);
    const where = device(location);
    wanted.set(name, nbytes);
    const storage = new Storage(type.dtype, records === null ? null : native.tensorTo(records.get(name)!, where, null), numel, key);
    storages.set(key, storage);
    return storage;
  };

  const find_class = (module: string, name: string): unknown => {
    const entry = module === 'torch' ? STORAGES.find(([, s]) => s === name) : undefined;
    if (entry) return new StorageType(entry[0], entry[2]);
    switch (`${module}.${name}`) {
      case 'collections.OrderedDict':
        return (...args: unknown[]) => orderedDict(args);
      case 'torch._utils._rebuild_tensor_v2':
        return (...args: unknown[]) => rebuildTensor(args);
      case 'torch._utils._rebuild_tensor':
        return (...args: unknown[]) => rebuildTensor([...args.slice(0, 4), false]);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        // A Parameter: a tensor that requires grad (lenet-torch has no separate Parameter class).
        return (data: unknown, requiresGrad: unknown) => {
          if (data === PENDING) return data;
          if (!(data instanceof Tensor)) throw new Error('a Parameter is rebuilt from something that is not a tensor');
          if (requiresGrad === true) data.requires_grad = true;
          return data;
        };
      case 'torch.Size':
        return (dims: unknown = []) => checkCounts('a torch.Size', dims);
      default:
        throw new Error(
          `it holds a Python object that lenet-torch does not rebuild: ${module}.${name} (torch.load here reads ` +
          'tensors, dicts, lists, tuples, numbers, strings, booleans and None, as PyTorch\'s weights_only=True does)');
    }
  };

  return { find_class, persistent_load, wanted };
}
