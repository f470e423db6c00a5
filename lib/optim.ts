/** The `optim` namespace: optimizers, named as torch.optim. */
import type { NativeSGD } from '../binding';
import { native } from './binding';
import { keepAlive, Tensor } from './tensor';
import { checkArgCount, checkBool, checkNumber, checkOptions, invalidType, invalidValue, parseArgs } from './validate';

export interface SGDOptions {
  /** Learning rate: required, > 0. */
  lr: number;
  momentum?: number;
  dampening?: number;
  weight_decay?: number;
  nesterov?: boolean;
}

/** One parameter group, as PyTorch's `optimizer.param_groups[0]`; setting `lr` takes effect at the next step. */
export interface ParamGroup {
  readonly params: Tensor[];
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weight_decay: number;
  readonly nesterov: boolean;
}

function checkParams(params: unknown): Tensor[] {
  if (params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalidType('params', 'an iterable of Tensors (e.g. net.parameters())', params);
  }
  const list = [...(params as Iterable<unknown>)];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw invalidType(`params[${i}]`, 'a Tensor', p);
    if (!p.is_leaf) throw invalidValue(`params[${i}]`, "a leaf tensor (can't optimize a non-leaf Tensor)", p);
  });
  if (list.length === 0) throw invalidValue('params', 'a non-empty list (optimizer got an empty parameter list)', params);
  return list as Tensor[];
}

/**
 * Stochastic gradient descent, as torch.optim.SGD (libtorch's torch::optim::SGD underneath).
 * @example const optimizer = new optim.SGD(net.parameters(), {lr: 0.9});
 * @throws TypeError / RangeError naming the argument: lr <= 0 or NaN, nesterov without momentum, ...
 */
export class SGD {
  readonly param_groups: [ParamGroup];
  /** @internal */
  readonly _h: NativeSGD;

  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    checkArgCount('SGD', arguments.length, 2);
    const list = checkParams(params);
    const a = parseArgs('SGD', ['lr', 'momentum', 'dampening', 'weight_decay', 'nesterov'], [checkOptions('options', options)], 1);
    const o = {
      lr: checkNumber('lr', a.lr, { gt: 0 }),
      momentum: checkNumber('momentum', a.momentum ?? 0, { min: 0 }),
      dampening: checkNumber('dampening', a.dampening ?? 0),
      weight_decay: checkNumber('weight_decay', a.weight_decay ?? 0, { min: 0 }),
      nesterov: checkBool('nesterov', a.nesterov ?? false),
    };
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw invalidValue('nesterov', 'false unless momentum > 0 and dampening is 0 (Nesterov momentum requires them)', true);
    }
    // param_groups holds them: made inside torch.tidy() (a built-in layer's parameters() gives new handles), they
    // outlive it.
    list.forEach(keepAlive);
    const handle = new native.SGD(list.map((p) => p._h), o);
    this._h = handle;
    let lr = o.lr;
    const group = {
      params: list,
      get lr() {
        return lr;
      },
      set lr(value: number) {
        // Native first: it refuses while a training holds the parameters, and then nothing must change.
        handle.setLr(checkNumber('lr', value, { gt: 0 }));
        lr = value;
      },
      momentum: o.momentum,
      dampening: o.dampening,
      weight_decay: o.weight_decay,
      nesterov: o.nesterov,
    };
    this.param_groups = [group];
  }

  /** Clears the gradients: to null (the default, as in current PyTorch) or to zeros. */
  zero_grad(set_to_none = true): void {
    checkArgCount('SGD.zero_grad', arguments.length, 1);
    this._h.zeroGrad(checkBool('set_to_none', set_to_none));
  }

  /** Updates every parameter from its gradient. */
  step(): void {
    checkArgCount('SGD.step', arguments.length, 0);
    this._h.step();
  }
}
