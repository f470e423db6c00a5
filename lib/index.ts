/**
 * lenet-torch: libtorch for Node.js with PyTorch's and d2l's names.
 * @example const { torch, nn, optim, d2l, F } = require('lenet-torch');
 */
import * as torch from './torch';
import * as nn from './nn';
import * as optim from './optim';
import * as d2l from './d2l';

/** torch.nn.functional, as PyTorch's `import torch.nn.functional as F`. */
export const F = nn.functional;

export { torch, nn, optim, d2l };
export { Tensor, Size, ValuesIndices } from './tensor';
export type { Dtype } from './tensor';
export { Device } from './device';
export type { DeviceLike } from './device';
export type { NamedTuple, Layout, MemoryFormat } from './ops';
