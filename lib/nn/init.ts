/**
 * In-place initialisers, as torch.nn.init: each fills the tensor without recording autograd history and returns it.
 * @example net.apply((m) => { if (m instanceof nn.Linear || m instanceof nn.Conv2d) nn.init.xavier_uniform_(m.weight); });
 */
import { native } from '../binding';
import { Tensor, checkElement, handleOf } from '../tensor';
import { checkArgCount, checkNumber } from '../validate';

/** Uniform in [-a, a] with a = gain * sqrt(6 / (fan_in + fan_out)). Needs at least 2 dimensions. */
export function xavier_uniform_(tensor: Tensor, gain = 1): Tensor {
  checkArgCount('init.xavier_uniform_', arguments.length, 2);
  native.init('xavier_uniform_', handleOf('tensor', tensor), checkNumber('gain', gain), 0);
  return tensor;
}

/** Normal with std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavier_normal_(tensor: Tensor, gain = 1): Tensor {
  checkArgCount('init.xavier_normal_', arguments.length, 2);
  native.init('xavier_normal_', handleOf('tensor', tensor), checkNumber('gain', gain), 0);
  return tensor;
}

/** Normal with the given mean and std (defaults 0, 1). */
export function normal_(tensor: Tensor, mean = 0, std = 1): Tensor {
  checkArgCount('init.normal_', arguments.length, 3);
  native.init('normal_', handleOf('tensor', tensor), checkNumber('mean', mean), checkNumber('std', std, { min: 0, expected: 'a number >= 0' }));
  return tensor;
}

/** Uniform in [a, b) (defaults 0, 1). */
export function uniform_(tensor: Tensor, a = 0, b = 1): Tensor {
  checkArgCount('init.uniform_', arguments.length, 3);
  checkNumber('a', a);
  checkNumber('b', b, { min: a, expected: `a number >= a (${a})` });
  native.init('uniform_', handleOf('tensor', tensor), a, b);
  return tensor;
}

export function constant_(tensor: Tensor, val: number): Tensor {
  checkArgCount('init.constant_', arguments.length, 2);
  const h = handleOf('tensor', tensor);
  native.init('constant_', h, checkElement('val', checkNumber('val', val), tensor.dtype), 0);
  return tensor;
}

export function zeros_(tensor: Tensor): Tensor {
  checkArgCount('init.zeros_', arguments.length, 1);
  native.init('zeros_', handleOf('tensor', tensor), 0, 0);
  return tensor;
}

export function ones_(tensor: Tensor): Tensor {
  checkArgCount('init.ones_', arguments.length, 1);
  native.init('ones_', handleOf('tensor', tensor), 0, 0);
  return tensor;
}
