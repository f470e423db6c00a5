// The seven nets of d2l's "Modern Convolutional Neural Networks" (and the from-scratch batch norm of its batch-norm
// section), line for line from the book's #@tab pytorch blocks: PyTorch's `nn.X(...)` is `new nn.X(...)`, `blk(X)` is
// `blk.forward(X)`, `Y += X` is `Y.add_(X)`. test/interop/chapter7.py holds the same nets in PyTorch.
import { F, nn, torch, Tensor } from '../lib';

export function alexnet(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 96, { kernel_size: 11, stride: 4, padding: 1 }), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2 }),
    new nn.Conv2d(96, 256, { kernel_size: 5, padding: 2 }), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2 }),
    new nn.Conv2d(256, 384, { kernel_size: 3, padding: 1 }), new nn.ReLU(),
    new nn.Conv2d(384, 384, { kernel_size: 3, padding: 1 }), new nn.ReLU(),
    new nn.Conv2d(384, 256, { kernel_size: 3, padding: 1 }), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2 }),
    new nn.Flatten(),
    new nn.Linear(6400, 4096), new nn.ReLU(), new nn.Dropout({ p: 0.5 }),
    new nn.Linear(4096, 4096), new nn.ReLU(), new nn.Dropout({ p: 0.5 }),
    new nn.Linear(4096, 10));
}

function vgg_block(num_convs: number, in_channels: number, out_channels: number): nn.Sequential {
  const layers: nn.Module[] = [];
  for (let i = 0; i < num_convs; i++) {
    layers.push(new nn.Conv2d(in_channels, out_channels, { kernel_size: 3, padding: 1 }));
    layers.push(new nn.ReLU());
    in_channels = out_channels;
  }
  layers.push(new nn.MaxPool2d({ kernel_size: 2, stride: 2 }));
  return new nn.Sequential(...layers);
}

export function vgg(conv_arch: [number, number][]): nn.Sequential {
  const conv_blks: nn.Module[] = [];
  let in_channels = 1;
  let out_channels = 0;
  for (const [num_convs, out] of conv_arch) {
    out_channels = out;
    conv_blks.push(vgg_block(num_convs, in_channels, out_channels));
    in_channels = out_channels;
  }
  return new nn.Sequential(
    ...conv_blks, new nn.Flatten(),
    new nn.Linear(out_channels * 7 * 7, 4096), new nn.ReLU(), new nn.Dropout(0.5),
    new nn.Linear(4096, 4096), new nn.ReLU(), new nn.Dropout(0.5),
    new nn.Linear(4096, 10));
}

/** The book trains VGG-11 with a fourth of the channels (`ratio = 4`). */
export function vgg_small(): nn.Sequential {
  const conv_arch: [number, number][] = [[1, 64], [1, 128], [2, 256], [2, 512], [2, 512]];
  const ratio = 4;
  return vgg(conv_arch.map(([n, c]) => [n, Math.floor(c / ratio)]));
}

function nin_block(in_channels: number, out_channels: number, kernel_size: number, strides: number, padding: number) {
  return new nn.Sequential(
    new nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), new nn.ReLU(),
    new nn.Conv2d(out_channels, out_channels, { kernel_size: 1 }), new nn.ReLU(),
    new nn.Conv2d(out_channels, out_channels, { kernel_size: 1 }), new nn.ReLU());
}

export function nin(): nn.Sequential {
  return new nn.Sequential(
    nin_block(1, 96, 11, 4, 0), new nn.MaxPool2d(3, { stride: 2 }),
    nin_block(96, 256, 5, 1, 2), new nn.MaxPool2d(3, { stride: 2 }),
    nin_block(256, 384, 3, 1, 1), new nn.MaxPool2d(3, { stride: 2 }),
    new nn.Dropout(0.5),
    nin_block(384, 10, 3, 1, 1),
    new nn.AdaptiveAvgPool2d([1, 1]), new nn.Flatten());
}

export class Inception extends nn.Module {
  p1_1: nn.Conv2d; p2_1: nn.Conv2d; p2_2: nn.Conv2d; p3_1: nn.Conv2d; p3_2: nn.Conv2d; p4_1: nn.MaxPool2d; p4_2: nn.Conv2d;
  // `c1`--`c4` are the number of output channels for each path
  constructor(in_channels: number, c1: number, c2: [number, number], c3: [number, number], c4: number) {
    super();
    this.p1_1 = new nn.Conv2d(in_channels, c1, { kernel_size: 1 });
    this.p2_1 = new nn.Conv2d(in_channels, c2[0], { kernel_size: 1 });
    this.p2_2 = new nn.Conv2d(c2[0], c2[1], { kernel_size: 3, padding: 1 });
    this.p3_1 = new nn.Conv2d(in_channels, c3[0], { kernel_size: 1 });
    this.p3_2 = new nn.Conv2d(c3[0], c3[1], { kernel_size: 5, padding: 2 });
    this.p4_1 = new nn.MaxPool2d({ kernel_size: 3, stride: 1, padding: 1 });
    this.p4_2 = new nn.Conv2d(in_channels, c4, { kernel_size: 1 });
  }

  override forward(x: Tensor): Tensor {
    const p1 = F.relu(this.p1_1.forward(x));
    const p2 = F.relu(this.p2_2.forward(F.relu(this.p2_1.forward(x))));
    const p3 = F.relu(this.p3_2.forward(F.relu(this.p3_1.forward(x))));
    const p4 = F.relu(this.p4_2.forward(this.p4_1.forward(x)));
    // Concatenate the outputs on the channel dimension
    return torch.cat([p1, p2, p3, p4], { dim: 1 });
  }
}

export function googlenet(): nn.Sequential {
  const b1 = new nn.Sequential(new nn.Conv2d(1, 64, { kernel_size: 7, stride: 2, padding: 3 }), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2, padding: 1 }));
  const b2 = new nn.Sequential(new nn.Conv2d(64, 64, { kernel_size: 1 }), new nn.ReLU(),
    new nn.Conv2d(64, 192, { kernel_size: 3, padding: 1 }),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2, padding: 1 }));
  const b3 = new nn.Sequential(new Inception(192, 64, [96, 128], [16, 32], 32),
    new Inception(256, 128, [128, 192], [32, 96], 64),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2, padding: 1 }));
  const b4 = new nn.Sequential(new Inception(480, 192, [96, 208], [16, 48], 64),
    new Inception(512, 160, [112, 224], [24, 64], 64),
    new Inception(512, 128, [128, 256], [24, 64], 64),
    new Inception(512, 112, [144, 288], [32, 64], 64),
    new Inception(528, 256, [160, 320], [32, 128], 128),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2, padding: 1 }));
  const b5 = new nn.Sequential(new Inception(832, 256, [160, 320], [32, 128], 128),
    new Inception(832, 384, [192, 384], [48, 128], 128),
    new nn.AdaptiveAvgPool2d([1, 1]), new nn.Flatten());
  return new nn.Sequential(b1, b2, b3, b4, b5, new nn.Linear(1024, 10));
}

/** The batch-norm section's from-scratch function. */
function batch_norm(X: Tensor, gamma: Tensor, beta: Tensor, moving_mean: Tensor, moving_var: Tensor, eps: number,
                    momentum: number): [Tensor, Tensor, Tensor] {
  let X_hat: Tensor;
  // Use `is_grad_enabled` to determine whether the current mode is training mode or prediction mode
  if (!torch.is_grad_enabled()) {
    X_hat = X.sub(moving_mean).div(torch.sqrt(moving_var.add(eps)));
  } else {
    if (![2, 4].includes(X.shape.length)) throw new RangeError('batch_norm takes 2D or 4D inputs');
    let mean: Tensor;
    let variance: Tensor;
    if (X.shape.length === 2) {
      mean = X.mean({ dim: 0 });
      variance = X.sub(mean).pow(2).mean({ dim: 0 });
    } else {
      mean = X.mean({ dim: [0, 2, 3], keepdim: true });
      variance = X.sub(mean).pow(2).mean({ dim: [0, 2, 3], keepdim: true });
    }
    X_hat = X.sub(mean).div(torch.sqrt(variance.add(eps)));
    moving_mean = moving_mean.mul(momentum).add(mean.mul(1.0 - momentum));
    moving_var = moving_var.mul(momentum).add(variance.mul(1.0 - momentum));
  }
  const Y = gamma.mul(X_hat).add(beta); // Scale and shift
  return [Y, moving_mean.detach(), moving_var.detach()];
}

/** The batch-norm section's from-scratch layer: gamma and beta are Parameters, the moving statistics plain attributes. */
export class BatchNorm extends nn.Module {
  gamma: nn.Parameter;
  beta: nn.Parameter;
  moving_mean: Tensor;
  moving_var: Tensor;

  constructor(num_features: number, num_dims: number) {
    super();
    const shape = num_dims === 2 ? [1, num_features] : [1, num_features, 1, 1];
    this.gamma = new nn.Parameter(torch.ones(shape));
    this.beta = new nn.Parameter(torch.zeros(shape));
    this.moving_mean = torch.zeros(shape);
    this.moving_var = torch.ones(shape);
  }

  override forward(X: Tensor): Tensor {
    if (String(this.moving_mean.device) !== String(X.device)) {
      this.moving_mean = this.moving_mean.to(X.device);
      this.moving_var = this.moving_var.to(X.device);
    }
    let Y: Tensor;
    [Y, this.moving_mean, this.moving_var] = batch_norm(X, this.gamma, this.beta, this.moving_mean, this.moving_var, 1e-5, 0.9);
    return Y;
  }
}

export function batchnorm_scratch(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 6, { kernel_size: 5 }), new BatchNorm(6, 4), new nn.Sigmoid(),
    new nn.MaxPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Conv2d(6, 16, { kernel_size: 5 }), new BatchNorm(16, 4), new nn.Sigmoid(),
    new nn.MaxPool2d({ kernel_size: 2, stride: 2 }), new nn.Flatten(),
    new nn.Linear(16 * 4 * 4, 120), new BatchNorm(120, 2), new nn.Sigmoid(),
    new nn.Linear(120, 84), new BatchNorm(84, 2), new nn.Sigmoid(),
    new nn.Linear(84, 10));
}

export function batchnorm(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 6, { kernel_size: 5 }), new nn.BatchNorm2d(6), new nn.Sigmoid(),
    new nn.MaxPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Conv2d(6, 16, { kernel_size: 5 }), new nn.BatchNorm2d(16), new nn.Sigmoid(),
    new nn.MaxPool2d({ kernel_size: 2, stride: 2 }), new nn.Flatten(),
    new nn.Linear(256, 120), new nn.BatchNorm1d(120), new nn.Sigmoid(),
    new nn.Linear(120, 84), new nn.BatchNorm1d(84), new nn.Sigmoid(),
    new nn.Linear(84, 10));
}

/** The Residual block of ResNet. */
export class Residual extends nn.Module {
  conv1: nn.Conv2d;
  conv2: nn.Conv2d;
  conv3: nn.Conv2d | null;
  bn1: nn.BatchNorm2d;
  bn2: nn.BatchNorm2d;

  constructor(input_channels: number, num_channels: number, use_1x1conv = false, strides = 1) {
    super();
    this.conv1 = new nn.Conv2d(input_channels, num_channels, { kernel_size: 3, padding: 1, stride: strides });
    this.conv2 = new nn.Conv2d(num_channels, num_channels, { kernel_size: 3, padding: 1 });
    this.conv3 = use_1x1conv ? new nn.Conv2d(input_channels, num_channels, { kernel_size: 1, stride: strides }) : null;
    this.bn1 = new nn.BatchNorm2d(num_channels);
    this.bn2 = new nn.BatchNorm2d(num_channels);
  }

  override forward(X: Tensor): Tensor {
    const Y = F.relu(this.bn1.forward(this.conv1.forward(X)));
    const Z = this.bn2.forward(this.conv2.forward(Y));
    if (this.conv3) X = this.conv3.forward(X);
    Z.add_(X);
    return F.relu(Z);
  }
}

function resnet_block(input_channels: number, num_channels: number, num_residuals: number, first_block = false) {
  const blk: nn.Module[] = [];
  for (let i = 0; i < num_residuals; i++) {
    if (i === 0 && !first_block) blk.push(new Residual(input_channels, num_channels, true, 2));
    else blk.push(new Residual(num_channels, num_channels));
  }
  return blk;
}

export function resnet(): nn.Sequential {
  const b1 = new nn.Sequential(new nn.Conv2d(1, 64, { kernel_size: 7, stride: 2, padding: 3 }),
    new nn.BatchNorm2d(64), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2, padding: 1 }));
  const b2 = new nn.Sequential(...resnet_block(64, 64, 2, true));
  const b3 = new nn.Sequential(...resnet_block(64, 128, 2));
  const b4 = new nn.Sequential(...resnet_block(128, 256, 2));
  const b5 = new nn.Sequential(...resnet_block(256, 512, 2));
  return new nn.Sequential(b1, b2, b3, b4, b5, new nn.AdaptiveAvgPool2d([1, 1]), new nn.Flatten(), new nn.Linear(512, 10));
}

function conv_block(input_channels: number, num_channels: number): nn.Sequential {
  return new nn.Sequential(
    new nn.BatchNorm2d(input_channels), new nn.ReLU(),
    new nn.Conv2d(input_channels, num_channels, { kernel_size: 3, padding: 1 }));
}

export class DenseBlock extends nn.Module {
  net: nn.Sequential;

  constructor(num_convs: number, input_channels: number, num_channels: number) {
    super();
    const layer: nn.Module[] = [];
    for (let i = 0; i < num_convs; i++) layer.push(conv_block(num_channels * i + input_channels, num_channels));
    this.net = new nn.Sequential(...layer);
  }

  override forward(X: Tensor): Tensor {
    for (const blk of this.net) {
      const Y = blk.forward(X);
      // Concatenate the input and output of each block on the channel dimension
      X = torch.cat([X, Y], { dim: 1 });
    }
    return X;
  }
}

function transition_block(input_channels: number, num_channels: number): nn.Sequential {
  return new nn.Sequential(
    new nn.BatchNorm2d(input_channels), new nn.ReLU(),
    new nn.Conv2d(input_channels, num_channels, { kernel_size: 1 }),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }));
}

export function densenet(): nn.Sequential {
  const b1 = new nn.Sequential(
    new nn.Conv2d(1, 64, { kernel_size: 7, stride: 2, padding: 3 }),
    new nn.BatchNorm2d(64), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2, padding: 1 }));
  // `num_channels`: the current number of channels
  let num_channels = 64;
  const growth_rate = 32;
  const num_convs_in_dense_blocks = [4, 4, 4, 4];
  const blks: nn.Module[] = [];
  num_convs_in_dense_blocks.forEach((num_convs, i) => {
    blks.push(new DenseBlock(num_convs, num_channels, growth_rate));
    // This is the number of output channels in the previous dense block
    num_channels += num_convs * growth_rate;
    // A transition layer that halves the number of channels is added between the dense blocks
    if (i !== num_convs_in_dense_blocks.length - 1) {
      blks.push(transition_block(num_channels, Math.floor(num_channels / 2)));
      num_channels = Math.floor(num_channels / 2);
    }
  });
  return new nn.Sequential(
    b1, ...blks,
    new nn.BatchNorm2d(num_channels), new nn.ReLU(),
    new nn.AdaptiveMaxPool2d([1, 1]),
    new nn.Flatten(),
    new nn.Linear(num_channels, 10));
}

/** Each net with the learning rate and resize its section trains it with. */
export const NETS: Record<string, { make: () => nn.Sequential; lr: number; resize: number | null }> = {
  alexnet: { make: alexnet, lr: 0.01, resize: 224 },
  vgg: { make: vgg_small, lr: 0.05, resize: 224 },
  nin: { make: nin, lr: 0.1, resize: 224 },
  googlenet: { make: googlenet, lr: 0.1, resize: 96 },
  batchnorm_scratch: { make: batchnorm_scratch, lr: 1.0, resize: null },
  batchnorm: { make: batchnorm, lr: 1.0, resize: null },
  resnet: { make: resnet, lr: 0.05, resize: 96 },
  densenet: { make: densenet, lr: 0.1, resize: 96 },
};
