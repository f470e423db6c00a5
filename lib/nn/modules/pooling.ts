/** The pooling modules PyTorch writes over nn.functional (torch/nn/modules/pooling.py) that are not native layers. */
import type { Tensor } from '../../tensor';
import { checkArgCount, checkPair, parseArgs } from '../../validate';
import { functional } from '../functional';
import { Module } from '../module';

type OutputSize = number | [number, number];

/** What the adaptive poolings share: output_size (an integer or a pair), checked and printed as PyTorch's. */
abstract class AdaptivePool2d extends Module {
  readonly output_size: OutputSize;

  protected constructor(name: string, args: unknown[]) {
    const a = parseArgs(name, ['output_size'], args, 1);
    const pair = checkPair('output_size', a.output_size, { min: 1 });
    super();
    this.output_size = typeof a.output_size === 'number' ? pair[0] : pair;
  }

  override extra_repr(): string {
    checkArgCount(`${this.constructor.name}.extra_repr`, arguments.length, 0);
    const s = this.output_size;
    return `output_size=${typeof s === 'number' ? s : `(${s[0]}, ${s[1]})`}`;
  }
}

/**
 * Average pooling to a fixed output size whatever the input's, as torch.nn.AdaptiveAvgPool2d:
 * `new nn.AdaptiveAvgPool2d([1, 1])` or `new nn.AdaptiveAvgPool2d(1)` (NiN's, GoogLeNet's, ResNet's global pooling).
 * @throws TypeError / RangeError naming output_size unless it is a positive integer or a pair of them.
 */
export class AdaptiveAvgPool2d extends AdaptivePool2d {
  constructor(output_size: OutputSize);
  constructor(options: { output_size: OutputSize });
  constructor(...args: unknown[]) {
    super('AdaptiveAvgPool2d', args);
  }

  /** F.adaptive_avg_pool2d(input, output_size): input [N, C, H, W] or [C, H, W]. */
  override forward(input: Tensor): Tensor {
    checkArgCount('AdaptiveAvgPool2d.forward', arguments.length, 1);
    return functional.adaptive_avg_pool2d(input, this.output_size);
  }
}

/**
 * Max pooling to a fixed output size, as torch.nn.AdaptiveMaxPool2d: `new nn.AdaptiveMaxPool2d([1, 1])` (DenseNet's).
 * @throws TypeError / RangeError naming output_size unless it is a positive integer or a pair of them.
 */
export class AdaptiveMaxPool2d extends AdaptivePool2d {
  constructor(output_size: OutputSize);
  constructor(options: { output_size: OutputSize });
  constructor(...args: unknown[]) {
    super('AdaptiveMaxPool2d', args);
  }

  /** F.adaptive_max_pool2d(input, output_size): input [N, C, H, W] or [C, H, W]. */
  override forward(input: Tensor): Tensor {
    checkArgCount('AdaptiveMaxPool2d.forward', arguments.length, 1);
    return functional.adaptive_max_pool2d(input, this.output_size);
  }
}
