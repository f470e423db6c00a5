/** Dropout as torch/nn/modules/dropout.py: a module over F.dropout that follows its own training flag. */
import type { Tensor } from '../../tensor';
import { checkArgCount, checkBool, checkNumber, invalidValue, parseArgs } from '../../validate';
import { dropout } from '../functional';
import { Module } from '../module';

/**
 * During training, zeroes each element with probability p and scales the others by 1 / (1 - p); in eval mode, the
 * identity. As torch.nn.Dropout: `new nn.Dropout(0.5)`, `new nn.Dropout({p: 0.5, inplace: false})`.
 * @throws TypeError when p is not a number or inplace not a boolean; RangeError when p is outside [0, 1].
 */
export class Dropout extends Module {
  p: number;
  inplace: boolean;

  constructor(p?: number, inplace?: boolean);
  constructor(options: { p?: number; inplace?: boolean });
  constructor(...args: unknown[]) {
    const a = parseArgs('Dropout', ['p', 'inplace'], args);
    const p = checkNumber('p', a.p ?? 0.5);
    if (!(p >= 0 && p <= 1)) throw invalidValue('p', 'a probability between 0 and 1', p);
    const inplace = checkBool('inplace', a.inplace ?? false);
    super();
    this.p = p;
    this.inplace = inplace;
  }

  /** F.dropout(input, p, this.training, inplace). */
  override forward(input: Tensor): Tensor {
    checkArgCount('Dropout.forward', arguments.length, 1);
    return dropout(input, this.p, this.training, this.inplace);
  }

  override extra_repr(): string {
    checkArgCount('Dropout.extra_repr', arguments.length, 0);
    return `p=${this.p}, inplace=${this.inplace ? 'True' : 'False'}`;
  }
}
