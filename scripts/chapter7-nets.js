// The nets of d2l's "Modern Convolutional Neural Networks" (AlexNet, VGG, NiN, GoogLeNet, batch normalization,
// ResNet, DenseNet), line for line from the book's #@tab pytorch blocks: PyTorch's `nn.X(...)` is `new nn.X(...)`,
// `blk(X)` is `blk.forward(X)`, `Y += X` is `Y.add_(X)`. The one definition that `npm run chapter7`
// (scripts/chapter7.js) trains and test/chapter7.test.ts checks step for step against PyTorch's
// (test/interop/chapter7.py holds the same nets in PyTorch). Plain JS, as a user of the package writes the chapter.
'use strict';
const { F, nn, torch } = require('lenet-torch');

// ---- AlexNet ----

function alexnet() {
  return new nn.Sequential(
    // Here, we use a larger 11 x 11 window to capture objects. At the same time, we use a stride of 4 to greatly
    // reduce the height and width of the output. Here, the number of output channels is much larger than that in LeNet
    new nn.Conv2d(1, 96, { kernel_size: 11, stride: 4, padding: 1 }), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2 }),
    // Make the convolution window smaller, set padding to 2 for consistent height and width across the input and
    // output, and increase the number of output channels
    new nn.Conv2d(96, 256, { kernel_size: 5, padding: 2 }), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2 }),
    // Use three successive convolutional layers and a smaller convolution window. Except for the final convolutional
    // layer, the number of output channels is further increased. Pooling layers are not used to reduce the height and
    // width of input after the first two convolutional layers
    new nn.Conv2d(256, 384, { kernel_size: 3, padding: 1 }), new nn.ReLU(),
    new nn.Conv2d(384, 384, { kernel_size: 3, padding: 1 }), new nn.ReLU(),
    new nn.Conv2d(384, 256, { kernel_size: 3, padding: 1 }), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2 }),
    new nn.Flatten(),
    // Here, the number of outputs of the fully-connected layer is several times larger than that in LeNet. Use the
    // dropout layer to mitigate overfitting
    new nn.Linear(6400, 4096), new nn.ReLU(), new nn.Dropout({ p: 0.5 }),
    new nn.Linear(4096, 4096), new nn.ReLU(), new nn.Dropout({ p: 0.5 }),
    // Output layer. Since we are using Fashion-MNIST, the number of classes is 10, instead of 1000 as in the paper
    new nn.Linear(4096, 10));
}

// ---- VGG ----

function vgg_block(num_convs, in_channels, out_channels) {
  const layers = [];
  for (let i = 0; i < num_convs; i++) {
    layers.push(new nn.Conv2d(in_channels, out_channels, { kernel_size: 3, padding: 1 }));
    layers.push(new nn.ReLU());
    in_channels = out_channels;
  }
  layers.push(new nn.MaxPool2d({ kernel_size: 2, stride: 2 }));
  return new nn.Sequential(...layers);
}

/** VGG-11's convolutional part: (number of convolutions, output channels) per block. */
const conv_arch = [[1, 64], [1, 128], [2, 256], [2, 512], [2, 512]];

function vgg(conv_arch) {
  const conv_blks = [];
  let in_channels = 1;
  let out_channels = 0;
  // The convolutional part
  for (const [num_convs, out] of conv_arch) {
    out_channels = out;
    conv_blks.push(vgg_block(num_convs, in_channels, out_channels));
    in_channels = out_channels;
  }
  return new nn.Sequential(
    ...conv_blks, new nn.Flatten(),
    // The fully-connected part
    new nn.Linear(out_channels * 7 * 7, 4096), new nn.ReLU(), new nn.Dropout(0.5),
    new nn.Linear(4096, 4096), new nn.ReLU(), new nn.Dropout(0.5),
    new nn.Linear(4096, 10));
}

/** The net the section trains: VGG-11 with a fourth of the channels (`ratio = 4`). */
function vgg_small() {
  const ratio = 4;
  const small_conv_arch = conv_arch.map((pair) => [pair[0], Math.floor(pair[1] / ratio)]);
  return vgg(small_conv_arch);
}

// ---- NiN ----

function nin_block(in_channels, out_channels, kernel_size, strides, padding) {
  return new nn.Sequential(
    new nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), new nn.ReLU(),
    new nn.Conv2d(out_channels, out_channels, { kernel_size: 1 }), new nn.ReLU(),
    new nn.Conv2d(out_channels, out_channels, { kernel_size: 1 }), new nn.ReLU());
}

function nin() {
  return new nn.Sequential(
    nin_block(1, 96, 11, 4, 0), new nn.MaxPool2d(3, { stride: 2 }),
    nin_block(96, 256, 5, 1, 2), new nn.MaxPool2d(3, { stride: 2 }),
    nin_block(256, 384, 3, 1, 1), new nn.MaxPool2d(3, { stride: 2 }),
    new nn.Dropout(0.5),
    // There are 10 label classes
    nin_block(384, 10, 3, 1, 1),
    new nn.AdaptiveAvgPool2d([1, 1]),
    // Transform the four-dimensional output into two-dimensional output with a shape of (batch size, 10)
    new nn.Flatten());
}

// ---- GoogLeNet ----

class Inception extends nn.Module {
  // `c1`--`c4` are the number of output channels for each path
  constructor(in_channels, c1, c2, c3, c4) {
    super();
    // Path 1 is a single 1 x 1 convolutional layer
    this.p1_1 = new nn.Conv2d(in_channels, c1, { kernel_size: 1 });
    // Path 2 is a 1 x 1 convolutional layer followed by a 3 x 3 convolutional layer
    this.p2_1 = new nn.Conv2d(in_channels, c2[0], { kernel_size: 1 });
    this.p2_2 = new nn.Conv2d(c2[0], c2[1], { kernel_size: 3, padding: 1 });
    // Path 3 is a 1 x 1 convolutional layer followed by a 5 x 5 convolutional layer
    this.p3_1 = new nn.Conv2d(in_channels, c3[0], { kernel_size: 1 });
    this.p3_2 = new nn.Conv2d(c3[0], c3[1], { kernel_size: 5, padding: 2 });
    // Path 4 is a 3 x 3 maximum pooling layer followed by a 1 x 1 convolutional layer
    this.p4_1 = new nn.MaxPool2d({ kernel_size: 3, stride: 1, padding: 1 });
    this.p4_2 = new nn.Conv2d(in_channels, c4, { kernel_size: 1 });
  }

  forward(x) {
    const p1 = F.relu(this.p1_1.forward(x));
    const p2 = F.relu(this.p2_2.forward(F.relu(this.p2_1.forward(x))));
    const p3 = F.relu(this.p3_2.forward(F.relu(this.p3_1.forward(x))));
    const p4 = F.relu(this.p4_2.forward(this.p4_1.forward(x)));
    // Concatenate the outputs on the channel dimension
    return torch.cat([p1, p2, p3, p4], { dim: 1 });
  }
}

function googlenet() {
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
    new nn.AdaptiveAvgPool2d([1, 1]),
    new nn.Flatten());
  return new nn.Sequential(b1, b2, b3, b4, b5, new nn.Linear(1024, 10));
}

// ---- Batch normalization ----

function batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum) {
  let X_hat;
  // Use `is_grad_enabled` to determine whether the current mode is training mode or prediction mode
  if (!torch.is_grad_enabled()) {
    // If it is prediction mode, directly use the mean and variance obtained by moving average
    X_hat = X.sub(moving_mean).div(torch.sqrt(moving_var.add(eps)));
  } else {
    if (![2, 4].includes(X.shape.length)) throw new RangeError('batch_norm takes 2D or 4D inputs');
    let mean;
    let variance;
    if (X.shape.length === 2) {
      // When using a fully-connected layer, calculate the mean and variance on the feature dimension
      mean = X.mean({ dim: 0 });
      variance = X.sub(mean).pow(2).mean({ dim: 0 });
    } else {
      // When using a two-dimensional convolutional layer, calculate the mean and variance on the channel dimension
      // (axis=1). Here we need to maintain the shape of `X`, so that the broadcasting operation can be carried out
      // later
      mean = X.mean({ dim: [0, 2, 3], keepdim: true });
      variance = X.sub(mean).pow(2).mean({ dim: [0, 2, 3], keepdim: true });
    }
    // In training mode, the current mean and variance are used for the standardization
    X_hat = X.sub(mean).div(torch.sqrt(variance.add(eps)));
    // Update the mean and variance using moving average
    moving_mean = moving_mean.mul(momentum).add(mean.mul(1.0 - momentum));
    moving_var = moving_var.mul(momentum).add(variance.mul(1.0 - momentum));
  }
  const Y = gamma.mul(X_hat).add(beta); // Scale and shift
  return [Y, moving_mean.detach(), moving_var.detach()];
}

class BatchNorm extends nn.Module {
  // `num_features`: the number of outputs for a fully-connected layer or the number of output channels for a
  // convolutional layer. `num_dims`: 2 for a fully-connected layer and 4 for a convolutional layer
  constructor(num_features, num_dims) {
    super();
    const shape = num_dims === 2 ? [1, num_features] : [1, num_features, 1, 1];
    // The scale parameter and the shift parameter (model parameters) are initialized to 1 and 0, respectively
    this.gamma = new nn.Parameter(torch.ones(shape));
    this.beta = new nn.Parameter(torch.zeros(shape));
    // The variables that are not model parameters are initialized to 0 and 1
    this.moving_mean = torch.zeros(shape);
    this.moving_var = torch.ones(shape);
  }

  forward(X) {
    // If `X` is not on the main memory, copy `moving_mean` and `moving_var` to the device where `X` is located
    if (String(this.moving_mean.device) !== String(X.device)) {
      this.moving_mean = this.moving_mean.to(X.device);
      this.moving_var = this.moving_var.to(X.device);
    }
    // Save the updated `moving_mean` and `moving_var`
    let Y;
    [Y, this.moving_mean, this.moving_var] = batch_norm(
      X, this.gamma, this.beta, this.moving_mean, this.moving_var, 1e-5, 0.9);
    return Y;
  }
}

/** The section's LeNet with the from-scratch BatchNorm. */
function batchnorm() {
  return new nn.Sequential(
    new nn.Conv2d(1, 6, { kernel_size: 5 }), new BatchNorm(6, 4), new nn.Sigmoid(),
    new nn.MaxPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Conv2d(6, 16, { kernel_size: 5 }), new BatchNorm(16, 4), new nn.Sigmoid(),
    new nn.MaxPool2d({ kernel_size: 2, stride: 2 }), new nn.Flatten(),
    new nn.Linear(16 * 4 * 4, 120), new BatchNorm(120, 2), new nn.Sigmoid(),
    new nn.Linear(120, 84), new BatchNorm(84, 2), new nn.Sigmoid(),
    new nn.Linear(84, 10));
}

/** The section's concise implementation: the same LeNet with nn.BatchNorm2d / nn.BatchNorm1d. */
function batchnorm_concise() {
  return new nn.Sequential(
    new nn.Conv2d(1, 6, { kernel_size: 5 }), new nn.BatchNorm2d(6), new nn.Sigmoid(),
    new nn.MaxPool2d({ kernel_size: 2, stride: 2 }),
    new nn.Conv2d(6, 16, { kernel_size: 5 }), new nn.BatchNorm2d(16), new nn.Sigmoid(),
    new nn.MaxPool2d({ kernel_size: 2, stride: 2 }), new nn.Flatten(),
    new nn.Linear(256, 120), new nn.BatchNorm1d(120), new nn.Sigmoid(),
    new nn.Linear(120, 84), new nn.BatchNorm1d(84), new nn.Sigmoid(),
    new nn.Linear(84, 10));
}

// ---- ResNet ----

/** The Residual block of ResNet. */
class Residual extends nn.Module {
  constructor(input_channels, num_channels, use_1x1conv = false, strides = 1) {
    super();
    this.conv1 = new nn.Conv2d(input_channels, num_channels, { kernel_size: 3, padding: 1, stride: strides });
    this.conv2 = new nn.Conv2d(num_channels, num_channels, { kernel_size: 3, padding: 1 });
    this.conv3 = use_1x1conv ? new nn.Conv2d(input_channels, num_channels, { kernel_size: 1, stride: strides }) : null;
    this.bn1 = new nn.BatchNorm2d(num_channels);
    this.bn2 = new nn.BatchNorm2d(num_channels);
  }

  forward(X) {
    const Y = F.relu(this.bn1.forward(this.conv1.forward(X)));
    const Z = this.bn2.forward(this.conv2.forward(Y));
    if (this.conv3) X = this.conv3.forward(X);
    Z.add_(X);
    return F.relu(Z);
  }
}

function resnet_block(input_channels, num_channels, num_residuals, first_block = false) {
  const blk = [];
  for (let i = 0; i < num_residuals; i++) {
    if (i === 0 && !first_block) blk.push(new Residual(input_channels, num_channels, true, 2));
    else blk.push(new Residual(num_channels, num_channels));
  }
  return blk;
}

function resnet() {
  const b1 = new nn.Sequential(new nn.Conv2d(1, 64, { kernel_size: 7, stride: 2, padding: 3 }),
    new nn.BatchNorm2d(64), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2, padding: 1 }));
  const b2 = new nn.Sequential(...resnet_block(64, 64, 2, true));
  const b3 = new nn.Sequential(...resnet_block(64, 128, 2));
  const b4 = new nn.Sequential(...resnet_block(128, 256, 2));
  const b5 = new nn.Sequential(...resnet_block(256, 512, 2));
  return new nn.Sequential(b1, b2, b3, b4, b5,
    new nn.AdaptiveAvgPool2d([1, 1]),
    new nn.Flatten(), new nn.Linear(512, 10));
}

// ---- DenseNet ----

function conv_block(input_channels, num_channels) {
  return new nn.Sequential(
    new nn.BatchNorm2d(input_channels), new nn.ReLU(),
    new nn.Conv2d(input_channels, num_channels, { kernel_size: 3, padding: 1 }));
}

class DenseBlock extends nn.Module {
  constructor(num_convs, input_channels, num_channels) {
    super();
    const layer = [];
    for (let i = 0; i < num_convs; i++) layer.push(conv_block(num_channels * i + input_channels, num_channels));
    this.net = new nn.Sequential(...layer);
  }

  forward(X) {
    for (const blk of this.net) {
      const Y = blk.forward(X);
      // Concatenate the input and output of each block on the channel dimension
      X = torch.cat([X, Y], { dim: 1 });
    }
    return X;
  }
}

function transition_block(input_channels, num_channels) {
  return new nn.Sequential(
    new nn.BatchNorm2d(input_channels), new nn.ReLU(),
    new nn.Conv2d(input_channels, num_channels, { kernel_size: 1 }),
    new nn.AvgPool2d({ kernel_size: 2, stride: 2 }));
}

function densenet() {
  const b1 = new nn.Sequential(
    new nn.Conv2d(1, 64, { kernel_size: 7, stride: 2, padding: 3 }),
    new nn.BatchNorm2d(64), new nn.ReLU(),
    new nn.MaxPool2d({ kernel_size: 3, stride: 2, padding: 1 }));
  // `num_channels`: the current number of channels
  let num_channels = 64;
  const growth_rate = 32;
  const num_convs_in_dense_blocks = [4, 4, 4, 4];
  const blks = [];
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

/**
 * Each section's net and how the section trains it: `lr, num_epochs, batch_size` and load_data_fashion_mnist's
 * resize (null: none), as its #@tab pytorch training block sets them. test/interop/chapter7.py's NETS has the same.
 * @type {Record<string, {make: () => import('lenet-torch').nn.Sequential, lr: number, num_epochs: number,
 *   batch_size: number, resize: number | null}>}
 */
const NETS = {
  alexnet: { make: alexnet, lr: 0.01, num_epochs: 10, batch_size: 128, resize: 224 },
  vgg: { make: vgg_small, lr: 0.05, num_epochs: 10, batch_size: 128, resize: 224 },
  nin: { make: nin, lr: 0.1, num_epochs: 10, batch_size: 128, resize: 224 },
  googlenet: { make: googlenet, lr: 0.1, num_epochs: 10, batch_size: 128, resize: 96 },
  batchnorm: { make: batchnorm, lr: 1.0, num_epochs: 10, batch_size: 256, resize: null },
  'batchnorm-concise': { make: batchnorm_concise, lr: 1.0, num_epochs: 10, batch_size: 256, resize: null },
  resnet: { make: resnet, lr: 0.05, num_epochs: 10, batch_size: 256, resize: 96 },
  densenet: { make: densenet, lr: 0.1, num_epochs: 10, batch_size: 256, resize: 96 },
};

module.exports = {
  alexnet, vgg_block, conv_arch, vgg, vgg_small, nin_block, nin, Inception, googlenet, batch_norm, BatchNorm,
  batchnorm, batchnorm_concise, Residual, resnet_block, resnet, conv_block, DenseBlock, transition_block, densenet,
  NETS,
};
