/**
 * lenet-torch: libtorch for Node.js with PyTorch's and d2l's names.
 * @example const { torch, nn, optim, d2l, F } = require('lenet-torch');
 */
import * as torchModule from './torch';
import * as nn from './nn';
import * as optim from './optim';
import * as d2l from './d2l';
import { installTensorMethods, namespace } from './ops';
import type { FftOps, LinalgOps, SpecialOps, TorchOps } from './ops';

installTensorMethods();

type TorchModule = typeof torchModule;
/**
 * torch: every operator PyTorch's torch namespace names that libtorch implements (generated from the schemas, see
 * lib/ops), torch.linalg, torch.special, torch.fft, and what lib/torch.ts writes by hand (creation from JS data,
 * seeding, threads, grad mode, devices, save/load), which wins where both name a function.
 */
export type Torch = Omit<TorchOps, keyof TorchModule> & TorchModule & { linalg: LinalgOps; special: SpecialOps; fft: FftOps };
export const torch: Torch = Object.freeze({
  ...(namespace('torch') as unknown as TorchOps),
  ...torchModule,
  linalg: Object.freeze(namespace('linalg')) as unknown as LinalgOps,
  special: Object.freeze(namespace('special')) as unknown as SpecialOps,
  fft: Object.freeze(namespace('fft')) as unknown as FftOps,
}) as Torch;

/** torch.nn.functional, as PyTorch's `import torch.nn.functional as F`. */
export const F = nn.functional;

export { nn, optim, d2l };
export { Tensor, Size, ValuesIndices } from './tensor';
export type { Dtype } from './tensor';
export { Device } from './device';
export type { DeviceLike } from './device';
export type { NamedTuple, Layout, MemoryFormat } from './ops';
