/**
 * torch.jit: TorchScript modules, PyTorch's way of running a model without its Python code. torch.jit.load reads a
 * file that Python's torch.jit.save (or this package's) wrote; torch.jit.trace records a lenet-torch net's forward
 * into one that Python's torch.jit.load reads. A ScriptModule's methods run on libuv's thread pool and return
 * Promises, so a server's event loop keeps serving while a model runs, and several calls may run at once.
 */
import { stat } from 'node:fs/promises';
import { types } from 'node:util';
import type { NativeScriptModule, NativeTensor } from '../binding';
import { native } from './binding';
import { DeviceLike, parseDevice } from './device';
import { inspectCustom } from './format';
import { markGradModeTaken } from './grad_mode';
import { IncompatibleKeys, Module, StateDict, loadStateDict } from './nn/module';
import { Dtype, parseTo, Tensor, ToOptions } from './tensor';
import { atCaller, checkArgCount, checkBool, invalidType, invalidValue, isOptions, parseArgs } from './validate';

export interface JitLoadOptions {
  /** Where every tensor goes: 'cpu', 'cuda:0', a torch.device. Default: where it was saved from. */
  map_location?: DeviceLike | null;
}

// Duck-typed: a native rejection is an Error of the main realm, which instanceof misses inside a vm context (jest).
const messageOf = (e: unknown): string => {
  const message = (e as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(e);
};

function checkPath(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidType(name, 'a file path (a string)', value);
  if (value === '' || value.includes('\0')) throw invalidValue(name, 'a non-empty file path without NUL characters', value);
  return value;
}

// JS values to what the native conversion takes: tensors as their handles, through arrays, Maps and plain objects.
function toNative(value: unknown, where: string): unknown {
  if (value instanceof Tensor) {
    if (value.is_disposed) throw new Error(`${where} is a disposed Tensor`);
    return value._h;
  }
  if (Array.isArray(value)) return value.map((v, i) => toNative(v, `${where}[${i}]`));
  if (types.isMap(value)) {
    return new Map([...(value as Map<unknown, unknown>)].map(([k, v]) => [k, toNative(v, `${where}[${String(k)}]`)]));
  }
  if (isOptions(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toNative(v, `${where}['${k}']`)]));
  return value;
}

// And back: tensor handles as Tensors (native Maps and objects are of the main realm: no instanceof).
function fromNative(value: unknown): unknown {
  if (native.isTensorHandle(value)) return new Tensor(value);
  if (Array.isArray(value)) return value.map(fromNative);
  if (types.isMap(value)) return new Map([...(value as Map<unknown, unknown>)].map(([k, v]) => [k, fromNative(v)]));
  if (isOptions(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromNative(v)]));
  return value;
}

/**
 * A TorchScript module, as torch.jit.ScriptModule: what torch.jit.load and torch.jit.trace give. Its methods take
 * and give tensors, numbers, strings, booleans, arrays (lists and tuples), Maps (dicts) and null (None), as its
 * schema says; they run off the main thread and return Promises.
 */
export class ScriptModule {
  /** @internal the native module */
  readonly _h: NativeScriptModule;

  /** @internal use torch.jit.load or torch.jit.trace */
  constructor(handle: NativeScriptModule) {
    this._h = handle;
  }

  /**
   * Runs the module's forward: `const logits = await model.forward(X)`, as PyTorch's `model(X)`. Grad mode is the
   * caller's when the call is made: `await torch.no_grad(() => model.forward(X))` records nothing (what a server
   * wants); outside no_grad, the output of a traced net can be back-propagated.
   * @throws (as rejections) TypeError naming the schema for arguments of the wrong count or type; Error with
   *   TorchScript's message when the method fails (a shape mismatch, an exception raised in the script).
   */
  forward(...inputs: unknown[]): Promise<any> {
    return this._run('forward', 'forward', inputs);
  }

  /**
   * Runs the method `name` (one exported with @torch.jit.export, say): `await model.run_method('embed', X)`.
   * @throws (as rejections) as forward(), and Error listing the module's methods when it has no method `name`.
   */
  run_method(name: string, ...args: unknown[]): Promise<any> {
    if (typeof name !== 'string') return Promise.reject(invalidType('name', 'a method name (a string)', name));
    return this._run(name, `run_method('${name}')`, args);
  }

  /** @internal a method call: its promise, which torch.no_grad may return */
  _run(name: string, callee: string, args: unknown[]): Promise<unknown> {
    return markGradModeTaken(this._call(name, callee, args));
  }

  /** @internal */
  async _call(name: string, callee: string, args: unknown[]): Promise<unknown> {
    const site = new Error();
    const [schema, min, max] = this._h.signature(name);
    if (args.length < min || args.length > max) {
      const takes = min === max ? `${max} argument${max === 1 ? '' : 's'}` : `${min} to ${max} arguments`;
      throw new TypeError(`${name}() takes ${takes} (${schema}) but ${args.length} ${args.length === 1 ? 'was' : 'were'} given`);
    }
    // Converted on this thread, before the call is queued: a TypeError naming the schema rejects at once.
    const pending = this._h.runMethod(name, args.map((a, i) => toNative(a, `argument ${i + 1}`)));
    try {
      return fromNative(await pending);
    } catch (e) {
      throw atCaller(e, site, `ScriptModule.${callee}: ${messageOf(e)}`);
    }
  }

  /** The TorchScript source of forward, as PyTorch's `model.code`. */
  get code(): string {
    return this._h.code();
  }

  /** forward's graph, as PyTorch's `str(model.graph)`. */
  get graph(): string {
    return this._h.graph();
  }

  /** Whether the module is in training mode (see train() and eval()). */
  get training(): boolean {
    return this._h.isTraining();
  }

  /**
   * Training mode on (default) or off, for the module and every submodule (scripted code may branch on it).
   * @throws Error while method calls run, or while a net sharing its parameters trains.
   */
  train(mode = true): this {
    checkArgCount('jit.ScriptModule.train', arguments.length, 1);
    this._h.train(checkBool('mode', mode));
    return this;
  }

  /** train(false): evaluation mode. */
  eval(): this {
    checkArgCount('jit.ScriptModule.eval', arguments.length, 0);
    return this.train(false);
  }

  /**
   * Moves and/or casts the parameters and buffers in place, as nn.Module.to: `model.to('cuda:0')`.
   * @throws RangeError for a bad device or dtype; Error while method calls run, or when the device is not there.
   */
  to(target: DeviceLike | Dtype | ToOptions, dtype?: Dtype): this {
    checkArgCount('jit.ScriptModule.to', arguments.length, 2);
    const to = parseTo(target, dtype);
    this._h.to(to.device, to.dtype);
    return this;
  }

  /** Every parameter with its dotted name, e.g. ['fc.weight', tensor]; the tensors are the module's own. */
  named_parameters(): [string, Tensor][] {
    checkArgCount('jit.ScriptModule.named_parameters', arguments.length, 0);
    return this._h.namedParameters().map(([name, t]) => [name, new Tensor(t)]);
  }

  /** The parameters, in named_parameters()'s order. */
  parameters(): Tensor[] {
    checkArgCount('jit.ScriptModule.parameters', arguments.length, 0);
    return this.named_parameters().map(([, t]) => t);
  }

  /**
   * Parameters and buffers by dotted name, as nn.Module.state_dict(): detached, sharing memory with the module.
   * @throws Error while a net sharing its parameters trains.
   */
  state_dict(): StateDict {
    checkArgCount('jit.ScriptModule.state_dict', arguments.length, 0);
    return Object.fromEntries(this._h.stateDict().map(([name, t]) => [name, new Tensor(t)]));
  }

  /**
   * Copies a state dict into the parameters and buffers in place, as nn.Module.load_state_dict (strict by default;
   * all is checked before anything is copied).
   * @throws as nn.Module.load_state_dict, and Error while method calls run.
   */
  load_state_dict(state_dict: StateDict | Map<string, Tensor>, strict?: boolean): IncompatibleKeys;
  load_state_dict(state_dict: StateDict | Map<string, Tensor>, options: { strict?: boolean }): IncompatibleKeys;
  load_state_dict(state_dict: StateDict | Map<string, Tensor>, ...rest: unknown[]): IncompatibleKeys {
    checkArgCount('jit.ScriptModule.load_state_dict', arguments.length, 2);
    return loadStateDict('ScriptModule', state_dict, rest, () => {
      this._h.checkIdle('load_state_dict()');
      return this._h.stateDict().map(([name, t]) => [name, new Tensor(t)]);
    });
  }

  /**
   * Writes the module to `f` as TorchScript, as PyTorch's `model.save(f)`: Python's `torch.jit.load(f)` reads it.
   * @throws TypeError / RangeError naming f; Error when the file cannot be written.
   */
  save(f: string): void {
    checkArgCount('jit.ScriptModule.save', arguments.length, 1);
    this._h.save(checkPath('f', f));
  }

  toString(): string {
    return `ScriptModule(${this._h.methodNames().join(', ')})`;
  }

  [inspectCustom](): string {
    return this.toString();
  }
}

/**
 * Loads a TorchScript module that Python's `torch.jit.save(torch.jit.script(model), f)` (or `torch.jit.trace`)
 * wrote, as torch.jit.load: `const model = await torch.jit.load('model.pt', { map_location: 'cpu' })`. The file is
 * read off the main thread.
 * @throws (as rejections) TypeError / RangeError naming f or map_location; Error naming the file when it is missing,
 *   is not a TorchScript archive (a state dict saved by torch.save is one of those: load it with torch.load), or
 *   uses an operator this libtorch lacks (named).
 */
export async function load(f: string, options?: JitLoadOptions | DeviceLike): Promise<ScriptModule> {
  checkArgCount('jit.load', arguments.length, 2);
  const site = new Error();
  const a = parseArgs('jit.load', ['f', 'map_location'], [f, ...(options === undefined ? [] : [options])], 1);
  const path = checkPath('f', a.f);
  const target = a.map_location == null ? null : String(parseDevice('map_location', a.map_location));
  try {
    if ((await stat(path)).isDirectory()) throw new Error('it is a directory, not a file');
  } catch (e) {
    const reason = (e as { code?: string }).code === 'ENOENT' ? 'no such file' : messageOf(e);
    throw atCaller(e, site, `torch.jit.load: cannot read '${path}': ${reason}`);
  }
  try {
    return new ScriptModule(await native.jitLoad(path, target));
  } catch (e) {
    throw atCaller(e, site, `torch.jit.load: cannot load '${path}': ${explainLoad(messageOf(e).trim(), target)}`);
  }
}

// libtorch's words for the common mistakes, with what to do.
function explainLoad(message: string, target: string | null): string {
  if (target === null && /'CUDA' backend|CUDA is not available|not compiled with CUDA/i.test(message)) {
    // libtorch's own words here are a dispatcher table several screens long.
    return "its tensors were saved on CUDA, and this process has no CUDA device (or its libtorch has no CUDA): pass " +
      "map_location: 'cpu'";
  }
  if (/constants\.pkl/.test(message)) {
    return 'it is not a TorchScript module but a file of tensors or a state dict saved by torch.save (read it ' +
      `with torch.load, into a net built in JS) (${message})`;
  }
  if (/failed finding central directory|failed reading zip archive/.test(message)) {
    return `it is not a TorchScript archive (a zip file), or it is truncated (${message})`;
  }
  return message;
}

/**
 * Writes `m` to `f`, as torch.jit.save(m, f).
 * @throws as ScriptModule.save.
 */
export function save(m: ScriptModule, f: string): void {
  checkArgCount('jit.save', arguments.length, 2);
  if (!(m instanceof ScriptModule)) throw invalidType('m', 'a ScriptModule', m);
  m.save(f);
}

/**
 * Records `func`'s forward on `example_inputs` into a ScriptModule, as torch.jit.trace: `const traced =
 * torch.jit.trace(net, X); traced.save('lenet.pt')`, and Python's `torch.jit.load('lenet.pt')(X)` gives the same
 * output. Only tensor operations are recorded: as in PyTorch, control flow that depends on values is frozen as the
 * example took it, and values read into JS (item(), data()) become constants. The ScriptModule's parameters are the
 * net's own tensors: training the net (train_ch6) trains the traced module too.
 * @throws TypeError naming func or example_inputs; Error while the net trains on another thread, or with
 *   libtorch's message when the forward cannot be traced.
 */
export function trace(func: Module, example_inputs: Tensor | Tensor[]): ScriptModule {
  checkArgCount('jit.trace', arguments.length, 2);
  if (!(func instanceof Module)) throw invalidType('func', 'an nn.Module', func);
  const inputs = example_inputs instanceof Tensor ? [example_inputs] : example_inputs;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((t) => t instanceof Tensor)) {
    throw invalidType('example_inputs', 'a Tensor or a non-empty array of Tensors', example_inputs);
  }
  inputs.forEach((t, i) => {
    if (t.is_disposed) throw new Error(`example_inputs[${i}] is a disposed Tensor`);
  });
  const modules = func.named_modules().map(([name, m]): [string, string, boolean] => [name, m.constructor.name, m.training]);
  // The net's own parameters and buffers (batch norm's running statistics, which the graph updates in place), each
  // once under its first name.
  const state = [
    ...func.named_parameters().map(([name, t]): [string, NativeTensor, boolean] => [name, t._h, false]),
    ...func.named_buffers().map(([name, t]): [string, NativeTensor, boolean] => [name, t._h, true]),
  ];
  const forward = () => func.forward(...inputs)._h;
  return new ScriptModule(native.jitTrace(forward, inputs.map((t) => t._h), modules, state));
}
