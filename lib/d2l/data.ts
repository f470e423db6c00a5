import { DataLoader, TensorDataset } from '../data';
import { Tensor } from '../tensor';
import { checkArgCount, checkBool, invalidType } from '../validate';

/**
 * A DataLoader over in-memory tensors, as d2l.load_array((features, labels), batch_size, is_train):
 * shuffled when is_train (the default).
 * @throws TypeError / RangeError naming the argument.
 */
export function load_array(data_arrays: [Tensor, Tensor], batch_size: number, is_train = true): DataLoader {
  checkArgCount('load_array', arguments.length, 3);
  if (!Array.isArray(data_arrays) || data_arrays.length !== 2) throw invalidType('data_arrays', 'a pair [features, labels]', data_arrays);
  return new DataLoader(new TensorDataset(data_arrays[0], data_arrays[1]), { batch_size, shuffle: checkBool('is_train', is_train) });
}
