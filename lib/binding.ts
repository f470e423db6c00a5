/**
 * The only file that loads the native addon. If it cannot, require('lenet-torch') throws one Error that names the
 * path, the cause and the fix (sharp's loader is the model), rather than a bare dlopen or MODULE_NOT_FOUND trace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Binding } from '../binding';

/** Where the addon is looked for: $LENET_TORCH_BINARY, else build/Release/ in this package. */
export const bindingPath =
  process.env.LENET_TORCH_BINARY || path.join(__dirname, '..', 'build', 'Release', 'lenet_torch.node');

function explain(error: NodeJS.ErrnoException): Error {
  const message = String(error.message).split('\n')[0];
  let cause: string;
  let fix: string;
  if (error.code === 'MODULE_NOT_FOUND' || /cannot find module/i.test(message)) {
    cause = 'the native addon has not been built';
    fix =
      'install the system packages (Debian/Ubuntu, as root or with sudo: ' +
      'apt-get install -y cmake g++ make libtorch-dev libopenblas0-openmp), ' +
      'then run `npm rebuild lenet-torch` (or `npm run build` in a checkout)';
  } else if (/lib(torch|c10|torch_cpu|torch_cuda)[^ ]*\.so/.test(message)) {
    cause = `libtorch's shared libraries could not be loaded (${message})`;
    fix =
      'install the libtorch the addon was built against (Debian, as root or with sudo: apt-get install -y libtorch-dev), ' +
      'or add its lib/ folder to LD_LIBRARY_PATH, or rebuild with `npm rebuild lenet-torch`';
  } else {
    cause = message;
    fix = 'rebuild the addon for this Node.js and libtorch with `npm rebuild lenet-torch`';
  }
  const wrapped = new Error(`lenet-torch could not load its native addon at ${bindingPath}: ${cause}.\nFix: ${fix}.`);
  (wrapped as Error & { cause?: unknown }).cause = error;
  return wrapped;
}

/**
 * @internal Whether a Node.js version (`'v22.13.0'`) is in an engines range of `^X.Y.Z` and `>=X.Y.Z` terms joined
 * by `||` (the only forms package.json uses).
 */
export function nodeSatisfies(version: string, range: string): boolean {
  const parse = (v: string) => v.replace(/^v/, '').split('.').map(Number);
  const atLeast = (a: number[], b: number[]) => a[0] !== b[0] ? a[0] > b[0] : a[1] !== b[1] ? a[1] > b[1] : a[2] >= b[2];
  const have = parse(version);
  return range.split('||').map((term) => term.trim()).some((term) => {
    const m = /^(\^|>=)(\d+\.\d+\.\d+)$/.exec(term);
    if (!m) throw new Error(`lenet-torch: cannot read the engines term '${term}' in package.json`);
    const min = parse(m[2]);
    return atLeast(have, min) && (m[1] === '>=' || have[0] === min[0]);
  });
}

/**
 * @internal Refuses a Node.js outside package.json's engines range before the addon is loaded. The addon declares
 * the experimental Node-API version so that Node runs its finalizers (which free libtorch memory) inside garbage
 * collection; Node 18.19-18.20, 20.10-20.18.2, 21, 22.0-22.12 and 23.0-23.4 run them there but abort the process
 * when they delete their napi_wrap reference (nodejs/node#55620 allowed it), and older Node defers them to the event
 * loop, so a synchronous loop without dispose() grows by gigabytes.
 */
export function checkNode(version: string = process.version): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { engines: { node: string } };
  const range = pkg.engines.node;
  if (nodeSatisfies(version, range)) return;
  throw new Error(
    `lenet-torch does not run on Node.js ${version}: it needs ${range}. Its native addon frees tensors inside ` +
      'garbage collection (Node-API finalizers run synchronously), which this Node.js either aborts on ' +
      '("Finalizer is calling a function that may affect GC state") or defers, so loops that never call dispose() ' +
      'grow by gigabytes.\nFix: install a Node.js in that range (the current 22.x or 24.x, say).',
  );
}

/** The property where a native constructor that failed leaves its Error, and the mark of an Error that a native
 * call returns (native/errors.h, kConstructionError and kNativeError). */
const kConstructionError = '__lenetTorchConstructionError';
const kNativeError = '__lenetTorchError';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** Marks the wrappers, so that a class's prototype (shared by every load of the addon in a process, as under jest's
 * per-file module registries) is wrapped once. */
const kThrowing = Symbol.for('lenet-torch.throwing');

const ERRORS: Record<string, ErrorConstructor> = { TypeError, RangeError, Error };

/**
 * The addon makes its Errors in the main realm; code in another (a vm context, as jest runs tests in) would find
 * `instanceof TypeError` false. So a TypeError, RangeError or Error is re-made here, in this module's realm, with the
 * same message, stack and own properties (the failure path only).
 */
function ofThisRealm(error: Error): Error {
  const { name, message, stack } = error;
  const ctor = ERRORS[name] ?? Error;
  if ((error as unknown) instanceof ctor) return error;
  const copy = new ctor(message);
  Object.assign(copy, error);
  copy.stack = stack;
  return copy;
}

/** A native function or method that throws the Error it returns (native/errors.h says why they return it). */
function throwing(fn: AnyFunction): AnyFunction {
  if ((fn as unknown as Record<symbol, boolean>)[kThrowing]) return fn;
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const result = fn.apply(this, args);
    throwIfFailed(result);
    return result;
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  Object.defineProperty(wrapped, kThrowing, { value: true });
  return wrapped;
}

/** A native class whose methods and constructor throw what they report (the class itself is unchanged). */
function throwingClass(cls: new (...args: unknown[]) => object): new (...args: unknown[]) => object {
  for (const key of Object.getOwnPropertyNames(cls.prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, key)!;
    if (key !== 'constructor' && typeof descriptor.value === 'function') {
      Object.defineProperty(cls.prototype, key, { ...descriptor, value: throwing(descriptor.value as AnyFunction) });
    }
  }
  // Called with `new`, a function that returns an object yields that object: the native instance, of the native
  // class (the addon checks instanceof against it).
  const construct = function (...args: unknown[]): object {
    const instance = new cls(...args) as Record<string, unknown>;
    const error = instance[kConstructionError];
    if (error !== undefined) throw ofThisRealm(error as Error);
    return instance;
  };
  Object.defineProperty(construct, 'name', { value: cls.name });
  construct.prototype = cls.prototype;
  return construct as unknown as new (...args: unknown[]) => object;
}

/** @internal Makes every native entry point throw its failures (see native/errors.h). */
export function throwingBinding(raw: Record<string, unknown>): Binding {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'function') {
      out[name] = value;
    } else if (Object.getOwnPropertyNames(value.prototype ?? {}).length > 1) {
      out[name] = throwingClass(value as new (...args: unknown[]) => object); // a class: methods beside constructor
    } else {
      out[name] = throwing(value as AnyFunction);
    }
  }
  return out as unknown as Binding;
}

function load(): Record<string, unknown> {
  checkNode();
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(bindingPath) as Record<string, unknown>;
  } catch (error) {
    throw explain(error as NodeJS.ErrnoException);
  }
}

/**
 * @internal The addon's own exports, whose failures come back as results: for the one hot path (lib/ops) that skips
 * the throwing wrapper and calls throwIfFailed itself.
 */
export const rawNative = load() as unknown as Binding;

/** @internal Throws `result` when it is an Error a native call returned (see throwing()). */
export function throwIfFailed(result: unknown): void {
  if (typeof result === 'object' && result !== null && (result as Record<string, unknown>)[kNativeError] === true) {
    throw ofThisRealm(result as Error);
  }
}

export const native: Binding = throwingBinding(rawNative as unknown as Record<string, unknown>);
