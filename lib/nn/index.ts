/** The `nn` namespace: modules, layers, the loss and initialisers, named as torch.nn. */
export { Module, Parameter } from './module';
export type { IncompatibleKeys, StateDict } from './module';
export {
  AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Reshape, Sequential, Sigmoid, Tanh,
} from './layers';
export type { AvgPool2dOptions, Conv2dOptions, Conv2dPadding, IntOrPair, MaxPool2dOptions, PaddingMode } from './layers';
export { Dropout } from './modules/dropout';
export { AdaptiveAvgPool2d, AdaptiveMaxPool2d } from './modules/pooling';
export { BatchNorm1d, BatchNorm2d } from './modules/batchnorm';
export type { BatchNormModuleOptions } from './modules/batchnorm';
export { CrossEntropyLoss } from './loss';
export type { CrossEntropyLossOptions, Reduction } from './loss';
import * as init from './init';
import * as parallel from './parallel';
export { init, parallel };
import { functional } from './functional';
export { functional };
export type { BatchNormOptions, LossOptions, MaxPoolOptions } from './functional';
