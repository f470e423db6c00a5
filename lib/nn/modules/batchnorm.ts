/**
 * Batch normalization as torch/nn/modules/batchnorm.py: parameters weight and bias, buffers running_mean,
 * running_var and num_batches_tracked, all registered through the one module mechanism, over F.batch_norm.
 */
import type { Tensor } from '../../tensor';
import { ones, zeros } from '../../torch';
import { checkArgCount, checkBool, checkInt, checkNumber, invalidValue, parseArgs } from '../../validate';
import { batch_norm } from '../functional';
import { Module, Parameter } from '../module';

export interface BatchNormModuleOptions {
  /** Added to the variance for stability; default 1e-5. */
  eps?: number;
  /** The running statistics' update factor; default 0.1; null for a cumulative average. */
  momentum?: number | null;
  /** Learnable weight and bias (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); without, eval mode normalises by the batch's. */
  track_running_stats?: boolean;
}

const ARGS = ['num_features', 'eps', 'momentum', 'affine', 'track_running_stats'];

abstract class BatchNorm extends Module {
  readonly num_features: number;
  eps: number;
  momentum: number | null;
  readonly affine: boolean;
  readonly track_running_stats: boolean;
  declare weight: Parameter | null;
  declare bias: Parameter | null;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  declare num_batches_tracked: Tensor | null;

  protected constructor(name: string, args: unknown[]) {
    const a = parseArgs(name, ARGS, args, 1);
    const num_features = checkInt('num_features', a.num_features, { min: 1 });
    const eps = checkNumber('eps', a.eps ?? 1e-5);
    if (!(eps > 0)) throw invalidValue('eps', 'a positive number', eps);
    const momentum = a.momentum === null ? null : checkNumber('momentum', a.momentum ?? 0.1);
    const affine = checkBool('affine', a.affine ?? true);
    const track_running_stats = checkBool('track_running_stats', a.track_running_stats ?? true);
    super();
    this.num_features = num_features;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    this.track_running_stats = track_running_stats;
    if (affine) {
      this.weight = new Parameter(ones([num_features]));
      this.bias = new Parameter(zeros([num_features]));
    } else {
      this.register_parameter('weight', null);
      this.register_parameter('bias', null);
    }
    this.register_buffer('running_mean', track_running_stats ? zeros([num_features]) : null);
    this.register_buffer('running_var', track_running_stats ? ones([num_features]) : null);
    this.register_buffer('num_batches_tracked', track_running_stats ? zeros([], { dtype: 'int64' }) : null);
  }

  /**
   * Normalises input per channel (dim 1): in training mode by the batch's statistics, updating the running ones
   * (and num_batches_tracked); in eval mode by the running statistics.
   * @throws TypeError when input is not a Tensor; RangeError for the wrong number of dimensions; Error (libtorch)
   *   when its channels are not num_features.
   */
  override forward(input: Tensor): Tensor {
    checkArgCount(`${this.constructor.name}.forward`, arguments.length, 1);
    checkDims.call(this, input);
    let factor = this.momentum ?? 0;
    if (this.training && this.track_running_stats && this.num_batches_tracked !== null) {
      this.num_batches_tracked.add_(1);
      factor = this.momentum ?? 1 / Number(this.num_batches_tracked.item());
    }
    const bnTraining = this.training || (this.running_mean === null && this.running_var === null);
    const useRunning = !this.training || this.track_running_stats;
    return batch_norm(input, useRunning ? this.running_mean : null, useRunning ? this.running_var : null, {
      weight: this.weight, bias: this.bias, training: bnTraining, momentum: factor, eps: this.eps,
    });
  }

  override extra_repr(): string {
    checkArgCount(`${this.constructor.name}.extra_repr`, arguments.length, 0);
    const py = (b: boolean) => (b ? 'True' : 'False');
    return `${this.num_features}, eps=${this.eps}, momentum=${this.momentum ?? 'None'}, affine=${py(this.affine)}, ` +
      `track_running_stats=${py(this.track_running_stats)}`;
  }
}

/** RangeError unless input has the dimensions its module's kind takes (PyTorch's _check_input_dim). */
function checkDims(this: BatchNorm, input: Tensor): void {
  const [dims, what] = this instanceof BatchNorm1d ? [[2, 3], '2D or 3D ([N, C] or [N, C, L])'] : [[4], '4D ([N, C, H, W])'];
  // A non-Tensor reaches F.batch_norm's own TypeError.
  const n = (input as { dim?: () => number })?.dim?.();
  if (typeof n === 'number' && !dims.includes(n)) {
    throw new RangeError(`Expected input to be ${what} but received a ${n}D tensor of shape ${input.shape}`);
  }
}

/**
 * Batch normalization over [N, C] or [N, C, L] inputs, as torch.nn.BatchNorm1d:
 * `new nn.BatchNorm1d(120)`, `new nn.BatchNorm1d(120, {momentum: 0.1, eps: 1e-5, affine: true})`.
 * @throws TypeError / RangeError naming the argument (num_features, eps, momentum, affine, track_running_stats).
 */
export class BatchNorm1d extends BatchNorm {
  constructor(num_features: number, options?: BatchNormModuleOptions);
  constructor(num_features: number, eps?: number, momentum?: number | null, affine?: boolean, track_running_stats?: boolean);
  constructor(...args: unknown[]) {
    super('BatchNorm1d', args);
  }
}

/**
 * Batch normalization over [N, C, H, W] inputs, per channel, as torch.nn.BatchNorm2d: `new nn.BatchNorm2d(6)`.
 * @throws TypeError / RangeError naming the argument (num_features, eps, momentum, affine, track_running_stats).
 */
export class BatchNorm2d extends BatchNorm {
  constructor(num_features: number, options?: BatchNormModuleOptions);
  constructor(num_features: number, eps?: number, momentum?: number | null, affine?: boolean, track_running_stats?: boolean);
  constructor(...args: unknown[]) {
    super('BatchNorm2d', args);
  }
}
