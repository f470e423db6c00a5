/**
 * The built-in layers, each a libtorch module (torch::nn::Conv2d, ...) behind a native handle. Constructors take
 * PyTorch's positional arguments and, last, an options object with any of PyTorch's keyword arguments.
 */
import type { NativeModuleKind } from '../../binding';
import { native } from '../binding';
import { checkShape, Tensor, handleOf } from '../tensor';
import { checkArgCount, checkBool, checkPair, checkString, checkInt, invalidType, invalidValue, parseArgs } from '../validate';
import { attachHandle, handleOfModule, Module } from './module';

export type IntOrPair = number | [number, number];

/** A layer backed by a libtorch module: forward() runs natively. */
abstract class NativeLayer extends Module {
  /** @internal */
  protected constructor(kind: NativeModuleKind, options: object, children?: Module[]) {
    super();
    const handles = children?.map((c) => handleOfModule(c)!);
    attachHandle(this, new native.Module(kind, options, handles));
  }

  /**
   * Runs the layer on `input`.
   * @throws TypeError when input is not a Tensor; Error (libtorch) when its shape does not fit the layer.
   */
  override forward(input: Tensor): Tensor {
    checkArgCount(`${this.constructor.name}.forward`, arguments.length, 1);
    return new Tensor(handleOfModule(this)!.forward(handleOf('input', input)));
  }
}

/**
 * Makes a layer's named option fields read-only: the native layer was built with them, so a new value could not
 * reach it. Assigning one is a TypeError that says so (arrays are frozen for the same reason).
 */
function fixFields(layer: NativeLayer, ...names: string[]): void {
  const kind = layer.constructor.name;
  for (const name of names) {
    const value: unknown = (layer as unknown as Record<string, unknown>)[name];
    if (Array.isArray(value)) Object.freeze(value);
    Object.defineProperty(layer, name, {
      enumerable: true,
      get: () => value,
      set: () => {
        throw new TypeError(`${kind}.${name} is fixed when the layer is built (the native layer was made with it): build a new nn.${kind} instead`);
      },
    });
  }
}

/** One of a built-in layer's own parameters, e.g. 'weight'; null when absent (bias=false). */
function getParameter(layer: NativeLayer, name: 'weight' | 'bias'): Tensor | null {
  const found = handleOfModule(layer)!.namedParameters().find(([n]) => n === name);
  return found ? new Tensor(found[1]) : null;
}

/**
 * `layer.weight = t`, as PyTorch's `layer.weight = nn.Parameter(t)`: the parameter takes t's values and shares its
 * memory, and stays a leaf that requires grad (optimizers built earlier follow it); its gradient is cleared.
 * t must match the parameter's shape, dtype and device: the layer's options (kernel_size, in_features, ...) fix them.
 */
function setParameter(layer: NativeLayer, name: 'weight' | 'bias', value: unknown): void {
  const current = getParameter(layer, name);
  if (!(value instanceof Tensor)) {
    throw invalidType(name, value === null && current ? 'a Tensor (removing a parameter is not supported)' : 'a Tensor', value);
  }
  if (!current) {
    throw invalidValue(name, 'null: the layer was built with bias: false, and adding a parameter is not supported', value);
  }
  const what = `${layer.constructor.name}.${name}`;
  if (value.shape.toString() !== current.shape.toString()) {
    throw new RangeError(`Expected ${name} to be a tensor of shape ${current.shape} (${what}'s) but received one of shape ${value.shape}`);
  }
  if (value.dtype !== current.dtype) {
    throw new TypeError(`Expected ${name} to be a ${current.dtype} tensor (${what}'s dtype) but received a ${value.dtype} one`);
  }
  if (String(value.device) !== String(current.device)) {
    throw new RangeError(`Expected ${name} to be a tensor on ${current.device} (${what}'s device) but received one on ${value.device}`);
  }
  handleOfModule(layer)!.setParameter(name, value._h);
}

const tuple = (p: [number, number]) => `(${p[0]}, ${p[1]})`;

export type Conv2dPadding = IntOrPair | 'same' | 'valid';
export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';

export interface Conv2dOptions {
  kernel_size?: IntOrPair;
  stride?: IntOrPair;
  padding?: Conv2dPadding;
  dilation?: IntOrPair;
  groups?: number;
  bias?: boolean;
  padding_mode?: PaddingMode;
}

const CONV2D_ARGS = ['in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation', 'groups', 'bias', 'padding_mode'];

/**
 * 2-D convolution, as torch.nn.Conv2d: `new nn.Conv2d(1, 6, {kernel_size: 5, padding: 2})` or `new nn.Conv2d(1, 6, 5)`.
 * Defaults: stride 1, padding 0, dilation 1, groups 1, bias true, padding_mode 'zeros'; weights initialised as
 * PyTorch does (Kaiming-uniform).
 * @throws TypeError / RangeError naming the argument, e.g. for kernel_size 0 or groups not dividing the channels.
 */
export class Conv2d extends NativeLayer {
  readonly in_channels: number;
  readonly out_channels: number;
  readonly kernel_size: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | 'same' | 'valid';
  readonly dilation: [number, number];
  readonly groups: number;
  readonly padding_mode: PaddingMode;

  constructor(in_channels: number, out_channels: number, kernel_size: IntOrPair, options?: Conv2dOptions);
  constructor(in_channels: number, out_channels: number, options: Conv2dOptions & { kernel_size: IntOrPair });
  constructor(in_channels: number, out_channels: number, kernel_size: IntOrPair, stride?: IntOrPair,
              padding?: Conv2dPadding, dilation?: IntOrPair, groups?: number, bias?: boolean, padding_mode?: PaddingMode);
  constructor(...args: unknown[]) {
    const a = parseArgs('Conv2d', CONV2D_ARGS, args, 3);
    const in_channels = checkInt('in_channels', a.in_channels, { min: 1 });
    const out_channels = checkInt('out_channels', a.out_channels, { min: 1 });
    const groups = checkInt('groups', a.groups ?? 1, { min: 1 });
    if (in_channels % groups !== 0) throw invalidValue('groups', `a divisor of in_channels (${in_channels})`, groups);
    if (out_channels % groups !== 0) throw invalidValue('groups', `a divisor of out_channels (${out_channels})`, groups);
    const padding =
      typeof a.padding === 'string'
        ? checkString('padding', a.padding, ['same', 'valid'] as const)
        : checkPair('padding', a.padding ?? 0, { min: 0 });
    const stride = checkPair('stride', a.stride ?? 1, { min: 1 });
    if (padding === 'same' && (stride[0] !== 1 || stride[1] !== 1)) {
      throw invalidValue('stride', "1 when padding is 'same' (PyTorch's rule)", a.stride);
    }
    const options = {
      in_channels,
      out_channels,
      kernel_size: checkPair('kernel_size', a.kernel_size, { min: 1 }),
      stride,
      padding,
      dilation: checkPair('dilation', a.dilation ?? 1, { min: 1 }),
      groups,
      bias: checkBool('bias', a.bias ?? true),
      padding_mode: checkString('padding_mode', a.padding_mode ?? 'zeros', ['zeros', 'reflect', 'replicate', 'circular'] as const),
    };
    super('Conv2d', options);
    this.in_channels = in_channels;
    this.out_channels = out_channels;
    this.kernel_size = options.kernel_size;
    this.stride = options.stride;
    this.padding = options.padding;
    this.dilation = options.dilation;
    this.groups = groups;
    this.padding_mode = options.padding_mode;
    fixFields(this, 'in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation', 'groups', 'padding_mode');
  }

  /**
   * [out_channels, in_channels / groups, kH, kW], shared with the module. Assignable, as in PyTorch:
   * `conv.weight = t` makes the parameter hold t's values (sharing its memory); it stays a leaf that requires grad.
   * @throws TypeError when assigned a non-Tensor or another dtype; RangeError for another shape or device.
   */
  get weight(): Tensor {
    return getParameter(this, 'weight')!;
  }

  set weight(value: Tensor) {
    setParameter(this, 'weight', value);
  }

  /**
   * [out_channels], or null when built with bias: false. Assignable like weight (not to null, nor when built with
   * bias: false: the layer's parameters are fixed when it is built).
   */
  get bias(): Tensor | null {
    return getParameter(this, 'bias');
  }

  set bias(value: Tensor | null) {
    setParameter(this, 'bias', value);
  }

  override extra_repr(): string {
    checkArgCount(`${this.constructor.name}.extra_repr`, arguments.length, 0);
    let s = `${this.in_channels}, ${this.out_channels}, kernel_size=${tuple(this.kernel_size)}, stride=${tuple(this.stride)}`;
    if (typeof this.padding === 'string') s += `, padding=${this.padding}`;
    else if (this.padding[0] || this.padding[1]) s += `, padding=${tuple(this.padding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${tuple(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ', bias=False';
    if (this.padding_mode !== 'zeros') s += `, padding_mode=${this.padding_mode}`;
    return s;
  }
}

/**
 * Fully connected layer y = x W^T + b, as torch.nn.Linear: `new nn.Linear(16 * 5 * 5, 120)`.
 * @throws TypeError / RangeError naming the argument.
 */
export class Linear extends NativeLayer {
  readonly in_features: number;
  readonly out_features: number;

  constructor(in_features: number, out_features: number, bias?: boolean);
  constructor(in_features: number, out_features: number, options: { bias?: boolean });
  constructor(...args: unknown[]) {
    const a = parseArgs('Linear', ['in_features', 'out_features', 'bias'], args, 2);
    const options = {
      in_features: checkInt('in_features', a.in_features, { min: 1 }),
      out_features: checkInt('out_features', a.out_features, { min: 1 }),
      bias: checkBool('bias', a.bias ?? true),
    };
    super('Linear', options);
    this.in_features = options.in_features;
    this.out_features = options.out_features;
    fixFields(this, 'in_features', 'out_features');
  }

  /**
   * [out_features, in_features], shared with the module. Assignable, as in PyTorch: `fc.weight = t` makes the
   * parameter hold t's values (sharing its memory); it stays a leaf that requires grad.
   * @throws TypeError when assigned a non-Tensor or another dtype; RangeError for another shape or device.
   */
  get weight(): Tensor {
    return getParameter(this, 'weight')!;
  }

  set weight(value: Tensor) {
    setParameter(this, 'weight', value);
  }

  /**
   * [out_features], or null when built with bias: false. Assignable like weight (not to null, nor when built with
   * bias: false: the layer's parameters are fixed when it is built).
   */
  get bias(): Tensor | null {
    return getParameter(this, 'bias');
  }

  set bias(value: Tensor | null) {
    setParameter(this, 'bias', value);
  }

  override extra_repr(): string {
    checkArgCount(`${this.constructor.name}.extra_repr`, arguments.length, 0);
    return `in_features=${this.in_features}, out_features=${this.out_features}, bias=${this.bias ? 'True' : 'False'}`;
  }
}

export interface AvgPool2dOptions {
  kernel_size?: IntOrPair;
  stride?: IntOrPair | null;
  padding?: IntOrPair;
  ceil_mode?: boolean;
  count_include_pad?: boolean;
  divisor_override?: number | null;
}

/**
 * 2-D average pooling, as torch.nn.AvgPool2d: `new nn.AvgPool2d({kernel_size: 2, stride: 2})`.
 * stride defaults to kernel_size.
 */
export class AvgPool2d extends NativeLayer {
  readonly kernel_size: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(kernel_size: IntOrPair, options?: AvgPool2dOptions);
  constructor(options: AvgPool2dOptions & { kernel_size: IntOrPair });
  constructor(kernel_size: IntOrPair, stride?: IntOrPair | null, padding?: IntOrPair, ceil_mode?: boolean,
              count_include_pad?: boolean, divisor_override?: number | null);
  constructor(...args: unknown[]) {
    const a = parseArgs('AvgPool2d', ['kernel_size', 'stride', 'padding', 'ceil_mode', 'count_include_pad', 'divisor_override'], args, 1);
    const kernel_size = checkPair('kernel_size', a.kernel_size, { min: 1 });
    const options = {
      kernel_size,
      stride: a.stride == null ? kernel_size : checkPair('stride', a.stride, { min: 1 }),
      padding: checkPair('padding', a.padding ?? 0, { min: 0 }),
      ceil_mode: checkBool('ceil_mode', a.ceil_mode ?? false),
      count_include_pad: checkBool('count_include_pad', a.count_include_pad ?? true),
      divisor_override: a.divisor_override == null ? null : checkInt('divisor_override', a.divisor_override, { min: 1 }),
    };
    super('AvgPool2d', options);
    this.kernel_size = kernel_size;
    this.stride = options.stride;
    this.padding = options.padding;
    fixFields(this, 'kernel_size', 'stride', 'padding');
  }

  override extra_repr(): string {
    checkArgCount(`${this.constructor.name}.extra_repr`, arguments.length, 0);
    const one = (p: [number, number]) => (p[0] === p[1] ? String(p[0]) : tuple(p));
    return `kernel_size=${one(this.kernel_size)}, stride=${one(this.stride)}, padding=${one(this.padding)}`;
  }
}

export interface MaxPool2dOptions {
  kernel_size?: IntOrPair;
  stride?: IntOrPair | null;
  padding?: IntOrPair;
  dilation?: IntOrPair;
  return_indices?: false;
  ceil_mode?: boolean;
}

/** 2-D max pooling, as torch.nn.MaxPool2d: `new nn.MaxPool2d({kernel_size: 2, stride: 2})`. */
export class MaxPool2d extends NativeLayer {
  readonly kernel_size: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly ceil_mode: boolean;

  constructor(kernel_size: IntOrPair, options?: MaxPool2dOptions);
  constructor(options: MaxPool2dOptions & { kernel_size: IntOrPair });
  constructor(kernel_size: IntOrPair, stride?: IntOrPair | null, padding?: IntOrPair, dilation?: IntOrPair,
              return_indices?: false, ceil_mode?: boolean);
  constructor(...args: unknown[]) {
    const a = parseArgs('MaxPool2d', ['kernel_size', 'stride', 'padding', 'dilation', 'return_indices', 'ceil_mode'], args, 1);
    if (a.return_indices !== undefined && checkBool('return_indices', a.return_indices)) {
      throw invalidValue('return_indices', 'false (returning indices is not supported)', a.return_indices);
    }
    const kernel_size = checkPair('kernel_size', a.kernel_size, { min: 1 });
    const options = {
      kernel_size,
      stride: a.stride == null ? kernel_size : checkPair('stride', a.stride, { min: 1 }),
      padding: checkPair('padding', a.padding ?? 0, { min: 0 }),
      dilation: checkPair('dilation', a.dilation ?? 1, { min: 1 }),
      ceil_mode: checkBool('ceil_mode', a.ceil_mode ?? false),
    };
    super('MaxPool2d', options);
    this.kernel_size = kernel_size;
    this.stride = options.stride;
    this.padding = options.padding;
    this.dilation = options.dilation;
    this.ceil_mode = options.ceil_mode;
    fixFields(this, 'kernel_size', 'stride', 'padding', 'dilation', 'ceil_mode');
  }

  override extra_repr(): string {
    checkArgCount(`${this.constructor.name}.extra_repr`, arguments.length, 0);
    const one = (p: [number, number]) => (p[0] === p[1] ? String(p[0]) : tuple(p));
    return `kernel_size=${one(this.kernel_size)}, stride=${one(this.stride)}, padding=${one(this.padding)}, ` +
      `dilation=${one(this.dilation)}, ceil_mode=${this.ceil_mode ? 'True' : 'False'}`;
  }
}

/** The logistic function, element-wise, as torch.nn.Sigmoid. */
export class Sigmoid extends NativeLayer {
  constructor() {
    checkArgCount('Sigmoid', arguments.length, 0);
    super('Sigmoid', {});
  }
}

/**
 * max(0, x), element-wise, as torch.nn.ReLU: `new nn.ReLU()`, `new nn.ReLU({inplace: true})` (or `new nn.ReLU(true)`)
 * overwrites its input.
 * @throws TypeError when inplace is not a boolean.
 */
export class ReLU extends NativeLayer {
  readonly inplace: boolean;

  constructor(inplace?: boolean);
  constructor(options: { inplace?: boolean });
  constructor(...args: unknown[]) {
    const a = parseArgs('ReLU', ['inplace'], args);
    const inplace = checkBool('inplace', a.inplace ?? false);
    super('ReLU', { inplace });
    this.inplace = inplace;
    fixFields(this, 'inplace');
  }

  override extra_repr(): string {
    checkArgCount(`${this.constructor.name}.extra_repr`, arguments.length, 0);
    return this.inplace ? 'inplace=True' : '';
  }
}

/** tanh, element-wise, as torch.nn.Tanh. */
export class Tanh extends NativeLayer {
  constructor() {
    checkArgCount('Tanh', arguments.length, 0);
    super('Tanh', {});
  }
}

/** Flattens dims start_dim..end_dim into one (defaults 1 and -1), as torch.nn.Flatten. */
export class Flatten extends NativeLayer {
  readonly start_dim: number;
  readonly end_dim: number;

  constructor(start_dim?: number, end_dim?: number);
  constructor(options: { start_dim?: number; end_dim?: number });
  constructor(...args: unknown[]) {
    const a = parseArgs('Flatten', ['start_dim', 'end_dim'], args);
    const options = { start_dim: checkInt('start_dim', a.start_dim ?? 1), end_dim: checkInt('end_dim', a.end_dim ?? -1) };
    super('Flatten', options);
    this.start_dim = options.start_dim;
    this.end_dim = options.end_dim;
    fixFields(this, 'start_dim', 'end_dim');
  }

  override extra_repr(): string {
    checkArgCount(`${this.constructor.name}.extra_repr`, arguments.length, 0);
    return `start_dim=${this.start_dim}, end_dim=${this.end_dim}`;
  }
}

/**
 * The chapter's Reshape helper, `x.view(...shape)`: `new nn.Reshape(-1, 1, 28, 28)`.
 * @throws RangeError for sizes that are not positive integers (one -1 allowed).
 */
export class Reshape extends NativeLayer {
  readonly shape: number[];

  constructor(...shape: number[]) {
    const checked = checkShape('shape', shape, { allowInfer: true, min: 1 });
    if (checked.length === 0) throw invalidValue('shape', 'at least one size', shape);
    super('Reshape', { shape: checked });
    this.shape = checked;
    fixFields(this, 'shape');
  }

  override extra_repr(): string {
    checkArgCount(`${this.constructor.name}.extra_repr`, arguments.length, 0);
    return this.shape.join(', ');
  }
}

/** How deep Sequentials may nest: each level is a native call frame in forward, and the stack is finite. */
export const MAX_SEQUENTIAL_DEPTH = 1000;

// How deep each Sequential nests (1 for one holding no Sequential).
const depths = new WeakMap<Sequential, number>();

/**
 * A chain of layers, as torch.nn.Sequential: `new nn.Sequential(layer1, layer2, ...)`. Iterable, with `.length`
 * and index access (`net[0]`). When every layer is built in, the chain is one libtorch torch::nn::Sequential and
 * runs natively end to end (what train_ch6's fused step needs); layers written in JS run one by one. A layer may
 * appear twice (it then runs twice, and its parameters are listed once). Sequentials nest at most
 * MAX_SEQUENTIAL_DEPTH (1000) deep.
 * @throws TypeError when an argument is not a Module; RangeError when the nesting would pass 1000 deep (a
 *   forward through it would overflow the native stack).
 */
export class Sequential extends Module implements Iterable<Module> {
  [index: number]: Module;

  constructor(...layers: Module[]) {
    super();
    layers.forEach((layer, i) => {
      if (!(layer instanceof Module)) throw invalidType(`layers[${i}]`, 'an nn.Module', layer);
    });
    const depth = 1 + Math.max(0, ...layers.map((layer) => (layer instanceof Sequential ? depths.get(layer)! : 0)));
    if (depth > MAX_SEQUENTIAL_DEPTH) {
      const i = layers.findIndex((layer) => layer instanceof Sequential && depths.get(layer)! >= MAX_SEQUENTIAL_DEPTH);
      throw new RangeError(
        `Expected layers[${i}] to be a Sequential nested less than ${MAX_SEQUENTIAL_DEPTH} deep but it is ` +
          `${depth - 1} deep: Sequentials nest at most ${MAX_SEQUENTIAL_DEPTH} deep`,
      );
    }
    depths.set(this, depth);
    layers.forEach((layer, i) => {
      Object.defineProperty(this, i, { value: layer, enumerable: true, writable: false, configurable: false });
    });
    const handles = layers.map((layer) => handleOfModule(layer));
    if (handles.every((h) => h !== undefined)) attachHandle(this, new native.Module('Sequential', {}, handles as never));
  }

  /** The number of layers (a layer that appears twice counts twice). */
  get length(): number {
    let n = 0;
    while (Object.prototype.hasOwnProperty.call(this, n)) n++;
    return n;
  }

  *[Symbol.iterator](): Iterator<Module> {
    for (let i = 0; i < this.length; i++) yield this[i];
  }

  /** Runs the layers in order. */
  override forward(input: Tensor): Tensor {
    checkArgCount('Sequential.forward', arguments.length, 1);
    const handle = handleOfModule(this);
    if (handle) return new Tensor(handle.forward(handleOf('input', input)));
    let x = input;
    for (const layer of this) x = layer.forward(x);
    return x;
  }
}

// net[i] as in PyTorch: a negative index counts from the end, and one out of range throws (PyTorch's IndexError, a
// RangeError here) instead of reading undefined. The layers are each instance's own properties; only an index that an
// instance lacks gets this far up its prototype chain, to this proxy between Sequential.prototype and Module's.
Object.setPrototypeOf(
  Sequential.prototype,
  new Proxy(Object.create(Module.prototype) as object, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^-?(0|[1-9]\d*)$/.test(key) && receiver instanceof Sequential) {
        const i = Number(key);
        const n = receiver.length;
        if (i < 0 && i >= -n) return receiver[n + i];
        throw new RangeError(`index ${key} is out of range for a Sequential of ${n} layer${n === 1 ? '' : 's'}`);
      }
      return Reflect.get(target, key, receiver);
    },
  }),
);
