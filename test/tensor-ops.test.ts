// Indexing, shape ops, dim-wise reductions, comparisons, element-wise math, joins and in-place ops (issue 11).
// Expected values were computed by hand or with PyTorch 1.13 (Debian's python3-torch) and written in here.
import { inspect } from 'node:util';
import { torch, nn, Tensor, ValuesIndices } from '../lib';
import { native } from '../lib/binding';
import { handleOfModule } from '../lib/nn/module';

const { Slice, None, Ellipsis } = torch.indexing;
const int64 = (data: number[] | number[][]) => torch.tensor(data, { dtype: torch.int64 });
/** 0..23 as int64, shape [2, 3, 4]. */
const a = () => torch.arange(24).reshape(2, 3, 4);

/** Each value of `actual` within 1e-6 of `expected` (nested arrays). */
function expectClose(actual: unknown, expected: unknown): void {
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual) && actual.length).toBe(expected.length);
    expected.forEach((e, i) => expectClose((actual as unknown[])[i], e));
  } else {
    expect(actual as number).toBeCloseTo(expected as number, 6);
  }
}

describe('Tensor#index(): Python\'s t[...] in the C++ API\'s spelling (t[0] itself: tensor.test.ts)', () => {
  test('integers (negative from the end) remove their dimension', () => {
    expect(a().index(1).shape).toEqual([3, 4]);
    expect(a().index([1, 2]).tolist()).toEqual([20, 21, 22, 23]);
    expect(a().index([-1, -1, -1]).item()).toBe(23);
    expect(a().index([0, 1, 2]).shape).toEqual([]);
  });

  test('one index alone is a list of one: t.index(0) is t.index([0])', () => {
    expect(a().index(0).tolist()).toEqual(a().index([0]).tolist());
  });

  test('Slice(start, stop, step): t[1, 1:, ::2], t[:, :2], t[-2:]', () => {
    expect(a().index([1, Slice(1), Slice(None, None, 2)]).tolist()).toEqual([[16, 18], [20, 22]]);
    expect(a().index([Slice(), Slice(null, 2), 0]).tolist()).toEqual([[0, 4], [12, 16]]);
    expect(a().index([0, Slice(-2)]).tolist()).toEqual([[4, 5, 6, 7], [8, 9, 10, 11]]);
    expect(a().index([0, 0, Slice(1, -1)]).tolist()).toEqual([1, 2]);
    expect(a().index([0, 0, Slice(3, 1)]).tolist()).toEqual([]);
    expect(a().index([0, 0, Slice(1, 100, 2)]).tolist()).toEqual([1, 3]);
  });

  test("None adds a dimension of size 1, Ellipsis ('...') stands for the dimensions not named", () => {
    expect(a().index([None, 0, Slice(), None]).shape).toEqual([1, 3, 1, 4]);
    expect(a().index([Ellipsis, -1]).tolist()).toEqual([[3, 7, 11], [15, 19, 23]]);
    expect(a().index(['...', None]).shape).toEqual([2, 3, 4, 1]);
    expect(a().index([1, '...', 0]).tolist()).toEqual([12, 16, 20]);
    expect(None).toBeNull();
    expect(Ellipsis).toBe('...');
  });

  test('a boolean adds a dimension (true) or an empty one (false), as in Python', () => {
    expect(a().index(true).shape).toEqual([1, 2, 3, 4]);
    expect(a().index(false).shape).toEqual([0, 2, 3, 4]);
  });

  test('an int64 tensor picks along its dimension; a bool mask selects elements', () => {
    expect(a().index([Slice(), int64([2, 0])]).shape).toEqual([2, 2, 4]);
    expect(a().index([0, int64([2, 0]), 0]).tolist()).toEqual([8, 0]);
    expect(a().index(a().gt(20)).tolist()).toEqual([21, 22, 23]);
    expect(a().index([torch.tensor([false, true])]).shape).toEqual([1, 3, 4]);
  });

  test('integers and slices give views: writing through them changes the tensor', () => {
    const t = a();
    t.index([0, Slice(), 0]).fill_(-1);
    expect(t.index([0, Slice(), 0]).tolist()).toEqual([-1, -1, -1]);
    expect(t.index([1, 0, 0]).item()).toBe(12);
  });

  test('autograd flows through index()', () => {
    const x = torch.tensor([1, 2, 3], { requires_grad: true });
    x.index(Slice(1)).sum().backward();
    expect(x.grad!.tolist()).toEqual([0, 1, 1]);
  });

  test('Slice prints as it is made, and keeps its parts', () => {
    expect(String(Slice(1))).toBe('Slice(1, None, 1)');
    expect(inspect(Slice(null, -1, 2))).toBe('Slice(None, -1, 2)');
    expect(Slice(2, 5)).toMatchObject({ start: 2, stop: 5, step: 1 });
  });

  describe('BAD CALL', () => {
    test.each([
      ['undefined', undefined, /Expected indices to be an index: an integer, a boolean, a Slice, null \(None\)/],
      ['an object', {}, /Expected indices to be an index.* but received an instance of Object/],
      ['undefined in a list', [0, undefined], /Expected indices\[1\] to be an index/],
      ['a hole in a list', [0, , 1], /Expected indices\[1\] to be an index/],
      ['a nested array', [[0, 1]], /Expected indices\[0\] to be an index.* but received an array of length 2/],
      ['a bigint', 1n, /Expected indices to be an index/],
    ])('%s: a TypeError naming the place', (_, indices, message) => {
      expect(() => a().index(indices as never)).toThrow(TypeError);
      expect(() => a().index(indices as never)).toThrow(message);
    });

    test.each([
      ['a fraction', 1.5, /^Expected indices to be an integer but received 1.5 \(number\)$/],
      ['NaN', [0, NaN], /^Expected indices\[1\] to be an integer but received NaN/],
      ['2 ** 53', 2 ** 53, /^Expected indices to be an integer/],
      ['an empty list (the C++ API refuses it)', [], /^Expected indices to be an index or a non-empty array of them but received an array of length 0$/],
      ['a second Ellipsis (Python refuses it)', ['...', 0, '...'], /^Expected indices\[2\] to be an index other than '...': an index list holds one Ellipsis at most/],
      ["Python's ':' as a string", [':', 0], /Expected indices\[0\] to be .*\(Python's a:b:c is Slice\(a, b, c\)\) but received ':' \(string\)/],
    ])('%s: a RangeError naming the place', (_, indices, message) => {
      expect(() => a().index(indices as never)).toThrow(RangeError);
      expect(() => a().index(indices as never)).toThrow(message);
    });

    test('Slice: bounds are integers or null, step a positive integer (as in PyTorch), three at most', () => {
      expect(() => Slice('1' as never)).toThrow(TypeError);
      expect(() => Slice('1' as never)).toThrow(/Expected start to be an integer/);
      expect(() => Slice(0, 1.5)).toThrow(RangeError);
      expect(() => Slice(0, 1.5)).toThrow(/Expected stop to be an integer/);
      expect(() => Slice(0, 2, 0)).toThrow(RangeError);
      expect(() => Slice(0, 2, -1)).toThrow(/Expected step to be a positive integer but received -1/);
      expect(() => (Slice as (...a: unknown[]) => unknown)(0, 1, 1, 1)).toThrow(/^indexing\.Slice\(\) takes 3 arguments but 4 were given$/);
    });

    test('a tensor index that was disposed is an Error saying so', () => {
      const i = int64([0]);
      i.dispose();
      expect(() => a().index(i)).toThrow(/disposed/);
    });
  });

  describe("EXPECTED FAILURE: libtorch's errors, with its message", () => {
    test.each([
      ['an index out of range', () => a().index([2]), /index 2 is out of bounds for dimension 0 with size 2/],
      ['too many indices', () => a().index([0, 0, 0, 0]), /too many indices for tensor of dimension 3/],
      ['a mask of the wrong shape', () => a().index(torch.tensor([true, false, true])), /The shape of the mask \[3\] at index 0 does not match the shape of the indexed tensor \[2, 3, 4\] at index 0/],
      ['a float tensor as indices', () => a().index(torch.tensor([0.5])), /tensors used as indices must be long, (int, )?byte or bool tensors/],
    ])('%s', (_, call, message) => {
      expect(call).toThrow(message);
      expect(call).not.toThrow(/Exception raised from|frame #/);
    });
  });
});

describe('Tensor#index_put_(): Python\'s t[...] = values', () => {
  test('with a mask and a number: t[t < 0] = 0', () => {
    const t = torch.tensor([[-1, 2], [3, -4]]);
    expect(t.index_put_([t.lt(0)], 0)).toBe(t);
    expect(t.tolist()).toEqual([[0, 2], [3, 0]]);
  });

  test('with slices and a tensor broadcast to the indexed shape: t[:, 1:] = [7, 8]', () => {
    const t = torch.zeros(2, 3, { dtype: torch.int64 });
    t.index_put_([Slice(), Slice(1)], int64([7, 8]));
    expect(t.tolist()).toEqual([[0, 7, 8], [0, 7, 8]]);
    t.index_put_(0, 5);
    expect(t.tolist()).toEqual([[5, 5, 5], [0, 7, 8]]);
  });

  test('with int64 indices: t[[0, 2]] = 1; an integer value keeps an int tensor int', () => {
    const t = torch.zeros([3], { dtype: torch.int64 });
    t.index_put_(int64([0, 2]), 1);
    expect(t.tolist()).toEqual([1, 0, 1]);
    expect(t.dtype).toBe('int64');
  });

  describe('BAD CALL', () => {
    test('indices as index() takes them; values a Tensor or a number', () => {
      expect(() => torch.zeros(2).index_put_([undefined as never], 1)).toThrow(/Expected indices\[0\] to be an index/);
      expect(() => torch.zeros(2).index_put_(0, '1' as never)).toThrow(TypeError);
      expect(() => torch.zeros(2).index_put_(0, '1' as never)).toThrow(/Expected values to be a Tensor or a number/);
      expect(() => (torch.zeros(2).index_put_ as (...a: unknown[]) => unknown)(0)).toThrow(/Expected values/);
    });
  });

  describe('EXPECTED FAILURE', () => {
    test('values that do not broadcast to the indexed shape', () => {
      expect(() => torch.zeros(3).index_put_(int64([0]), torch.tensor([1, 2]))).toThrow(/shape mismatch: value tensor of shape \[2\] cannot be broadcast to indexing result of shape \[1\]/);
    });
    test('a leaf that requires grad (no backtrace)', () => {
      const w = torch.zeros(2, { requires_grad: true });
      expect(() => w.index_put_(0, 1)).toThrow(/^a (view of a )?leaf Variable that requires grad is being used in an in-place operation\.$/);
    });
  });
});

describe('masked_fill() and masked_select()', () => {
  test('fill a copy where the mask is true; select those elements as 1-D', () => {
    const t = torch.tensor([[1, 5], [7, 2]]);
    const mask = t.gt(4);
    expect(t.masked_fill(mask, 0).tolist()).toEqual([[1, 0], [0, 2]]);
    expect(t.masked_fill(torch.tensor([true, false]), torch.tensor(-1)).tolist()).toEqual([[-1, 5], [-1, 2]]);
    expect(t.tolist()).toEqual([[1, 5], [7, 2]]);
    expect(t.masked_select(mask).tolist()).toEqual([5, 7]);
  });

  test('BAD CALL: the mask must be a Tensor, the value a Tensor or a number', () => {
    const t = torch.ones(2);
    // The operators' own errors (lib/ops): the op, the argument, what each overload takes there.
    expect(() => t.masked_fill([true, false] as never, 0)).toThrow(/^Tensor\.masked_fill\(\): Expected argument 'mask' to be a Tensor but received an array of 2/);
    expect(() => t.masked_fill(t.gt(0), 'x' as never)).toThrow(/Expected argument 'value' to be Scalar or Tensor but received 'x' \(string\)/);
    expect(() => t.masked_select(null as never)).toThrow(/^Tensor\.masked_select\(\): Expected argument 'mask' to be a Tensor but received null/);
  });

  test('EXPECTED FAILURE: a mask that does not broadcast', () => {
    expect(() => torch.ones(2).masked_select(torch.tensor([true, false, true]))).toThrow(/The size of tensor a \(\d\) must match the size of tensor b \(\d\)/);
    expect(() => torch.ones(2).masked_fill(torch.tensor([true, false]), torch.ones(2))).toThrow(/only supports a 0-dimensional value tensor/);
  });
});

describe('shape ops: narrow, select, squeeze, unsqueeze, permute, flatten', () => {
  test('narrow(dim, start, length) and select(dim, index) are views', () => {
    const t = a();
    expect(t.narrow(2, 1, 2).tolist()).toEqual(t.index([Slice(), Slice(), Slice(1, 3)]).tolist());
    expect(t.narrow(-1, -2, 2).shape).toEqual([2, 3, 2]);
    expect(t.narrow(0, 2, 0).shape).toEqual([0, 3, 4]);
    expect(t.select(1, 0).tolist()).toEqual([[0, 1, 2, 3], [12, 13, 14, 15]]);
    expect(t.select(-1, -1).tolist()).toEqual([[3, 7, 11], [15, 19, 23]]);
    t.select(0, 1).zero_();
    expect(t.sum().item()).toBe(66);
  });

  test('squeeze() drops every size-1 dimension, squeeze(dim) only that one (if size 1); unsqueeze(dim) adds one', () => {
    const t = torch.zeros(1, 3, 1, 2);
    expect(t.squeeze().shape).toEqual([3, 2]);
    expect(t.squeeze(2).shape).toEqual([1, 3, 2]);
    expect(t.squeeze(1).shape).toEqual([1, 3, 1, 2]);
    expect(t.squeeze(-4).shape).toEqual([3, 1, 2]);
    expect(torch.zeros(3).unsqueeze(0).shape).toEqual([1, 3]);
    expect(torch.zeros(3).unsqueeze(-1).shape).toEqual([3, 1]);
    expect(torch.tensor(5).unsqueeze(0).tolist()).toEqual([5]);
  });

  test('permute(...dims) or permute([dims])', () => {
    const t = a();
    expect(t.permute(2, 0, 1).shape).toEqual([4, 2, 3]);
    expect(t.permute([2, 0, 1]).index([1, 1, 2]).item()).toBe(21);
    expect(t.permute(-1, 1, 0).shape).toEqual([4, 3, 2]);
  });

  test('flatten(start_dim = 0, end_dim = -1), also with keywords', () => {
    const t = a();
    expect(t.flatten().shape).toEqual([24]);
    expect(t.flatten(1).shape).toEqual([2, 12]);
    expect(t.flatten(0, 1).shape).toEqual([6, 4]);
    expect(t.flatten({ start_dim: 1 }).tolist()).toEqual(t.reshape(2, 12).tolist());
    expect(t.flatten({ end_dim: -2 }).shape).toEqual([6, 4]);
    expect(t.flatten(1, { end_dim: 1 }).shape).toEqual([2, 3, 4]);
    expect(torch.tensor(3).flatten().shape).toEqual([1]);
  });

  describe('BAD CALL', () => {
    test('dims, starts and indices are integers: TypeError for a non-number, RangeError for a fraction', () => {
      const t = a();
      // As Python: a fraction is a TypeError too (an int is expected), a bad value libtorch's Error.
      expect(() => t.narrow('0' as never, 0, 1)).toThrow(/^Tensor\.narrow\(\): Expected argument 'dim' to be an integer but received '0' \(string\)/);
      expect(() => t.narrow(0, 0.5, 1)).toThrow(/Expected argument 'start' to be int or Tensor but received 0\.5 \(number\)/);
      // libtorch's own words, which 2.x changed.
      expect(() => t.narrow(0, 0, -1)).toThrow(/start \(0\) \+ length \(-1\) exceeds dimension size|narrow\(\): length must be non-negative/);
      expect(() => t.select(0, undefined as never)).toThrow(/^Tensor\.select\(\): missing argument 'index'/);
      expect(() => t.squeeze(null as never)).toThrow(/^Tensor\.squeeze\(\): Expected argument 'dim' to be/);
      expect(() => t.unsqueeze(undefined as never)).toThrow(/^Tensor\.unsqueeze\(\): missing argument 'dim'/);
      expect(() => t.permute(0, '1' as never, 2)).toThrow(/^Tensor\.permute\(\): argument 'dims' takes integers, as numbers or one array of them/);
      expect(() => t.permute([0, 1.5, 2])).toThrow(/Expected argument 'dims'\[1\] to be an integer but received 1\.5/);
      expect(() => (t.permute as (...a: unknown[]) => unknown)([0, 1], 2)).toThrow(/^Tensor\.permute\(\): /);
      expect(() => t.flatten('1' as never)).toThrow(/^Tensor\.flatten\(\): Expected argument 'start_dim' to be/);
      expect(() => t.flatten({ start: 1 } as never)).toThrow(/^Tensor\.flatten\(\): unexpected keyword argument 'start'/);
    });
  });

  describe("EXPECTED FAILURE: libtorch's errors, with its message", () => {
    test.each([
      ['narrow past the end', () => a().narrow(1, 2, 2), /start \(2\) \+ length \(2\) exceeds dimension size \(3\)/],
      ['select out of range', () => a().select(1, 3), /select\(\): index 3 out of range for tensor of size \[2, 3, 4\] at dimension 1/],
      ['unsqueeze out of range', () => a().unsqueeze(4), /Dimension out of range \(expected to be in range of \[-4, 3\], but got 4\)/],
      ['squeeze out of range', () => a().squeeze(3), /Dimension out of range/],
      ['permute with a repeated dim', () => a().permute(0, 0, 1), /permute\(\): duplicate dims are not allowed/],
      ['permute with too few dims', () => a().permute(1, 0), /permute\(.*number of dim/],
      ['flatten with end before start', () => a().flatten(2, 1), /flatten\(\) has invalid args: start_dim cannot come after end_dim/],
    ])('%s', (_, call, message) => {
      expect(call).toThrow(message);
    });
  });
});

describe('dim-wise reductions: argmin (argmax, sum, mean, max, min are in tensor.test.ts), topk', () => {
  test('argmin(dim?, keepdim?) as argmax', () => {
    const t = torch.tensor([[3, 1, 4], [1, 5, 0]]);
    expect(t.argmin().item()).toBe(5);
    expect(t.argmin(1).tolist()).toEqual([1, 2]);
    expect(t.argmin(0, true).tolist()).toEqual([[1, 0, 1]]);
    expect(t.argmin(1).dtype).toBe('int64');
  });

  test('topk(k, dim = -1, largest = true, sorted = true) gives {values, indices} as max(dim) does', () => {
    const t = torch.tensor([[3, 1, 4, 1], [5, 9, 2, 6]]);
    const top = t.topk(2);
    expect(top).toBeInstanceOf(ValuesIndices);
    expect(top.values.tolist()).toEqual([[4, 3], [9, 6]]);
    expect(top.indices.tolist()).toEqual([[2, 0], [1, 3]]);
    const [v, i] = t.topk(2, 0, false);
    expect(v.tolist()).toEqual([[3, 1, 2, 1], [5, 9, 4, 6]]);
    expect(i.tolist()).toEqual([[0, 0, 1, 0], [1, 1, 0, 1]]);
    expect(t.topk(3, { largest: false }).values.tolist()).toEqual([[1, 1, 3], [2, 5, 6]]);
    expect(t.topk(1, -1, true, { sorted: false }).values.tolist()).toEqual([[4], [9]]);
    expect(t.topk(0).values.shape).toEqual([2, 0]);
    expect(String(t.topk(1))).toBe('torch.return_types.topk(\nvalues=tensor([[4.],\n        [9.]]),\nindices=tensor([[2],\n        [1]]))');
  });

  test('BAD CALL: k a non-negative integer, dim an integer, largest and sorted booleans', () => {
    const t = torch.ones(2, 3);
    expect(() => (t.topk as () => unknown)()).toThrow(/^Tensor\.topk\(\): missing argument 'k'/);
    expect(() => t.topk(-1)).toThrow(/selected index k out of range/);
    expect(() => t.topk('2' as never)).toThrow(/^Tensor\.topk\(\): Expected argument 'k' to be an integer but received '2' \(string\)/);
    expect(() => t.topk(1, 0.5)).toThrow(/Expected argument 'dim' to be an integer/);
    expect(() => t.topk(1, 0, 1 as never)).toThrow(/Expected argument 'largest' to be a boolean/);
    expect(() => t.topk(1, { sorted: 'yes' } as never)).toThrow(/Expected argument 'sorted' to be a boolean/);
    expect(() => t.topk(1, { k: 2 } as never)).toThrow(/got multiple values for argument 'k'/);
    expect(() => t.argmin(1.5)).toThrow(/^Tensor\.argmin\(\): Expected argument 'dim' to be an integer but received 1\.5/);
    expect(() => t.argmin(0, 1 as never)).toThrow(/Expected argument 'keepdim' to be a boolean/);
  });

  test('EXPECTED FAILURE: k larger than the dimension, dims out of range', () => {
    expect(() => torch.ones(2, 3).topk(4)).toThrow(/selected index k out of range/);
    expect(() => torch.ones(2, 3).topk(1, 2)).toThrow(/Dimension out of range/);
    expect(() => torch.ones(2, 3).argmin(2)).toThrow(/Dimension out of range/);
  });
});

describe('softmax(dim) and log_softmax(dim)', () => {
  const x = () => torch.tensor([[1, 2, 3], [1, 1, 1]]);

  test('over the last and the first dimension (values from PyTorch)', () => {
    expectClose(x().softmax(1).tolist(), [[0.09003057, 0.24472848, 0.66524094], [1 / 3, 1 / 3, 1 / 3]]);
    expectClose(x().softmax(-1).sum(1).tolist(), [1, 1]);
    expectClose(x().softmax(0).tolist(), [[0.5, 0.7310586, 0.8807970], [0.5, 0.26894143, 0.11920292]]);
    expectClose(x().log_softmax(1).tolist(), [[-2.40760589, -1.40760589, -0.40760595], [-1.09861231, -1.09861231, -1.09861231]]);
    expect(x().softmax(1).grad_fn).toBeNull();
    expect(x().requires_grad_().log_softmax(1).grad_fn).toMatch(/LogSoftmaxBackward/);
  });

  test('BAD CALL: dim is required and an integer', () => {
    expect(() => (x().softmax as () => unknown)()).toThrow(/^Tensor\.softmax\(\): missing argument 'dim'/);
    expect(() => x().log_softmax(0.5)).toThrow(/^Tensor\.log_softmax\(\): Expected argument 'dim' to be an integer but received 0\.5/);
  });

  test('EXPECTED FAILURE: dim out of range; an integer tensor', () => {
    expect(() => x().softmax(2)).toThrow(/Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)/);
    expect(() => int64([1, 2]).softmax(0)).toThrow(/not implemented for 'Long'/);
  });
});

describe('comparisons: eq (in tensor.test.ts), ne, gt, lt, ge, le', () => {
  test('with a number or a tensor (broadcasting), giving bool tensors', () => {
    const t = torch.tensor([1, 2, 3]);
    expect(t.ne(2).tolist()).toEqual([true, false, true]);
    expect(t.gt(2).tolist()).toEqual([false, false, true]);
    expect(t.lt(2).tolist()).toEqual([true, false, false]);
    expect(t.ge(2).tolist()).toEqual([false, true, true]);
    expect(t.le(2).tolist()).toEqual([true, true, false]);
    expect(t.gt(torch.tensor([[0], [2]])).tolist()).toEqual([[true, true, true], [false, false, true]]);
    expect(int64([1, 2]).gt(1.5).tolist()).toEqual([false, true]);
    expect(t.le(t).dtype).toBe('bool');
  });

  test('BAD CALL: other is a Tensor or a number', () => {
    for (const op of ['ne', 'gt', 'lt', 'ge', 'le'] as const) {
      expect(() => torch.ones(2)[op]('1' as never)).toThrow(new RegExp(`^Tensor\\.${op}\\(\\): Expected argument 'other' to be Scalar or Tensor but received '1' \\(string\\)`));
    }
  });

  test('EXPECTED FAILURE: shapes that do not broadcast', () => {
    expect(() => torch.ones(2).gt(torch.ones(3))).toThrow(/The size of tensor a \(2\) must match the size of tensor b \(3\)/);
  });
});

describe('pow, sqrt, clamp', () => {
  test('pow(number | Tensor), promoting as add() does', () => {
    expect(torch.tensor([2, 3]).pow(2).tolist()).toEqual([4, 9]);
    expect(int64([2, 3]).pow(int64([3, 2])).tolist()).toEqual([8, 9]);
    expect(int64([2, 3]).pow(2).dtype).toBe('int64');
    expectClose(torch.tensor([2, 3]).pow(0.5).tolist(), [1.41421354, 1.73205078]);
    expect(int64([4]).pow(0.5).dtype).toBe('float32');
  });

  test('sqrt(): NaN below 0; integer tensors give float32', () => {
    const s = torch.tensor([4, 9, -1]).sqrt().tolist() as number[];
    expect(s.slice(0, 2)).toEqual([2, 3]);
    expect(s[2]).toBeNaN();
    expect(int64([4]).sqrt().dtype).toBe('float32');
  });

  test('clamp(min, max), clamp({min}), clamp({max}), clamp(null, max)', () => {
    const t = torch.tensor([-2, 0.5, 3]);
    expect(t.clamp(0, 1).tolist()).toEqual([0, 0.5, 1]);
    expect(t.clamp({ min: 0 }).tolist()).toEqual([0, 0.5, 3]);
    expect(t.clamp({ max: 0 }).tolist()).toEqual([-2, 0, 0]);
    expect(t.clamp(null, 1).tolist()).toEqual([-2, 0.5, 1]);
    expect(t.clamp(-Infinity, 0).tolist()).toEqual([-2, 0, 0]);
    expect(int64([1, 2, 3]).clamp(1, 2).dtype).toBe('int64');
  });

  test('BAD CALL: clamp needs min or max, each a number or null; pow takes a Tensor or a number', () => {
    const t = torch.ones(2);
    // Neither bound: libtorch's Error, as PyTorch's RuntimeError.
    expect(() => t.clamp()).toThrow(/^torch\.clamp: At least one of 'min' or 'max' must not be None$/);
    expect(() => t.clamp(null, null)).toThrow(/At least one of 'min' or 'max' must not be None/);
    expect(() => t.clamp('0' as never)).toThrow(/^Tensor\.clamp\(\): Expected argument 'min' to be Scalar\? or Tensor\? but received '0' \(string\)/);
    expect(() => t.clamp({ max: [1] } as never)).toThrow(/Expected argument 'max' to be Scalar\? or Tensor\?/);
    expect(() => t.clamp({ lo: 0 } as never)).toThrow(/^Tensor\.clamp\(\): unexpected keyword argument 'lo'/);
    expect(() => t.pow(undefined as never)).toThrow(/^Tensor\.pow\(\): missing argument 'exponent'/);
  });

  test('EXPECTED FAILURE: an integer tensor to a negative integer power', () => {
    expect(() => int64([2]).pow(-1)).toThrow(/^Integers to negative integer powers are not allowed\.$/);
  });
});

describe('type(): the legacy type name, or a conversion', () => {
  test("type() names the type as PyTorch does ('torch.FloatTensor', ...)", () => {
    expect(torch.zeros(1).type()).toBe('torch.FloatTensor');
    expect(int64([1]).type()).toBe('torch.LongTensor');
    expect(torch.zeros([1], { dtype: torch.bool }).type()).toBe('torch.BoolTensor');
    expect(torch.zeros([1], { dtype: torch.uint8 }).type()).toBe('torch.ByteTensor');
    expect(torch.zeros([1], { dtype: torch.float64 }).type()).toBe('torch.DoubleTensor');
  });

  test('type(dtype) converts, as to(dtype); a type name works too', () => {
    const t = torch.tensor([1.7, -1.7]);
    expect(t.type(torch.int64).tolist()).toEqual([1, -1]);
    expect(t.type('torch.DoubleTensor').dtype).toBe('float64');
    expect(t.type('torch.FloatTensor').device.type).toBe('cpu');
  });

  test('BAD CALL: a dtype that is not a string is a TypeError, an unknown name a RangeError', () => {
    expect(() => torch.ones(1).type(5 as never)).toThrow(TypeError);
    expect(() => torch.ones(1).type('float8')).toThrow(RangeError);
    expect(() => torch.ones(1).type('torch.FooTensor')).toThrow(/Expected dtype to be a dtype \('float32', .*\) or a type name \('torch\.FloatTensor', \.\.\.\)/);
  });

  const noCuda = torch.cuda.is_available() ? test.skip : test;
  noCuda('EXPECTED FAILURE without CUDA: a cuda type name is an Error', () => {
    expect(() => torch.ones(1).type('torch.cuda.FloatTensor')).toThrow(/CUDA/);
  });
});

describe('torch.cat() and torch.stack()', () => {
  test('cat joins along an existing dimension (default 0), stack along a new one', () => {
    const x = torch.tensor([[1, 2]]);
    const y = torch.tensor([[3, 4]]);
    expect(torch.cat([x, y]).tolist()).toEqual([[1, 2], [3, 4]]);
    expect(torch.cat([x, y], 1).tolist()).toEqual([[1, 2, 3, 4]]);
    expect(torch.cat([x, y], { dim: -1 }).shape).toEqual([1, 4]);
    expect(torch.cat([x]).tolist()).toEqual([[1, 2]]);
    expect(torch.stack([x, y]).shape).toEqual([2, 1, 2]);
    expect(torch.stack([x, y], 2).tolist()).toEqual([[[1, 3], [2, 4]]]);
    expect(torch.stack([x, y], { dim: -1 }).shape).toEqual([1, 2, 2]);
  });

  test('dtypes promote, as in PyTorch', () => {
    expect(torch.cat([int64([1]), torch.tensor([0.5])]).dtype).toBe('float32');
  });

  test('autograd flows through both', () => {
    const w = torch.tensor([1, 2], { requires_grad: true });
    torch.stack([w, w.mul(3)]).sum().backward();
    expect(w.grad!.tolist()).toEqual([4, 4]);
  });

  describe('BAD CALL', () => {
    test.each([
      ['not an array', () => torch.cat(torch.ones(2) as never), TypeError, /Expected tensors to be an array of Tensors but received an instance of Tensor/],
      ['an empty array', () => torch.stack([]), RangeError, /Expected tensors to be a non-empty array of Tensors/],
      ['a non-Tensor in it', () => torch.cat([torch.ones(2), [1, 2]] as never), TypeError, /Expected tensors\[1\] to be a Tensor but received an array of length 2/],
      ['a hole in it', () => torch.stack([torch.ones(2), , torch.ones(2)] as never), TypeError, /Expected tensors\[1\] to be a Tensor but received undefined/],
      ['dim not an integer', () => torch.cat([torch.ones(2)], 0.5), RangeError, /Expected dim to be an integer/],
      ['a missing list', () => (torch.stack as () => unknown)(), TypeError, /^stack\(\) missing required argument 'tensors'$/],
      ['an unknown keyword', () => torch.cat([torch.ones(2)], { axis: 0 } as never), TypeError, /^cat\(\) got an unexpected keyword argument 'axis'$/],
    ])('%s', (_, call, type, message) => {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    });
  });

  describe("EXPECTED FAILURE: libtorch's errors, with its message", () => {
    test.each([
      ['cat of shapes that differ outside dim', () => torch.cat([torch.zeros(2, 3), torch.zeros(2, 2)]), /Sizes of tensors must match except in dimension 0\. Expected size 3 but got size 2 for tensor number 1 in the list/],
      ['stack of shapes that differ', () => torch.stack([torch.zeros(2), torch.zeros(3)]), /stack expects each tensor to be equal size, but got \[2\] at entry 0 and \[3\] at entry 1/],
      ['cat along a dim out of range', () => torch.cat([torch.zeros(2), torch.zeros(2)], 1), /Dimension out of range/],
      ['a disposed tensor', () => { const d = torch.ones(2); d.dispose(); return torch.cat([torch.ones(2), d]); }, /disposed/],
    ])('%s', (_, call, message) => {
      expect(call).toThrow(message);
    });
  });
});

describe('in place: copy_, fill_, zero_, requires_grad_', () => {
  test('each changes the tensor and returns it', () => {
    const t = torch.zeros(2, 2);
    expect(t.fill_(3)).toBe(t);
    expect(t.tolist()).toEqual([[3, 3], [3, 3]]);
    expect(t.copy_(torch.tensor([1, 2]))).toBe(t);
    expect(t.tolist()).toEqual([[1, 2], [1, 2]]);
    expect(t.zero_()).toBe(t);
    expect(t.tolist()).toEqual([[0, 0], [0, 0]]);
    expect(t.fill_(torch.tensor(7)).tolist()).toEqual([[7, 7], [7, 7]]);
    expect(t.requires_grad_()).toBe(t);
    expect(t.requires_grad).toBe(true);
    expect(t.requires_grad_(false).requires_grad).toBe(false);
  });

  test("copy_ converts to this tensor's dtype; fill_ into an integer tensor truncates, as in PyTorch", () => {
    const t = torch.zeros([3], { dtype: torch.int64 });
    t.copy_(torch.tensor([1.7, -1.7, 2]));
    expect(t.tolist()).toEqual([1, -1, 2]);
    expect(t.fill_(2.9).tolist()).toEqual([2, 2, 2]);
    expect(t.dtype).toBe('int64');
  });

  test('under no_grad, a leaf that requires grad may be changed in place (how weights are initialised)', () => {
    const w = torch.zeros(2, { requires_grad: true });
    torch.no_grad(() => w.fill_(1));
    expect(w.tolist()).toEqual([1, 1]);
    expect(w.requires_grad).toBe(true);
  });

  test('BAD CALL: src a Tensor, value a Tensor or a number, requires_grad a boolean', () => {
    const t = torch.zeros(2);
    expect(() => t.copy_([1, 2] as never)).toThrow(/^Tensor\.copy_\(\): Expected argument 'src' to be a Tensor but received an array of 2/);
    expect(() => t.fill_(undefined as never)).toThrow(/^Tensor\.fill_\(\): missing argument 'value'/);
    expect(() => t.requires_grad_(1 as never)).toThrow(/Expected requires_grad to be a boolean but received 1 \(number\)/);
    expect(() => (t.zero_ as (...a: unknown[]) => unknown)(0)).toThrow(/^Tensor\.zero_\(\): takes 0 positional argument\(s\) but 1 were given/);
  });

  describe("EXPECTED FAILURE: libtorch's errors, with its message and no backtrace", () => {
    test.each([
      ['an in-place op on a leaf that requires grad', () => torch.zeros(2, { requires_grad: true }).fill_(1), /^a leaf Variable that requires grad is being used in an in-place operation\.$/],
      ['zero_ on such a leaf', () => torch.zeros(2, { requires_grad: true }).zero_(), /^a leaf Variable that requires grad/],
      ['copy_ of a shape that does not broadcast', () => torch.zeros(2, 3).copy_(torch.zeros(4)), /The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1/],
      ['fill_ with a tensor of more than one element', () => torch.zeros(2).fill_(torch.zeros(2)), /fill_ only supports 0-dimension value tensor but got tensor with 1 dimensions/],
      ['requires_grad_(false) on a tensor that is not a leaf', () => torch.zeros(2, { requires_grad: true }).mul(2).requires_grad_(false), /^you can only change requires_grad flags of leaf variables\./],
      ['the requires_grad setter likewise', () => { torch.zeros(2, { requires_grad: true }).mul(2).requires_grad = false; }, /^you can only change requires_grad flags of leaf variables\./],
    ])('%s', (_, call, message) => {
      expect(call).toThrow(message);
      expect(call).not.toThrow(/Exception raised from|frame #/);
    });
  });
});

describe('a JS number into an integer tensor: refused when the dtype cannot hold it (one check on every road)', () => {
  const INT64 = /^Expected (\w+) to be a value int64 can hold \(an integer in \[-9223372036854775808, 9223372036854775807\]\) but received /;
  // 2 ** 63 travels to libtorch as a double; c10's overflow check compares it with int64's maximum converted to a
  // double, which is 2 ** 63 itself, so it was stored as -2 ** 63.
  const OUTSIDE = [2 ** 63, -(2 ** 63) - 2048];
  test.each<[string, string, (v: number) => unknown, number[]]>([
    ['fill_', 'value', (v) => int64([0]).fill_(v), [...OUTSIDE, NaN, Infinity]],
    ['masked_fill', 'value', (v) => int64([0]).masked_fill(torch.tensor([true]), v), [...OUTSIDE, NaN, -Infinity]],
    ['index_put_', 'values', (v) => int64([0]).index_put_(0, v), [...OUTSIDE, NaN]],
    ['fill_ on a view', 'value', (v) => int64([[0, 0]]).index(0).fill_(v), OUTSIDE],
    ['nn.init.constant_', 'val', (v) => nn.init.constant_(int64([0]), v), OUTSIDE],
    // These two refuse NaN and Infinity for every dtype already (checkNumber).
    ['torch.full', 'fill_value', (v) => torch.full([1], v, { dtype: torch.int64 }), OUTSIDE],
    ['torch.arange (start)', 'start', (v) => torch.arange(v, v + 2 ** 12, 2 ** 11), OUTSIDE],
    ['torch.arange into int64 (end)', 'end', (v) => torch.arange(0, v, 2 ** 62, { dtype: torch.int64 }), [2 ** 64]],
  ])('%s with a value outside [-2^63, 2^63): a RangeError naming %s', (_, name, call, values) => {
    for (const v of values) {
      expect(() => call(v)).toThrow(RangeError);
      expect(() => call(v)).toThrow(new RegExp(INT64.source.replace('(\\w+)', name)));
    }
  });

  test("the ends of int64's range are stored exactly", () => {
    const t = int64([0, 0]);
    t.index_put_(0, -(2 ** 63));
    t.index_put_(1, 2 ** 63 - 1024); // the largest double below 2 ** 63
    expect([...(t.data() as BigInt64Array)]).toEqual([-(2n ** 63n), 2n ** 63n - 1024n]);
    expect([...(torch.full([1], -(2 ** 63), { dtype: torch.int64 }).data() as BigInt64Array)]).toEqual([-(2n ** 63n)]);
  });

  test('the same check for every integer dtype; floating point takes any number', () => {
    expect(() => torch.zeros([1], { dtype: torch.int32 }).fill_(2 ** 31)).toThrow(/^Expected value to be a value int32 can hold \(an integer in \[-2147483648, 2147483647\]\) but received 2147483648 \(number\)$/);
    expect(() => torch.zeros([1], { dtype: torch.uint8 }).masked_fill(torch.tensor([true]), -1)).toThrow(/^Expected value to be a value uint8 can hold/);
    expect(() => torch.full([1], 128, { dtype: torch.int8 })).toThrow(/^Expected fill_value to be a value int8 can hold/);
    expect(torch.zeros(1).fill_(2 ** 63).item()).toBe(2 ** 63);
    expect(torch.zeros([1], { dtype: torch.bool }).fill_(5).item()).toBe(true);
    // The other operand of arithmetic is not stored: it promotes as in PyTorch (an int64 tensor + 2 ** 63 is float).
    expect(int64([1]).add(2 ** 63).dtype).toBe('float32');
  });
});

describe('a net in use is off limits: the in-place ops and index() of its parameters are refused', () => {
  test('each is an Error naming the hold, and changes nothing', () => {
    const fc = new nn.Linear(2, 2);
    const before = fc.weight.tolist() as number[][];
    const hold = new native.Hold([handleOfModule(fc)!], 'trained by this test');
    const attempts: [string, () => unknown][] = [
      ['fill_', () => torch.no_grad(() => fc.weight.fill_(0))],
      ['zero_', () => torch.no_grad(() => fc.weight.zero_())],
      ['copy_', () => torch.no_grad(() => fc.weight.copy_(torch.zeros(2, 2)))],
      ['copy_ from it', () => torch.zeros(2, 2).copy_(fc.weight)],
      ['index_put_', () => torch.no_grad(() => fc.weight.index_put_(0, 1))],
      ['requires_grad_', () => fc.weight.requires_grad_(false)],
      ['index', () => fc.weight.index(0)],
      ['a view of it', () => fc.weight.detach().index(0)],
      ['cat', () => torch.cat([fc.weight, fc.weight])],
    ];
    let refusals: [string, string][];
    try {
      refusals = attempts.map(([name, attempt]) => {
        try {
          attempt();
          return [name, 'not refused'];
        } catch (e) {
          return [name, (e as Error).message];
        }
      });
    } finally {
      hold.release();
    }
    for (const [name, message] of refusals) {
      expect([name, message]).toEqual([name, expect.stringMatching(/belongs to a net that is being trained by this test on another thread/)]);
    }
    expect(fc.weight.tolist()).toEqual(before);
    expect(fc.weight.requires_grad).toBe(true);
    expect(fc.weight.index(0).tolist()).toEqual(before[0]);
  });
});

describe("README's indexing table", () => {
  test('each row gives what PyTorch gives', () => {
    const t = a().float();
    expect(t.index(-1).shape).toEqual([3, 4]);
    expect(t.index([1, 2]).tolist()).toEqual([20, 21, 22, 23]);
    expect(t.index([Slice(), Slice(1, 3)]).shape).toEqual([2, 2, 4]);
    expect(t.index(Slice(1)).shape).toEqual([1, 3, 4]);
    expect(t.index([0, 0, Slice(None, None, 2)]).tolist()).toEqual([0, 2]);
    expect(t.index([Ellipsis, None]).shape).toEqual(t.index(['...', null]).shape);
    expect(t.index(int64([1, 0])).index([0, 0, 0]).item()).toBe(12);
    const u = t.sub(10);
    u.index_put_(u.lt(0), 0);
    expect(u.min().item()).toBe(0);
    u.index_put_([Slice(), 0], torch.tensor([-1, -2, -3, -4]));
    expect(u.index([1, 0]).tolist()).toEqual([-1, -2, -3, -4]);
    expect(u).toBeInstanceOf(Tensor);
  });
});
