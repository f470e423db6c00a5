/**
 * nn.Module: the base of every layer and net. Layers built in (Conv2d, Linear, ...) are libtorch modules behind a
 * native handle; a user's subclass with its own forward() is plain JS whose children are found, as in PyTorch, among
 * its properties.
 */
import type { NativeModule } from '../../binding';
import { native } from '../binding';
import type { DeviceLike } from '../device';
import { Dtype, parseTo, Tensor, ToOptions } from '../tensor';
import { inspectCustom } from '../format';
import { checkBool, checkFunction } from '../validate';

// The libtorch module behind each built-in layer; modules written in JS have none.
const handles = new WeakMap<Module, NativeModule>();

export class Module {
  /** Whether the module is in training mode (see train() and eval()). */
  training = true;

  /**
   * Computes the output. Subclasses override it; `layer.forward(X)` is PyTorch's `layer(X)`.
   * @throws Error when a subclass does not define it.
   */
  forward(...inputs: Tensor[]): Tensor {
    void inputs;
    throw new Error(`Module [${this.constructor.name}] is missing the required "forward" function`);
  }

  /** The direct submodules with their names: properties holding a Module, in the order they were set. */
  named_children(): [string, Module][] {
    return Object.entries(this).filter((entry): entry is [string, Module] => entry[1] instanceof Module);
  }

  children(): Module[] {
    return this.named_children().map(([, m]) => m);
  }

  /** This module and every module below it, depth first, with dotted names ('' for this one). */
  named_modules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.named_children()) out.push(...child.named_modules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  modules(): Module[] {
    return this.named_modules().map(([, m]) => m);
  }

  /** Every parameter with its dotted name, e.g. ['1.weight', tensor]; the tensors share memory with the module. */
  named_parameters(prefix = ''): [string, Tensor][] {
    const handle = handles.get(this);
    if (handle) return handle.namedParameters().map(([name, t]) => [prefix + name, new Tensor(t)]);
    const out: [string, Tensor][] = [];
    for (const [name, child] of this.named_children()) out.push(...child.named_parameters(`${prefix}${name}.`));
    return out;
  }

  /** The parameters, in the order named_parameters() gives them. */
  parameters(): Tensor[] {
    return this.named_parameters().map(([, t]) => t);
  }

  /** Calls fn on every submodule (children first) and then on this module, as PyTorch's apply. */
  apply(fn: (module: Module) => void): this {
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
    checkBool('mode', mode);
    handles.get(this)?.train(mode);
    this.training = mode;
    for (const child of this.children()) child.train(mode);
    return this;
  }

  /** train(false): evaluation mode. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Moves the parameters to a device and/or casts them, in place: `net.to('cuda:0')`, `net.to(torch.float64)`.
   * Tensors taken from parameters() earlier follow the move.
   * @throws RangeError for a bad device or dtype; Error (libtorch) when the device is not available.
   */
  to(target: DeviceLike | Dtype | ToOptions): this {
    const to = parseTo(target);
    handles.get(this)?.to(to.device, to.dtype);
    for (const child of this.children()) child.to({ ...(to.device && { device: to.device }), ...(to.dtype && { dtype: to.dtype }) });
    return this;
  }

  /** Clears the gradients of all parameters: to null (the default, as in current PyTorch) or to zeros. */
  zero_grad(set_to_none = true): void {
    native.zeroGrad(this.parameters().map((p) => p._h), checkBool('set_to_none', set_to_none));
  }

  /** The options shown inside the parentheses when printed, as PyTorch's extra_repr. */
  extra_repr(): string {
    return '';
  }

  /** As PyTorch prints a module: `Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))`. */
  toString(): string {
    const children = this.named_children();
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

/** @internal gives a built-in layer its libtorch module */
export function attachHandle(module: Module, handle: NativeModule): void {
  handles.set(module, handle);
}

/** @internal the libtorch module behind a Module, or undefined for modules written in JS */
export function handleOfModule(module: Module): NativeModule | undefined {
  return handles.get(module);
}
