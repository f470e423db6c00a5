/**
 * The one road from JS to every ATen operator (native/ops.cc): a Python name is bound once to an id of its
 * operator's overloads; each call passes the arguments as given (Tensors as their handles, a trailing plain object
 * as the keyword arguments) and the native side picks the overload, converts by the schema and calls the
 * dispatcher. The names and their types are generated from the schemas (./generated.ts).
 */
import type { NativeTensor } from '../../binding';
import { native, rawNative, throwIfFailed } from '../binding';
import { Device } from '../device';
import { Tensor, ValuesIndices } from '../tensor';
import { checkBool, invalidValue, isOptions, parseArgs } from '../validate';
import { OP_NAMES } from './generated';
import { ReturnTuple } from './types';

export type { FftOps, FunctionalOps, LinalgOps, SpecialOps, TensorOps, TorchOps } from './generated';
export type { Layout, MemoryFormat, NamedTuple } from './types';
export { ReturnTuple } from './types';

// The addon's own callOp, without lib/binding.ts's throwing wrapper (a rest-args apply per call): this file throws
// the Error it returns itself (wrap(), through throwIfFailed), the one place that reads its results.
const rawCallOp = rawNative.callOp;

/** A JS argument as the native side takes it: a Tensor as its handle, a Device as its name, arrays of them. */
function unwrap(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Tensor) return value._h;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v instanceof Tensor || v instanceof Device || Array.isArray(v)) return value.map(unwrap);
    }
    return value;
  }
  if (value instanceof Device) return value.toString();
  return value;
}

function unwrapOptions(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(options)) out[key] = unwrap(options[key]);
  return out;
}

/**
 * A native result as JS: a handle as a Tensor (the very Tensor passed in, for in-place ops and out=), arrays
 * element by element, named results as a NamedTuple.
 *
 * A handle (native/tensor.h) is a BigInt inside torch.tidy(), the one BigInt callOp returns (an int64 comes back as a
 * number), or a napi External outside it, the one object callOp returns without a prototype (its others are arrays,
 * plain objects, Maps and Errors): those checks are the cheapest there are, cheaper than a native isTensorHandle call
 * on every result. (`instanceof Object` would be cheaper still, but is false for every object of the addon's when the
 * caller runs in another realm, as jest's tests do.)
 */
function wrap(op: string, result: unknown, self: Tensor | undefined, options: Record<string, unknown> | null): unknown {
  if (typeof result !== 'object' || result === null) {
    return typeof result === 'bigint' ? tensorOf(result as unknown as NativeTensor, self, options) : result;
  }
  if (Object.getPrototypeOf(result) === null) return tensorOf(result as NativeTensor, self, options);
  if (Array.isArray(result)) return result.map((r) => wrap(op, r, self, options));
  throwIfFailed(result);
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(result)) fields[key] = wrap(op, (result as Record<string, unknown>)[key], self, options);
  const keys = Object.keys(fields);
  if (keys.length === 2 && keys[0] === 'values' && keys[1] === 'indices') {
    return new ValuesIndices(op, fields.values as Tensor, fields.indices as Tensor);
  }
  return new ReturnTuple(op, fields);
}

/** A result's handle as a Tensor: the very Tensor passed in when it is one's (in-place ops and out=), else a new one. */
function tensorOf(handle: NativeTensor, self: Tensor | undefined, options: Record<string, unknown> | null): Tensor {
  if (self !== undefined && handle === self._h) return self;
  if (options !== null) {
    const out = options.out;
    if (out instanceof Tensor && out._h === handle) return out;
    if (Array.isArray(out)) for (const o of out) if (o instanceof Tensor && o._h === handle) return o;
  }
  return new Tensor(handle);
}

/** Calls operator `id` (opLookup) with Python-style arguments: positional values, then an optional options object. */
export function callOp(id: number, op: string, self: Tensor | undefined, args: readonly unknown[]): unknown {
  let n = args.length;
  // f(x, undefined) is f(x), as JS defaults read it.
  while (n > 0 && args[n - 1] === undefined) n--;
  let options: Record<string, unknown> | null = null;
  const last = n > 0 ? args[n - 1] : undefined;
  if (typeof last === 'object' && last !== null && !(last instanceof Tensor) && isOptions(last)) {
    options = last;
    n--;
  }
  // 0 for none (binding.d.ts says why).
  const kwargs = options === null ? 0 : unwrapOptions(options);
  const handle = self === undefined ? 0 : self._h;
  let result: unknown;
  switch (n) {
    // The common arities without an intermediate array.
    case 0: result = rawCallOp(id, kwargs, handle); break;
    case 1: result = rawCallOp(id, kwargs, handle, unwrap(args[0])); break;
    case 2: result = rawCallOp(id, kwargs, handle, unwrap(args[0]), unwrap(args[1])); break;
    default: {
      const rest = new Array<unknown>(n);
      for (let i = 0; i < n; i++) rest[i] = unwrap(args[i]);
      result = rawCallOp(id, kwargs, handle, ...rest);
    }
  }
  return wrap(op, result, self, options);
}

/** The function `display` (torch.add, torch.nn.functional.relu, ...) over aten operator `aten`, or null. */
export function operator(aten: string, display: string): ((...args: unknown[]) => unknown) | null {
  const id = native.opLookup(aten, display);
  if (id < 0) return null;
  const fn = (...args: unknown[]): unknown => callOp(id, aten, undefined, args);
  Object.defineProperty(fn, 'name', { value: display.slice(display.lastIndexOf('.') + 1) });
  return fn;
}

/** The method Tensor.`name` over aten operator `aten`, or null. */
export function method(aten: string, name: string): ((this: Tensor, ...args: unknown[]) => unknown) | null {
  const id = native.opLookup(aten, `Tensor.${name}`);
  if (id < 0) return null;
  const fn = function (this: Tensor, ...args: unknown[]): unknown {
    return callOp(id, aten, this, args);
  };
  Object.defineProperty(fn, 'name', { value: name });
  return fn;
}

const DISPLAY: Record<string, string> = {
  torch: 'torch', functional: 'torch.nn.functional', linalg: 'torch.linalg', special: 'torch.special', fft: 'torch.fft',
};

const REDUCTIONS = ['none', 'mean', 'sum'];

/**
 * An nn.functional function PyTorch writes in Python over operator `aten` (F.elu(input, alpha, inplace), F.l1_loss(
 * input, target, size_average, reduce, reduction)): its arguments read by its own parameters, inplace= choosing
 * aten's X_, reduction='mean' turned into the operator's int, then one call with everything by name.
 */
function pythonFunction(py: string, aten: string, params: readonly (readonly [string, boolean])[]): ((...args: unknown[]) => unknown) | null {
  const display = `torch.nn.functional.${py}`;
  const fn = operator(aten, display);
  const fnInplace = params.some(([n]) => n === 'inplace') ? operator(`${aten}_`, display) : null;
  if (!fn) return null;
  const names = params.map(([n]) => n);
  const required = params.filter(([, r]) => r).length;
  const adapter = (...args: unknown[]): unknown => {
    const a = parseArgs(display, names, args, required);
    let target = fn;
    if (a.inplace !== undefined && checkBool('inplace', a.inplace) && fnInplace) target = fnInplace;
    delete a.inplace;
    for (const legacy of ['size_average', 'reduce']) {
      if (a[legacy] !== undefined && a[legacy] !== null) {
        throw new TypeError(`${display}(): ${legacy} is deprecated in PyTorch and not taken here: use reduction ('none', 'mean' or 'sum')`);
      }
      delete a[legacy];
    }
    if (a.reduction !== undefined) {
      const r = REDUCTIONS.indexOf(a.reduction as string);
      if (r < 0) throw invalidValue('reduction', "'none', 'mean' or 'sum'", a.reduction);
      a.reduction = r;
    }
    return target(a);
  };
  Object.defineProperty(adapter, 'name', { value: py });
  return adapter;
}

/** The generated functions of one namespace (torch, functional, linalg, special, fft), by Python name. */
export function namespace(section: string): Record<string, (...args: unknown[]) => unknown> {
  const fns: Record<string, (...args: unknown[]) => unknown> = {};
  for (const entry of OP_NAMES[section]) {
    const [py, aten] = typeof entry === 'string' ? [entry, entry] : entry;
    const fn = typeof entry !== 'string' && entry.length === 3
      ? pythonFunction(py, aten, entry[2])
      : operator(aten, `${DISPLAY[section]}.${py}`);
    if (fn) fns[py] = fn;
  }
  return fns;
}

/** Puts the generated methods on Tensor.prototype, except those written by hand in lib/tensor.ts. */
export function installTensorMethods(): void {
  for (const entry of OP_NAMES.Tensor) {
    const [py, aten] = typeof entry === 'string' ? [entry, entry] : [entry[0], entry[1]];
    if (Object.prototype.hasOwnProperty.call(Tensor.prototype, py)) continue;
    const fn = method(aten, py);
    if (fn) Object.defineProperty(Tensor.prototype, py, { value: fn, writable: true, configurable: true });
  }
}

// The methods are on Tensor.prototype as soon as anything loads this road.
installTensorMethods();
