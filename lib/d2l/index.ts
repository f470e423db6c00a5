/** The `d2l` namespace: the helpers of the d2l.ai book (PyTorch edition), ported with the same names. */
export { get_fashion_mnist_labels, load_data_fashion_mnist } from './fashion_mnist';
export type { LoadFashionMnistOptions } from './fashion_mnist';
export { load_data_mnist } from './mnist';
export type { LoadMnistOptions } from './mnist';
export { load_array } from './data';
export { Accumulator, accuracy, Timer, try_all_gpus, try_gpu } from './utils';
export { evaluate_accuracy_gpu, train_ch6 } from './train';
export type { AbortSignalLike, EpochRecord, TrainOptions, TrainProgress, TrainResult } from './train';
export { Animator } from './animator';
export { predict_ch3, show_images } from './images';
export type { PredictOptions, ShowImagesOptions } from './images';
