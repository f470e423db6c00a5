import { native } from '../binding';
import { Tensor, handleOf } from '../tensor';
import { checkArgCount, checkNumber, checkInt, checkString, invalidType, parseArgs } from '../validate';
import { Module } from './module';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyLossOptions {
  /** Per-class weights, a float tensor of length C. */
  weight?: Tensor | null;
  /** Targets with this class index add nothing to the loss (default -100). */
  ignore_index?: number;
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
  /** In [0, 1] (default 0). */
  label_smoothing?: number;
}

/**
 * Softmax cross-entropy between logits [B, C] and int64 class indices [B], as torch.nn.CrossEntropyLoss.
 * @example const loss = new nn.CrossEntropyLoss(); const l = loss.forward(net.forward(X), y);
 * @throws Error (libtorch) for a target index out of range or mismatched shapes.
 */
export class CrossEntropyLoss extends Module {
  readonly reduction: Reduction;
  readonly ignore_index: number;
  readonly label_smoothing: number;
  readonly weight: Tensor | null;

  constructor(options: CrossEntropyLossOptions = {}) {
    checkArgCount('CrossEntropyLoss', arguments.length, 1);
    super();
    const a = parseArgs('CrossEntropyLoss', ['weight', 'ignore_index', 'reduction', 'label_smoothing'], [options]);
    if (a.weight != null && !(a.weight instanceof Tensor)) throw invalidType('weight', 'a Tensor', a.weight);
    this.weight = (a.weight as Tensor | null | undefined) ?? null;
    this.ignore_index = checkInt('ignore_index', a.ignore_index ?? -100);
    this.reduction = checkString('reduction', a.reduction ?? 'mean', ['mean', 'sum', 'none'] as const);
    this.label_smoothing = checkNumber('label_smoothing', a.label_smoothing ?? 0, { min: 0, max: 1, expected: 'a number in [0, 1]' });
  }

  /** The loss of logits `input` against class indices `target`. */
  override forward(input: Tensor, target: Tensor): Tensor {
    checkArgCount('CrossEntropyLoss.forward', arguments.length, 2);
    return new Tensor(
      native.crossEntropy(handleOf('input', input), handleOf('target', target), {
        reduction: this.reduction,
        ignore_index: this.ignore_index,
        label_smoothing: this.label_smoothing,
        weight: this.weight ? this.weight._h : null,
      }),
    );
  }

  override extra_repr(): string {
    checkArgCount('CrossEntropyLoss.extra_repr', arguments.length, 0);
    return '';
  }
}
