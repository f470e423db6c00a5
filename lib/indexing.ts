/**
 * torch.indexing: the parts of an index list for Tensor.index() and index_put_(), named as in PyTorch's C++ API
 * (torch::indexing::Slice, None, Ellipsis), which writes Python's `t[0, 1:, ..., None]` as
 * `t.index({0, Slice(1, None), "...", None})`; here `t.index([0, Slice(1, None), '...', None])`.
 */
import { Ellipsis, Slice as SliceIndex } from './tensor';
import { checkArgCount, checkInt } from './validate';

export { Ellipsis };

/** Python's None in an index list: a new dimension of size 1. Plain `null` works the same. */
export const None = null;

/** One dimension's `start:stop:step` (see Slice()). */
export type Slice = SliceIndex;

/**
 * Python's `start:stop:step`, as the C++ API's `Slice(start, stop, step)`: the arguments in that order, null (None)
 * or omitted for the defaults (the whole dimension, step 1). Python's `1:` is `Slice(1)`, `:3` `Slice(None, 3)`,
 * `::2` `Slice(None, None, 2)`, `:` `Slice()`; negative start and stop count from the end.
 * @throws TypeError / RangeError naming start, stop or step (step must be a positive integer, as in PyTorch).
 */
export function Slice(start: number | null = null, stop: number | null = null, step: number | null = null): Slice {
  checkArgCount('indexing.Slice', arguments.length, 3);
  const bound = (name: string, v: unknown) => (v === null || v === undefined ? null : checkInt(name, v));
  return new SliceIndex(bound('start', start), bound('stop', stop), step === null ? 1 : checkInt('step', step, { min: 1 }));
}
