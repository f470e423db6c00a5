/**
 * nn.Module: the base of every layer and net. Layers built in (Conv2d, Linear, ...) are libtorch modules behind a
 * native handle; a user's subclass with its own forward() is plain JS whose children are found, as in PyTorch, among
 * its properties.
 */
import { types } from 'node:util';
import type { NativeModule } from '../../binding';
import { native } from '../binding';
import type { DeviceLike } from '../device';
import { adoptOwners, Dtype, integerRange, keepAlive, parseTo, Tensor, tensorsIn, ToOptions } from '../tensor';
import { inspectCustom } from '../format';
import { checkArgCount, checkBool, checkFunction, invalidType, invalidValue, isOptions, parseArgs } from '../validate';

// The libtorch module behind each built-in layer; modules written in JS have none.
const handles = new WeakMap<Module, NativeModule>();

// Each module's training flag, and the names of its buffers: non-enumerable symbol properties, so that neither shows
// among the module's attributes (and a Proxy, the module itself, reaches them as any property).
const TRAINING = Symbol('training');
const BUFFERS = Symbol('buffers');
interface Registry {
  [TRAINING]: boolean;
  // buffer name -> persistent (part of state_dict)
  [BUFFERS]: Map<string, boolean>;
}
const registry = (module: Module) => module as unknown as Registry;

/**
 * A tensor that is a module parameter, as torch.nn.Parameter: assigned to a module's attribute
 * (`this.gamma = new nn.Parameter(torch.ones(shape))`), it is registered: named_parameters(), parameters() (so an
 * optimizer), state_dict(), to() and zero_grad() reach it. It shares memory with `data` and is a leaf that requires
 * grad (unless requires_grad is false).
 * @throws TypeError when data is not a Tensor or requires_grad not a boolean.
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requires_grad = true) {
    checkArgCount('Parameter', arguments.length, 2);
    if (!(data instanceof Tensor)) throw invalidType('data', 'a Tensor', data);
    if (data.is_disposed) throw new Error('data is a disposed Tensor');
    const handle = data.detach()._h;
    native.tensorSetRequiresGrad(handle, checkBool('requires_grad', requires_grad));
    super(handle);
    // Made inside torch.tidy() or not, a parameter lives until garbage collected.
    keepAlive(this);
  }

  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}

/** Own attributes, in the order they were set, whose values satisfy `is`. */
function ownEntries<T>(module: Module, is: (value: unknown) => value is T): [string, T][] {
  return Object.entries(module).filter((entry): entry is [string, T] => is(entry[1]));
}

/** Properties holding a Module, in the order they were set, a module held twice listed twice (printing shows both). */
function entries(module: Module): [string, Module][] {
  return ownEntries(module, (v): v is Module => v instanceof Module);
}

/** A JS module's own parameters: its attributes holding a Parameter, in the order they were set. */
function ownParameters(module: Module): [string, Parameter][] {
  return ownEntries(module, (v): v is Parameter => v instanceof Parameter);
}

/** A module's own buffers (registered by register_buffer, not null); `persistentOnly` for those state_dict saves. */
function ownBuffers(module: Module, persistentOnly: boolean): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  for (const [name, persistent] of registry(module)[BUFFERS]) {
    const t = (module as unknown as Record<string, unknown>)[name];
    if (t instanceof Tensor && (persistent || !persistentOnly)) out.push([name, t]);
  }
  return out;
}

/** A tensor as state_dict() gives it: detached, sharing memory. */
const detached = (t: Tensor) => t.detach();

/** Every parameter below `module` with its dotted name, a shared one as often as it is reached. */
function allNamedParameters(module: Module, prefix: string): [string, Tensor][] {
  const handle = handles.get(module);
  if (handle) return handle.namedParameters().map(([name, t]) => [prefix + name, new Tensor(t)]);
  return [
    ...ownParameters(module).map(([name, p]): [string, Tensor] => [prefix + name, p]),
    ...entries(module).flatMap(([name, child]) => allNamedParameters(child, `${prefix}${name}.`)),
  ];
}

/** Every buffer below `module` with its dotted name. */
function allNamedBuffers(module: Module, prefix: string): [string, Tensor][] {
  const handle = handles.get(module);
  if (handle) {
    const params = new Set(handle.namedParameters().map(([name]) => name));
    return handle.stateDict().filter(([name]) => !params.has(name)).map(([name, t]) => [prefix + name, new Tensor(t)]);
  }
  return [
    ...ownBuffers(module, false).map(([name, t]): [string, Tensor] => [prefix + name, t]),
    ...entries(module).flatMap(([name, child]) => allNamedBuffers(child, `${prefix}${name}.`)),
  ];
}

/** Keeps the first of tensors reached twice (a shared layer), as PyTorch's named_parameters does. */
function once(list: [string, Tensor][]): [string, Tensor][] {
  const seen = new Set<number>();
  return list.filter(([, t]) => {
    const id = native.tensorIdentity(t._h);
    return !seen.has(id) && seen.add(id);
  });
}

/**
 * forward wrapped so that a result other than a Tensor is a TypeError naming the module, where the mistake is; and,
 * for a forward written in JS, run as in torch.tidy(): the tensors it makes and does not return (nor assign to a
 * module attribute, nor torch.keep) are freed when it returns or throws, as Python frees a Residual block's
 * intermediates when forward returns, instead of waiting for V8's collector; inside the scope, each small op also
 * costs no finalizer (test/bench/percall.js). A built-in layer (one native call) needs no scope.
 */
function checkedForward(fn: (...inputs: Tensor[]) => unknown) {
  return function forward(this: Module, ...inputs: Tensor[]): Tensor {
    if (handles.has(this)) return checkedResult(this, fn.apply(this, inputs));
    native.scopeBegin();
    let out: Tensor | undefined;
    try {
      out = checkedResult(this, fn.apply(this, inputs));
      return out;
    } finally {
      const kept = out ? [out._h] : [];
      adoptOwners(out ? [out] : [], kept, native.scopeEnd(kept));
    }
  };
}

function checkedResult(module: Module, out: unknown): Tensor {
  if (!(out instanceof Tensor)) throw invalidType(`the result of ${module.constructor.name}.forward()`, 'a Tensor', out);
  return out;
}

const describeValue = (v: unknown) => (v === null ? 'null' : v instanceof Tensor ? 'Tensor' : typeof v === 'object' ? (v as object).constructor?.name ?? 'object' : typeof v);

/**
 * PyTorch's Module.__setattr__: an attribute that holds a parameter takes only a Parameter (or null), one that holds
 * a buffer only a Tensor (or null), one that holds a submodule only a Module (or null): anything else is a TypeError,
 * where plain JS would silently drop the parameter from the module. Every Module is this Proxy over itself.
 */
const guard: ProxyHandler<Module> = {
  set(target, key, value, receiver) {
    if (typeof key === 'string') {
      const own = Object.getOwnPropertyDescriptor(target, key);
      const current: unknown = own && 'value' in own ? own.value : undefined;
      const buffer = registry(target)[BUFFERS].has(key);
      const cannot = (what: string, expected: string) =>
        new TypeError(`cannot assign '${describeValue(value)}' as ${what} '${key}' of ${target.constructor.name} (${expected} or null expected)`);
      if (value !== null && !(value instanceof Parameter) && current instanceof Parameter) throw cannot('parameter', 'nn.Parameter');
      if (value instanceof Parameter && buffer) throw cannot('buffer', 'a Tensor that is not a Parameter');
      if (value !== null && !(value instanceof Tensor) && buffer) throw cannot('buffer', 'a Tensor');
      if (value !== null && !(value instanceof Module) && current instanceof Module) throw cannot('child module', 'an nn.Module');
    }
    return Reflect.set(target, key, value, receiver);
  },
  // A forward set on the instance (`net.forward = (x) => ...`, or a class field) answers to the same check as a
  // class's own. (An assignment comes here too, through Reflect.set.)
  defineProperty(target, key, descriptor) {
    if (key === 'forward' && typeof descriptor.value === 'function') descriptor = { ...descriptor, value: checkedForward(descriptor.value) };
    // A tensor a module holds, assigned or defined (a class field), outlives any torch.tidy() or JS forward it was
    // made in; so do the tensors in an array, object, Map or Set so assigned (an RNN's `this.state = [H, C]`), as
    // they are at the time (one added to it later must be passed to torch.keep).
    // (Only a scope's handles, BigInts, need it: one the garbage collector owns is skipped without a native call.)
    if (holdsTensors(descriptor.value)) {
      for (const t of tensorsIn(descriptor.value)) if (typeof t._h === 'bigint' && !t.is_disposed) keepAlive(t);
    }
    return Reflect.defineProperty(target, key, descriptor);
  },
};

/** Whether a module attribute's value is a Tensor or a container of them (an array, a plain object, a Map, a Set). */
function holdsTensors(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return value instanceof Tensor || Array.isArray(value) || value instanceof Map || value instanceof Set ||
    proto === Object.prototype || proto === null;
}

/** A state dict, as Module.state_dict() gives it: parameter (and buffer) names to tensors, in PyTorch's order. */
export type StateDict = Record<string, Tensor>;

/** What load_state_dict() returns, as PyTorch's `_IncompatibleKeys`. */
export interface IncompatibleKeys {
  /** The module's keys that the state dict lacks (only when strict is false: strict throws). */
  missing_keys: string[];
  /** The state dict's keys that the module lacks (only when strict is false: strict throws). */
  unexpected_keys: string[];
}

// [name, tensor] for each parameter and buffer under `module`, depth first, as PyTorch's state_dict() orders them:
// each module's parameters, then its persistent buffers, then its children's.
function stateEntries(module: Module, prefix: string): [string, Tensor][] {
  const handle = handles.get(module);
  if (handle) return handle.stateDict().map(([name, t]) => [prefix + name, new Tensor(t)]);
  return [
    ...ownParameters(module).map(([name, p]): [string, Tensor] => [prefix + name, detached(p)]),
    ...ownBuffers(module, true).map(([name, t]): [string, Tensor] => [prefix + name, detached(t)]),
    ...entries(module).flatMap(([name, child]) => stateEntries(child, `${prefix}${name}.`)),
  ];
}

// A state dict argument: a plain object or a Map of string keys to tensors.
function checkStateDict(name: string, value: unknown): [string, Tensor][] {
  let pairs: [unknown, unknown][];
  if (types.isMap(value)) pairs = [...(value as Map<unknown, unknown>).entries()];
  else if (isOptions(value)) pairs = Object.entries(value);
  else throw invalidType(name, 'a state dict (a plain object or Map of names to Tensors)', value);
  return pairs.map(([key, t]) => {
    if (typeof key !== 'string') throw invalidType(`the keys of ${name}`, 'strings', key);
    if (!(t instanceof Tensor)) throw invalidType(`${name}['${key}']`, 'a Tensor', t);
    if (t.is_disposed) throw new Error(`${name}['${key}'] is a disposed Tensor`);
    return [key, t];
  });
}

export class Module {

  /**
   * Whether the module is in training mode. Assigning sets this module's flag only, as in PyTorch (train() and
   * eval() set its children's too).
   * @throws TypeError when assigned a non-boolean; Error while train_ch6 is training this module.
   */
  get training(): boolean {
    return registry(this)[TRAINING];
  }

  set training(mode: boolean) {
    checkBool('training', mode);
    checkNotHeld(this);
    // libtorch's train() also sets a module's children: call it only where there are none (a built-in layer). The
    // own flag of a native Sequential is read by nothing.
    if (this.children().length === 0) handles.get(this)?.train(mode);
    registry(this)[TRAINING] = mode;
  }

  constructor() {
    checkArgCount(new.target.name, arguments.length, 0);
    // PyTorch's `module(x)` hands back whatever forward returns; here callers (Sequential, train_ch6, ...) need a
    // Tensor. So forward is wrapped, here, to say so where the mistake is: a TypeError naming the module that
    // returned something else, rather than a failure deep inside the library. The wrapper looks forward up on the
    // prototype at each call; a forward assigned to the instance later is wrapped as it is assigned (`guard`).
    Object.defineProperty(this, 'forward', {
      value: checkedForward(function forward(this: Module, ...inputs: Tensor[]): Tensor {
        return Object.getPrototypeOf(this).forward.apply(this, inputs);
      }),
      writable: true,
      configurable: true,
      enumerable: false,
    });
    Object.defineProperty(this, TRAINING, { value: true, writable: true, enumerable: false });
    Object.defineProperty(this, BUFFERS, { value: new Map(), enumerable: false });
    // Assignments to the module go through `guard` (PyTorch's __setattr__); subclass constructors see the proxy as
    // `this`, so their assignments are checked too.
    return new Proxy(this, guard);
  }

  /**
   * Adds a buffer, as PyTorch's register_buffer: a tensor that is part of the module's state but not a parameter
   * (BatchNorm's running_mean). It is set as the attribute `name`, follows to(), and is saved by state_dict() unless
   * persistent is false. `null` registers the name with no tensor (skipped by state_dict()).
   * @throws TypeError when name is not a string or tensor not a Tensor or null; RangeError when name is empty, holds
   *   a '.', or is an attribute that is not a buffer already.
   */
  register_buffer(name: string, tensor: Tensor | null, persistent?: boolean): void;
  register_buffer(name: string, tensor: Tensor | null, options: { persistent?: boolean }): void;
  register_buffer(...args: unknown[]): void {
    const a = parseArgs('Module.register_buffer', ['name', 'tensor', 'persistent'], args, 2);
    const name = checkAttributeName(this, a.name, registry(this)[BUFFERS].has(a.name as string));
    if (a.tensor !== null && !(a.tensor instanceof Tensor)) throw invalidType('tensor', 'a Tensor or null', a.tensor);
    if (a.tensor instanceof Parameter) throw invalidType('tensor', 'a Tensor that is not a Parameter (register_parameter adds those)', a.tensor);
    registry(this)[BUFFERS].set(name, checkBool('persistent', a.persistent ?? true));
    (this as unknown as Record<string, unknown>)[name] = a.tensor;
  }

  /**
   * Adds a parameter under `name`, as PyTorch's register_parameter (the same as assigning it to the attribute).
   * @throws TypeError when param is not a Parameter or null; RangeError for a name that is empty, holds a '.', or is
   *   an attribute that is not a parameter already.
   */
  register_parameter(name: string, param: Parameter | null): void {
    checkArgCount('Module.register_parameter', arguments.length, 2);
    const current: unknown = (this as unknown as Record<string, unknown>)[name as string];
    checkAttributeName(this, name, current instanceof Parameter);
    if (param !== null && !(param instanceof Parameter)) throw invalidType('param', 'an nn.Parameter or null', param);
    (this as unknown as Record<string, unknown>)[name] = param;
  }

  /**
   * Adds a submodule under `name`, as PyTorch's add_module (the same as assigning it to the attribute).
   * @throws TypeError when module is not a Module; RangeError for a bad name (as register_parameter).
   */
  add_module(name: string, module: Module): void {
    checkArgCount('Module.add_module', arguments.length, 2);
    const current: unknown = (this as unknown as Record<string, unknown>)[name as string];
    checkAttributeName(this, name, current instanceof Module);
    if (!(module instanceof Module)) throw invalidType('module', 'an nn.Module', module);
    (this as unknown as Record<string, unknown>)[name] = module;
  }

  /**
   * Every buffer with its dotted name (e.g. ['bn1.running_mean', tensor]), the tensors themselves; a buffer reached
   * twice is listed once.
   */
  named_buffers(prefix = ''): [string, Tensor][] {
    checkArgCount('Module.named_buffers', arguments.length, 1);
    return once(allNamedBuffers(this, prefix));
  }

  /** The buffers, in the order named_buffers() gives them. */
  buffers(): Tensor[] {
    checkArgCount('Module.buffers', arguments.length, 0);
    return this.named_buffers().map(([, t]) => t);
  }

  /**
   * Computes the output, a Tensor. Subclasses override it; `layer.forward(X)` is PyTorch's `layer(X)`. A forward
   * written in JS runs as inside torch.tidy(): the tensors it makes are freed when it returns, except its result,
   * those assigned to a module attribute and those passed to torch.keep().
   * @throws Error when a subclass does not define it; TypeError when a subclass's forward returns something other
   *   than a Tensor.
   */
  forward(...inputs: Tensor[]): Tensor {
    void inputs;
    throw new Error(`Module [${this.constructor.name}] is missing the required "forward" function`);
  }

  /**
   * The direct submodules with their names: properties holding a Module, in the order they were set. A module held
   * twice is listed once, under its first name, as in PyTorch.
   */
  named_children(): [string, Module][] {
    checkArgCount('Module.named_children', arguments.length, 0);
    const seen = new Set<Module>();
    return entries(this).filter(([, m]) => !seen.has(m) && seen.add(m));
  }

  children(): Module[] {
    checkArgCount('Module.children', arguments.length, 0);
    return this.named_children().map(([, m]) => m);
  }

  /**
   * This module and every module below it, depth first, with dotted names ('' for this one); a module reached
   * twice is listed once, under its first name, as in PyTorch.
   */
  named_modules(prefix = ''): [string, Module][] {
    checkArgCount('Module.named_modules', arguments.length, 1);
    const seen = new Set<Module>();
    const out: [string, Module][] = [];
    const visit = (module: Module, name: string) => {
      if (seen.has(module)) return;
      seen.add(module);
      out.push([name, module]);
      for (const [childName, child] of entries(module)) visit(child, name ? `${name}.${childName}` : childName);
    };
    visit(this, prefix);
    return out;
  }

  modules(): Module[] {
    checkArgCount('Module.modules', arguments.length, 0);
    return this.named_modules().map(([, m]) => m);
  }

  /**
   * Every parameter with its dotted name, e.g. ['1.weight', tensor]; the tensors share memory with the module. A
   * parameter reached twice (a layer used twice) is listed once, under its first name, as in PyTorch.
   */
  named_parameters(prefix = ''): [string, Tensor][] {
    checkArgCount('Module.named_parameters', arguments.length, 1);
    return once(allNamedParameters(this, prefix));
  }

  /** The parameters, in the order named_parameters() gives them, each once (so an optimizer steps each once). */
  parameters(): Tensor[] {
    checkArgCount('Module.parameters', arguments.length, 0);
    return this.named_parameters().map(([, t]) => t);
  }

  /**
   * The parameters (and buffers) by name, as torch.nn.Module.state_dict(): a plain object such as
   * `{'1.weight': tensor, '1.bias': tensor, '4.weight': ...}` in PyTorch's order (each module's own entries, then its
   * children's, depth first). As in PyTorch the tensors are detached from autograd but share memory with the module:
   * training changes them (clone() keeps a copy). `await torch.save(net.state_dict(), 'lenet.pt')` saves it.
   * @throws Error while train_ch6 is training this module.
   */
  state_dict(): StateDict {
    checkArgCount('Module.state_dict', arguments.length, 0);
    const out: StateDict = {};
    for (const [name, t] of stateEntries(this, '')) out[name] = t;
    return out;
  }

  /**
   * Copies a state dict's tensors into this module's parameters in place, as torch.nn.Module.load_state_dict:
   * `net.load_state_dict(await torch.load('lenet.pt'))`. Each value is converted to the parameter's dtype and stays on
   * the parameter's device; autograd does not record the copy. With `strict` (the default) the keys must match the
   * module's exactly. All is checked before anything is copied: when it throws, the module is unchanged.
   * @returns the keys missing from the state dict and those the module does not have (empty with strict).
   * @throws TypeError naming state_dict (or the key) for a value that is not a state dict of tensors; Error listing
   *   the missing and unexpected keys (strict) and every size mismatch, with both shapes, in PyTorch's words; Error
   *   while train_ch6 is training this module.
   */
  load_state_dict(state_dict: StateDict | Map<string, Tensor>, strict?: boolean): IncompatibleKeys;
  load_state_dict(state_dict: StateDict | Map<string, Tensor>, options: { strict?: boolean }): IncompatibleKeys;
  load_state_dict(state_dict: StateDict | Map<string, Tensor>, ...rest: unknown[]): IncompatibleKeys {
    checkArgCount('Module.load_state_dict', arguments.length, 2);
    return loadStateDict(this.constructor.name, state_dict, rest, () => {
      checkNotHeld(this);
      return stateEntries(this, '');
    });
  }

  /** Calls fn on every submodule (children first) and then on this module, as PyTorch's apply. */
  apply(fn: (module: Module) => void): this {
    checkArgCount('Module.apply', arguments.length, 1);
    checkFunction('fn', fn);
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Training mode on (default) or off, recursively.
   * @throws Error while train_ch6 is training this module.
   */
  train(mode = true): this {
    checkArgCount('Module.train', arguments.length, 1);
    checkBool('mode', mode);
    checkNotHeld(this);
    handles.get(this)?.train(mode);
    registry(this)[TRAINING] = mode;
    for (const child of this.children()) child.train(mode);
    return this;
  }

  /** train(false): evaluation mode. */
  eval(): this {
    checkArgCount('Module.eval', arguments.length, 0);
    return this.train(false);
  }

  /**
   * Moves the parameters to a device and/or casts them, in place: `net.to('cuda:0')`, `net.to(torch.float64)`,
   * `net.to('cpu', torch.float64)`, `net.to({device, dtype})`.
   * Tensors taken from parameters() earlier follow the move.
   * @throws RangeError for a bad device or dtype; Error (libtorch) when the device is not available.
   */
  to(target: DeviceLike | Dtype | ToOptions, dtype?: Dtype): this {
    checkArgCount('Module.to', arguments.length, 2);
    const to = parseTo(target, dtype);
    // All or nothing: a refusal (a layer in training elsewhere) must come before any layer has moved.
    checkNotHeld(this);
    handles.get(this)?.to(to.device, to.dtype);
    // As PyTorch's _apply: a JS module's tensors change in place (param.data = ...), the dtype only for floating ones.
    for (const [, t] of [...ownParameters(this), ...ownBuffers(this, false)]) {
      const dtype = to.dtype && t.dtype !== 'bool' && integerRange(t.dtype) === null ? to.dtype : null;
      if (to.device !== null || dtype !== null) native.tensorSetData(t._h, native.tensorTo(t._h, to.device, dtype));
    }
    for (const child of this.children()) child.to({ ...(to.device && { device: to.device }), ...(to.dtype && { dtype: to.dtype }) });
    return this;
  }

  /** Clears the gradients of all parameters: to null (the default, as in current PyTorch) or to zeros. */
  zero_grad(set_to_none = true): void {
    checkArgCount('Module.zero_grad', arguments.length, 1);
    checkBool('set_to_none', set_to_none);
    checkNotHeld(this);
    native.zeroGrad(this.parameters().map((p) => p._h), set_to_none);
  }

  /** The options shown inside the parentheses when printed, as PyTorch's extra_repr. */
  extra_repr(): string {
    checkArgCount('Module.extra_repr', arguments.length, 0);
    return '';
  }

  /** As PyTorch prints a module: `Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))`. */
  toString(): string {
    const children = entries(this);
    const extra = this.extra_repr();
    if (children.length === 0) return `${this.constructor.name}(${extra})`;
    const lines = extra ? [`  ${extra}`] : [];
    for (const [name, child] of children) lines.push(`  (${name}): ${String(child).split('\n').join('\n  ')}`);
    return `${this.constructor.name}(\n${lines.join('\n')}\n)`;
  }

  [inspectCustom](): string {
    return this.toString();
  }
}

/**
 * @internal load_state_dict for any module (nn.Module, jit.ScriptModule): checks the arguments, then `own()` (which
 * refuses a module in use and gives its [name, tensor] entries), then copies all or nothing.
 */
export function loadStateDict(owner: string, state_dict: unknown, rest: unknown[],
                              own: () => [string, Tensor][]): IncompatibleKeys {
  const given = checkStateDict('state_dict', state_dict);
  const strict = checkBool('strict', parseArgs('load_state_dict', ['strict'], rest).strict ?? true);
  const entries = own();
  const byName = new Map(given);
  const ownNames = new Set(entries.map(([name]) => name));
  const missing_keys = entries.filter(([name]) => !byName.has(name)).map(([name]) => name);
  const unexpected_keys = given.filter(([name]) => !ownNames.has(name)).map(([name]) => name);
  const errors: string[] = [];
  const list = (keys: string[]) => keys.map((k) => `"${k}"`).join(', ');
  if (strict && missing_keys.length) errors.push(`Missing key(s) in state_dict: ${list(missing_keys)}.`);
  if (strict && unexpected_keys.length) errors.push(`Unexpected key(s) in state_dict: ${list(unexpected_keys)}.`);
  const destinations: Tensor[] = [];
  const sources: Tensor[] = [];
  for (const [name, param] of entries) {
    const input = byName.get(name);
    if (input === undefined) continue;
    if (String(input.shape) !== String(param.shape)) {
      errors.push(`size mismatch for ${name}: copying a param with shape ${input.shape} from checkpoint, the shape in current model is ${param.shape}.`);
    }
    destinations.push(param);
    sources.push(input);
  }
  if (errors.length) throw new Error(`Error(s) in loading state_dict for ${owner}:\n\t${errors.join('\n\t')}`);
  native.copyTensors(destinations.map((t) => t._h), sources.map((t) => t._h));
  return { missing_keys, unexpected_keys };
}

/** A new attribute name for register_buffer and the like: a non-empty string without '.', not taken (unless `same`). */
function checkAttributeName(module: Module, name: unknown, same: boolean): string {
  if (typeof name !== 'string') throw invalidType('name', 'a string', name);
  if (name === '' || name.includes('.')) throw invalidValue('name', "a non-empty string without '.'", name);
  if (!same && name in module) throw invalidValue('name', `a name that ${module.constructor.name} does not have already`, name);
  return name;
}

/** @internal gives a built-in layer its libtorch module */
export function attachHandle(module: Module, handle: NativeModule): void {
  handles.set(module, handle);
}

/** @internal the libtorch modules of a net: its own, or those of its outermost built-in submodules for a net in JS */
export function nativeRoots(module: Module): NativeModule[] {
  const handle = handles.get(module);
  return handle ? [handle] : module.children().flatMap(nativeRoots);
}

/**
 * @internal a module's own tensors as attributes (not its children's), by attribute name: its parameters, buffers
 * and plain tensor attributes (d2l's from-scratch BatchNorm keeps its moving_mean as one); none for a built-in
 * layer, whose state lives in libtorch
 */
export function ownState(module: Module): [string, Tensor][] {
  if (handles.has(module)) return [];
  const plain = ownEntries(module, (v): v is Tensor => v instanceof Tensor);
  const buffers = ownBuffers(module, false).filter(([name]) => !plain.some(([n]) => n === name));
  return [...plain, ...buffers];
}

/**
 * @internal throws the hold's Error (native/hold.h) when a training or evaluation on another thread holds this
 * module's tree: its libtorch modules, or the memory of any of its parameters and buffers (those of modules written
 * in JS, BatchNorm2d's say, are in no libtorch module)
 */
export function checkNotHeld(module: Module): void {
  native.checkNotHeld(nativeRoots(module), [...module.parameters(), ...module.buffers()].map((t) => t._h));
  // A module written in JS with no tensors (a Dropout) is in no native hold: its mode is held here.
  if (trainings === 0) return;
  for (const m of module.modules()) {
    const hold = jsHolds.get(m);
    if (hold?.held) {
      throw new Error(`lenet-torch: this module belongs to a net that is being ${hold.activity} on another thread; ` +
        'await that call, or abort it, before using the net, its parameters, gradients or optimizer');
    }
  }
}

/** @internal what a training's hold tells the modules of its net: whether it holds them now, and what for */
export interface ModuleHold {
  readonly held: boolean;
  readonly activity: string;
}

const jsHolds = new WeakMap<Module, ModuleHold>();
// How many nets are marked now: none, most of the time, and then checkNotHeld walks no tree.
let trainings = 0;

/**
 * @internal marks every module of net as under hold (while hold.held: train(), eval() and the rest throw, as they do
 * for a module whose parameters a native hold covers); the function returned unmarks them
 */
export function holdModules(net: Module, hold: ModuleHold): () => void {
  const modules = net.modules();
  for (const m of modules) jsHolds.set(m, hold);
  trainings++;
  let marked = true;
  return () => {
    if (!marked) return;
    marked = false;
    trainings--;
    for (const m of modules) if (jsHolds.get(m) === hold) jsHolds.delete(m);
  };
}

/** @internal the libtorch module behind a Module, or undefined for modules written in JS */
export function handleOfModule(module: Module): NativeModule | undefined {
  return handles.get(module);
}
