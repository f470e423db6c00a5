/**
 * torch.nn.functional (also exported as `F`): every operator PyTorch's nn.functional names that libtorch implements
 * under the same name and signature comes generated from the schemas (lib/ops); the few that PyTorch writes in
 * Python, with arguments the operator spells differently (inplace=, training=, reduction='mean', return_indices=),
 * are written here over the operators, as torch/nn/functional.py writes them.
 */
import type { Tensor } from '../tensor';
import { namespace, operator } from '../ops';
import type { FunctionalOps, NamedTuple } from '../ops';
import { checkArgCount, checkBool, checkNumber, invalidValue, parseArgs } from '../validate';

type Op = (...args: unknown[]) => unknown;
/** The aten operator `aten`, as F.`name` names it in errors. */
function op(aten: string, name: string): Op {
  const fn = operator(aten, `torch.nn.functional.${name}`);
  if (!fn) throw new Error(`lenet-torch: this libtorch has no aten::${aten}`);
  return fn;
}
const call = (fn: Op, ...args: unknown[]): Tensor => fn(...args) as Tensor;

const ops = {
  relu: op('relu', 'relu'), relu_: op('relu_', 'relu'),
  threshold: op('threshold', 'threshold'), threshold_: op('threshold_', 'threshold'),
  dropout: op('dropout', 'dropout'), dropout_: op('dropout_', 'dropout'),
  feature_dropout: op('feature_dropout', 'dropout2d'), feature_dropout_: op('feature_dropout_', 'dropout2d'),
  alpha_dropout: op('alpha_dropout', 'alpha_dropout'), alpha_dropout_: op('alpha_dropout_', 'alpha_dropout'),
  feature_alpha_dropout: op('feature_alpha_dropout', 'feature_alpha_dropout'),
  feature_alpha_dropout_: op('feature_alpha_dropout_', 'feature_alpha_dropout'),
  batch_norm: op('batch_norm', 'batch_norm'), layer_norm: op('layer_norm', 'layer_norm'),
  softmax: op('softmax', 'softmax'), log_softmax: op('log_softmax', 'log_softmax'),
  max_pool1d: op('max_pool1d', 'max_pool1d'), max_pool1d_with_indices: op('max_pool1d_with_indices', 'max_pool1d'),
  max_pool2d: op('max_pool2d', 'max_pool2d'), max_pool2d_with_indices: op('max_pool2d_with_indices', 'max_pool2d'),
  adaptive_max_pool2d: op('adaptive_max_pool2d', 'adaptive_max_pool2d'),
  cross_entropy_loss: op('cross_entropy_loss', 'cross_entropy'), nll_loss_nd: op('nll_loss_nd', 'nll_loss'),
  mse_loss: op('mse_loss', 'mse_loss'),
};

/** 'none' | 'mean' | 'sum' as the operators' int (at::Reduction). */
function reduction(value: unknown): number {
  const index = ['none', 'mean', 'sum'].indexOf(value as string);
  if (index < 0) throw invalidValue('reduction', "'none', 'mean' or 'sum'", value);
  return index;
}

/** F.relu(input, inplace=false) */
export function relu(input: Tensor, inplace?: boolean): Tensor;
export function relu(input: Tensor, options: { inplace?: boolean }): Tensor;
export function relu(...args: unknown[]): Tensor {
  const a = parseArgs('relu', ['input', 'inplace'], args, 1);
  return call(checkBool('inplace', a.inplace ?? false) ? ops.relu_ : ops.relu, a.input);
}

/** F.relu_(input): in place. */
export function relu_(input: Tensor): Tensor {
  checkArgCount('relu_', arguments.length, 1);
  return call(ops.relu_, input);
}

/** F.threshold(input, threshold, value, inplace=false): x if x > threshold else value. */
export function threshold(input: Tensor, threshold: number, value: number, inplace?: boolean): Tensor;
export function threshold(...args: unknown[]): Tensor {
  const a = parseArgs('threshold', ['input', 'threshold', 'value', 'inplace'], args, 3);
  return call(checkBool('inplace', a.inplace ?? false) ? ops.threshold_ : ops.threshold, a.input, a.threshold, a.value);
}

function dropoutLike(name: string, fn: Op, fnInplace: Op) {
  return (...args: unknown[]): Tensor => {
    const a = parseArgs(name, ['input', 'p', 'training', 'inplace'], args, 1);
    const p = checkNumber('p', a.p ?? 0.5);
    if (p < 0 || p > 1) throw invalidValue('p', 'a probability between 0 and 1', p);
    const training = checkBool('training', a.training ?? true);
    return call(checkBool('inplace', a.inplace ?? false) ? fnInplace : fn, a.input, p, training);
  };
}
type DropoutFn = {
  (input: Tensor, p?: number, training?: boolean, inplace?: boolean): Tensor;
  (input: Tensor, options: { p?: number; training?: boolean; inplace?: boolean }): Tensor;
};
/** F.dropout(input, p=0.5, training=true, inplace=false): zeroes elements with probability p, scales by 1/(1-p). */
export const dropout: DropoutFn = dropoutLike('dropout', ops.dropout, ops.dropout_);
/** F.dropout2d(input, p=0.5, training=true, inplace=false): zeroes whole channels. */
export const dropout2d: DropoutFn = dropoutLike('dropout2d', ops.feature_dropout, ops.feature_dropout_);
/** F.alpha_dropout(input, p=0.5, training=false, inplace=false) */
export const alpha_dropout: DropoutFn = dropoutLike('alpha_dropout', ops.alpha_dropout, ops.alpha_dropout_);
/** F.feature_alpha_dropout(input, p=0.5, training=false, inplace=false) */
export const feature_alpha_dropout: DropoutFn = dropoutLike('feature_alpha_dropout', ops.feature_alpha_dropout, ops.feature_alpha_dropout_);

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}
/**
 * F.batch_norm(input, running_mean, running_var, weight=null, bias=null, training=false, momentum=0.1, eps=1e-5):
 * in training, normalises by the batch's statistics and updates the running ones in place.
 */
export function batch_norm(input: Tensor, running_mean: Tensor | null, running_var: Tensor | null, options?: BatchNormOptions): Tensor;
export function batch_norm(input: Tensor, running_mean: Tensor | null, running_var: Tensor | null, weight?: Tensor | null,
  bias?: Tensor | null, training?: boolean, momentum?: number, eps?: number): Tensor;
export function batch_norm(...args: unknown[]): Tensor {
  const a = parseArgs('batch_norm', ['input', 'running_mean', 'running_var', 'weight', 'bias', 'training', 'momentum', 'eps'], args, 1);
  return call(ops.batch_norm, a.input, a.weight ?? null, a.bias ?? null, a.running_mean ?? null, a.running_var ?? null,
    checkBool('training', a.training ?? false), checkNumber('momentum', a.momentum ?? 0.1), checkNumber('eps', a.eps ?? 1e-5),
    /*cudnn_enabled=*/ true);
}

/** F.layer_norm(input, normalized_shape, weight=null, bias=null, eps=1e-5) */
export function layer_norm(input: Tensor, normalized_shape: number[], weight?: Tensor | null, bias?: Tensor | null, eps?: number): Tensor;
export function layer_norm(...args: unknown[]): Tensor {
  const a = parseArgs('layer_norm', ['input', 'normalized_shape', 'weight', 'bias', 'eps'], args, 2);
  return call(ops.layer_norm, a.input, a.normalized_shape, a.weight ?? null, a.bias ?? null, checkNumber('eps', a.eps ?? 1e-5));
}

/** F.softmax(input, dim, {dtype}) */
export function softmax(input: Tensor, dim: number, options?: { dtype?: string }): Tensor;
export function softmax(...args: unknown[]): Tensor {
  const a = parseArgs('softmax', ['input', 'dim', 'dtype'], args, 2);
  return call(ops.softmax, a.input, a.dim, a.dtype ?? null);
}

/** F.log_softmax(input, dim, {dtype}) */
export function log_softmax(input: Tensor, dim: number, options?: { dtype?: string }): Tensor;
export function log_softmax(...args: unknown[]): Tensor {
  const a = parseArgs('log_softmax', ['input', 'dim', 'dtype'], args, 2);
  return call(ops.log_softmax, a.input, a.dim, a.dtype ?? null);
}

export interface MaxPoolOptions {
  stride?: number | number[] | null;
  padding?: number | number[];
  dilation?: number | number[];
  ceil_mode?: boolean;
  return_indices?: boolean;
}
function maxPool(name: string, plain: Op, withIndices: Op) {
  return (...args: unknown[]): Tensor | NamedTuple<{ output: Tensor; indices: Tensor }> => {
    const a = parseArgs(name, ['input', 'kernel_size', 'stride', 'padding', 'dilation', 'ceil_mode', 'return_indices'], args, 2);
    const rest = [a.input, a.kernel_size, a.stride ?? [], a.padding ?? 0, a.dilation ?? 1, checkBool('ceil_mode', a.ceil_mode ?? false)];
    if (checkBool('return_indices', a.return_indices ?? false)) return withIndices(...rest) as NamedTuple<{ output: Tensor; indices: Tensor }>;
    return call(plain, ...rest);
  };
}
type MaxPoolFn = {
  (input: Tensor, kernel_size: number | number[], options?: MaxPoolOptions & { return_indices?: false }): Tensor;
  (input: Tensor, kernel_size: number | number[], options: MaxPoolOptions & { return_indices: true }): [Tensor, Tensor];
  (input: Tensor, kernel_size: number | number[], stride?: number | number[] | null, padding?: number | number[],
    dilation?: number | number[], ceil_mode?: boolean): Tensor;
};
/** F.max_pool1d(input, kernel_size, stride=kernel_size, padding=0, dilation=1, ceil_mode=false, return_indices=false) */
export const max_pool1d = maxPool('max_pool1d', ops.max_pool1d, ops.max_pool1d_with_indices) as MaxPoolFn;
/** F.max_pool2d(input, kernel_size, stride=kernel_size, padding=0, dilation=1, ceil_mode=false, return_indices=false) */
export const max_pool2d = maxPool('max_pool2d', ops.max_pool2d, ops.max_pool2d_with_indices) as MaxPoolFn;

/**
 * F.adaptive_max_pool2d(input, output_size, return_indices=false): max pooling to a fixed output size; with
 * return_indices, [output, indices].
 */
export function adaptive_max_pool2d(input: Tensor, output_size: number | number[], return_indices?: false): Tensor;
export function adaptive_max_pool2d(input: Tensor, output_size: number | number[], return_indices: true): [Tensor, Tensor];
export function adaptive_max_pool2d(input: Tensor, output_size: number | number[], options: { return_indices?: boolean }): Tensor | [Tensor, Tensor];
export function adaptive_max_pool2d(...args: unknown[]): Tensor | [Tensor, Tensor] {
  const a = parseArgs('adaptive_max_pool2d', ['input', 'output_size', 'return_indices'], args, 2);
  const both = ops.adaptive_max_pool2d(a.input, a.output_size) as [Tensor, Tensor];
  return checkBool('return_indices', a.return_indices ?? false) ? both : both[0];
}

export interface LossOptions {
  weight?: Tensor | null;
  ignore_index?: number;
  reduction?: 'none' | 'mean' | 'sum';
  label_smoothing?: number;
}
/** F.cross_entropy(input, target, {weight, ignore_index=-100, reduction='mean', label_smoothing=0}) */
export function cross_entropy(input: Tensor, target: Tensor, options?: LossOptions): Tensor;
export function cross_entropy(...args: unknown[]): Tensor {
  const a = parseArgs('cross_entropy', ['input', 'target', 'weight', 'ignore_index', 'reduction', 'label_smoothing'], args, 2);
  return call(ops.cross_entropy_loss, a.input, a.target, a.weight ?? null, reduction(a.reduction ?? 'mean'),
    a.ignore_index ?? -100, checkNumber('label_smoothing', a.label_smoothing ?? 0));
}

/** F.nll_loss(input, target, {weight, ignore_index=-100, reduction='mean'}) */
export function nll_loss(input: Tensor, target: Tensor, options?: Omit<LossOptions, 'label_smoothing'>): Tensor;
export function nll_loss(...args: unknown[]): Tensor {
  const a = parseArgs('nll_loss', ['input', 'target', 'weight', 'ignore_index', 'reduction'], args, 2);
  return call(ops.nll_loss_nd, a.input, a.target, a.weight ?? null, reduction(a.reduction ?? 'mean'), a.ignore_index ?? -100);
}

/** F.mse_loss(input, target, {reduction='mean'}) */
export function mse_loss(input: Tensor, target: Tensor, options?: { reduction?: 'none' | 'mean' | 'sum' }): Tensor;
export function mse_loss(...args: unknown[]): Tensor {
  const a = parseArgs('mse_loss', ['input', 'target', 'reduction'], args, 2);
  return call(ops.mse_loss, a.input, a.target, reduction(a.reduction ?? 'mean'));
}

const HAND = {
  relu, relu_, threshold, dropout, dropout2d, alpha_dropout, feature_alpha_dropout, batch_norm, layer_norm, softmax,
  log_softmax, max_pool1d, max_pool2d, adaptive_max_pool2d, cross_entropy, nll_loss, mse_loss,
};

/** torch.nn.functional: the generated operators and the ones above. */
export const functional: Omit<FunctionalOps, keyof typeof HAND> & typeof HAND = Object.freeze({
  ...(namespace('functional') as unknown as FunctionalOps),
  ...HAND,
});
