import { inspect } from 'node:util';
import { torch, Tensor, ValuesIndices } from '../lib';
import { DTYPES, typedArrayDtype } from '../lib/tensor';

describe('torch.tensor()', () => {
  test('from nested number arrays: float32, shape inferred', () => {
    const t = torch.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t).toBeInstanceOf(Tensor);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.tolist()).toEqual([[1, 2, 3], [4, 5, 6]]);
  });

  test('from typed arrays keeps their dtype', () => {
    expect(torch.tensor(new Float32Array([1, 2])).dtype).toBe('float32');
    expect(torch.tensor(new Float64Array([1, 2])).dtype).toBe('float64');
    expect(torch.tensor(new Int32Array([1, 2])).dtype).toBe('int32');
    expect(torch.tensor(new Uint8Array([1, 2])).dtype).toBe('uint8');
    const big = torch.tensor(new BigInt64Array([1n, 2n, 3n]));
    expect(big.dtype).toBe('int64');
    expect(big.tolist()).toEqual([1, 2, 3]);
  });

  test('with {dtype, shape}', () => {
    const t = torch.tensor([0, 2, 1, 3], { dtype: torch.int64, shape: [2, 2] });
    expect(t.dtype).toBe('int64');
    expect(t.shape).toEqual([2, 2]);
    expect(t.data()).toEqual(new BigInt64Array([0n, 2n, 1n, 3n]));
    const f = torch.tensor(new Float32Array(6).fill(0.5), { shape: [1, 2, 3] });
    expect(f.shape).toEqual([1, 2, 3]);
  });

  test('scalars, booleans and bigints', () => {
    const s = torch.tensor(3.5);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(3.5);
    const b = torch.tensor([true, false]);
    expect(b.dtype).toBe('bool');
    expect(b.tolist()).toEqual([true, false]);
    expect(torch.tensor([5n]).dtype).toBe('int64');
  });

  test('the data is copied: changing the source later does not change the tensor', () => {
    const source = new Float32Array([1, 2, 3]);
    const t = torch.tensor(source);
    source[0] = 99;
    expect(t.tolist()).toEqual([1, 2, 3]);
  });

  test('requires_grad option', () => {
    expect(torch.tensor([1, 2], { requires_grad: true }).requires_grad).toBe(true);
  });

  describe('BAD CALL', () => {
    test('data of the wrong type is a TypeError naming data', () => {
      expect(() => torch.tensor('abc' as never)).toThrow(TypeError);
      expect(() => torch.tensor('abc' as never)).toThrow(/data/);
      expect(() => torch.tensor([1, 'a'] as never)).toThrow(/data \(element 1\)/);
      expect(() => torch.tensor([{}] as never)).toThrow(TypeError);
    });

    test('ragged arrays are a RangeError naming the place', () => {
      expect(() => torch.tensor([[1, 2], [3]])).toThrow(RangeError);
      expect(() => torch.tensor([[1, 2], [3]])).toThrow(/data\[1\]/);
    });

    test('a shape that does not match the data length is a RangeError naming shape', () => {
      expect(() => torch.tensor([1, 2, 3], { shape: [2, 2] })).toThrow(RangeError);
      expect(() => torch.tensor([1, 2, 3], { shape: [2, 2] })).toThrow(/shape/);
      expect(() => torch.tensor([1, 2, 3, 4], { shape: [2, -2] })).toThrow(/shape\[1\]/);
      expect(() => torch.tensor([1, 2, 3, 4], { shape: [2, 1.5] as never })).toThrow(RangeError);
    });

    test('an unknown dtype is a RangeError, a non-string dtype a TypeError', () => {
      expect(() => torch.tensor([1], { dtype: 'float8' as never })).toThrow(RangeError);
      expect(() => torch.tensor([1], { dtype: 3 as never })).toThrow(TypeError);
    });

    test('options must be an object', () => {
      expect(() => torch.tensor([1], 5 as never)).toThrow(TypeError);
    });
  });
});

describe('torch.tensor(): data it cannot carry is an Error, never a crash or a silent change', () => {
  test('into an integer dtype, fractions are truncated toward zero, as PyTorch does; large integers stay exact', () => {
    expect(torch.tensor([1.7, -1.7, 0.5], { dtype: torch.int64 }).tolist()).toEqual([1, -1, 0]);
    expect(torch.tensor([2 ** 40 + 1], { dtype: torch.int64 }).item()).toBe(2 ** 40 + 1);
    expect(torch.tensor([-(2n ** 63n), 2n ** 63n - 1n]).data()).toEqual(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]));
    expect(torch.tensor([255, -0.5], { dtype: torch.uint8 }).tolist()).toEqual([255, 0]);
    expect(torch.tensor(new Float32Array([3.5]), { dtype: torch.int32 }).tolist()).toEqual([3]);
  });

  test('a SharedArrayBuffer-backed typed array is copied like any other', () => {
    const shared = new Float32Array(new SharedArrayBuffer(12));
    shared.set([1, 2, 3]);
    const t = torch.tensor(shared);
    shared[0] = 99;
    expect(t.dtype).toBe('float32');
    expect(t.tolist()).toEqual([1, 2, 3]);
  });

  describe('BAD CALL', () => {
    test.each([
      ['an array of holes', () => torch.tensor(new Array(10)), /Expected data\[0\] to be a number but the array has a hole there/],
      ['a hole in the middle', () => torch.tensor([1, , 3] as never), /data\[1\].*hole/],
      ['a hole in a nested array', () => torch.tensor([[1, 2], [3, ,]] as never), /data\[1\]\[1\].*hole/],
      ['a large array of holes', () => torch.tensor(new Array(1000)), /data\[0\].*hole/],
    ])('%s: a TypeError naming the place', (_, call, message) => {
      expect(call).toThrow(TypeError);
      expect(call).toThrow(message);
    });

    test.each([
      ['NaN into int64', () => torch.tensor([NaN], { dtype: torch.int64 }), /data \(element 0\).*int64.*NaN/],
      ['1e20 into int64', () => torch.tensor([1, 1e20], { dtype: torch.int64 }), /data \(element 1\).*int64.*100000000000000000000 \(number\)/],
      ['2 ** 63 into int64', () => torch.tensor([2 ** 63], { dtype: torch.int64 }), /data \(element 0\)/],
      ['Infinity into int32', () => torch.tensor([Infinity], { dtype: torch.int32 }), /int32.*Infinity/],
      ['-Infinity into int16', () => torch.tensor([-Infinity], { dtype: torch.int16 }), /int16/],
      ['256 into uint8', () => torch.tensor([256], { dtype: torch.uint8 }), /uint8 can hold \(an integer in \[0, 255\]\)/],
      ['-1 into uint8', () => torch.tensor([-1], { dtype: torch.uint8 }), /uint8/],
      ['128 into int8', () => torch.tensor([128], { dtype: torch.int8 }), /int8/],
      ['2n ** 64n', () => torch.tensor([2n ** 64n]), /data \(element 0\).*int64.*18446744073709551616 \(bigint\)/],
      ['2n ** 63n', () => torch.tensor([1n, 2n ** 63n]), /data \(element 1\)/],
      ['-(2n ** 63n) - 1n', () => torch.tensor([-(2n ** 63n) - 1n]), /int64/],
      ['2n ** 63n into float32', () => torch.tensor([2n ** 63n], { dtype: torch.float32 }), /int64/],
      ['2n ** 40n into int32', () => torch.tensor([2n ** 40n], { dtype: torch.int32 }), /int32/],
      ['a Float32Array holding NaN into int64', () => torch.tensor(new Float32Array([1, NaN]), { dtype: torch.int64 }), /data \(element 1\)/],
      ['an Int32Array holding 300 into int8', () => torch.tensor(new Int32Array([300]), { dtype: torch.int8 }), /int8/],
      ['a BigInt64Array holding 2n ** 40n into int32', () => torch.tensor(new BigInt64Array([2n ** 40n]), { dtype: torch.int32 }), /int32/],
    ])('%s: a RangeError naming data', (_, call, message) => {
      expect(call).toThrow(RangeError);
      expect(call).toThrow(message);
    });
  });
});

describe('the dtype list', () => {
  test("torch's constants, DTYPES and the native side's names are the same list", () => {
    const { native } = require('../lib/binding');
    expect(native.dtypes).toEqual([...DTYPES]);
    for (const d of DTYPES) expect((torch as unknown as Record<string, unknown>)[d]).toBe(d);
    expect(torch.float).toBe('float32');
    expect(torch.long).toBe('int64');
    for (const d of DTYPES) expect(torch.zeros([1], { dtype: d }).dtype).toBe(d);
  });

  test('both tables carry each dtype in the same typed array (native kDtypes, lib DTYPE_TABLE)', () => {
    // The array data() gives is the dtype's row in the native table; its dtype by lib/'s table is the first row
    // with that array: the dtype itself, or the one its values are read as.
    const readAs: Record<string, string> = { float16: 'float32', bfloat16: 'float32', bool: 'uint8' };
    for (const d of DTYPES) expect([d, typedArrayDtype(torch.zeros([1], { dtype: d }).data())]).toEqual([d, readAs[d] ?? d]);
    for (const d of DTYPES) {
      const array = torch.zeros([2], { dtype: d }).data();
      expect(torch.tensor(array).dtype).toBe(readAs[d] ?? d);
    }
  });
});

describe('creation functions', () => {
  test('zeros, ones, full, rand, randn take sizes as PyTorch does', () => {
    expect(torch.zeros(2, 3).shape).toEqual([2, 3]);
    expect(torch.zeros([2, 3]).tolist()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(torch.ones([2], { dtype: torch.int64 }).tolist()).toEqual([1, 1]);
    expect(torch.full([2], 7).tolist()).toEqual([7, 7]);
    // NaN and infinities fill a float tensor, as in PyTorch; an integer tensor refuses them (a RangeError).
    expect(torch.full([2], NaN).tolist()).toEqual([NaN, NaN]);
    expect(torch.full([1], -Infinity, { dtype: torch.float64 }).tolist()).toEqual([-Infinity]);
    expect(() => torch.full([1], NaN, { dtype: torch.int32 })).toThrow(RangeError);
    expect(() => torch.full([1], '7' as unknown as number)).toThrow(TypeError);
    const r = torch.rand({ size: [1, 1, 28, 28], dtype: torch.float32 });
    expect(r.shape).toEqual([1, 1, 28, 28]);
    expect(r.min().item()).toBeGreaterThanOrEqual(0);
    expect(r.max().item()).toBeLessThan(1);
    expect(torch.randn(1000).mean().item()).toBeCloseTo(0, 0);
  });

  test('randint, randperm, arange', () => {
    const r = torch.randint(0, 10, [100]);
    expect(r.dtype).toBe('int64');
    expect(r.min().item()).toBeGreaterThanOrEqual(0);
    expect(r.max().item()).toBeLessThan(10);
    const p = torch.randperm(10).tolist() as number[];
    expect([...p].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(torch.arange(5).tolist()).toEqual([0, 1, 2, 3, 4]);
    expect(torch.arange(0, 1, 0.25).tolist()).toEqual([0, 0.25, 0.5, 0.75]);
  });

  test('manual_seed makes random numbers repeat', () => {
    torch.manual_seed(42);
    const a = torch.rand(5).tolist();
    torch.manual_seed(42);
    expect(torch.rand(5).tolist()).toEqual(a);
  });

  describe('BAD CALL', () => {
    test('negative or fractional sizes are RangeErrors naming size', () => {
      expect(() => torch.zeros(-1)).toThrow(RangeError);
      expect(() => torch.zeros(-1)).toThrow(/size\[0\]/);
      expect(() => torch.rand([2, 1.5])).toThrow(RangeError);
      expect(() => torch.ones(['a'] as never)).toThrow(TypeError);
    });

    test('unexpected keywords are TypeErrors', () => {
      expect(() => torch.zeros([2], { colour: 'red' } as never)).toThrow(/unexpected keyword argument 'colour'/);
    });

    test('randint with high <= low, randperm with a negative n, manual_seed with a fraction', () => {
      expect(() => torch.randint(5, 5, [2])).toThrow(RangeError);
      expect(() => torch.randperm(-1)).toThrow(RangeError);
      expect(() => torch.manual_seed(1.5)).toThrow(RangeError);
      expect(() => torch.arange(0, 5, 0)).toThrow(RangeError);
    });
  });
});

describe('Tensor properties and methods', () => {
  test('shape, dtype, device, dim, numel, size', () => {
    const t = torch.zeros(2, 3, 4);
    expect(t.shape).toEqual([2, 3, 4]);
    expect(String(t.shape)).toBe('[2, 3, 4]');
    expect(inspect(t.shape)).toBe('[2, 3, 4]');
    expect(t.shape.numel()).toBe(24);
    expect(t.dim()).toBe(3);
    expect(t.numel()).toBe(24);
    expect(t.size(-1)).toBe(4);
    expect(t.size()).toEqual([2, 3, 4]);
    expect(String(t.device)).toBe('cpu');
    expect(t.device.type).toBe('cpu');
  });

  test('to(dtype), float(), long(), to({dtype}), to(device)', () => {
    const t = torch.tensor([1.7, 2.2]);
    expect(t.to(torch.int32).dtype).toBe('int32');
    expect(t.long().tolist()).toEqual([1, 2]);
    expect(t.long().float().dtype).toBe('float32');
    expect(t.to({ dtype: 'float64' }).dtype).toBe('float64');
    expect(t.to('cpu').device.type).toBe('cpu');
    expect(t.to(torch.device('cpu'), 'float64').dtype).toBe('float64');
  });

  test('item, tolist, data', () => {
    expect(torch.tensor([2.5]).item()).toBe(2.5);
    expect(torch.tensor([3], { dtype: 'int64' }).item()).toBe(3);
    expect(torch.tensor([true]).item()).toBe(true);
    expect(torch.tensor([[1, 2]]).data()).toEqual(new Float32Array([1, 2]));
    expect(torch.tensor([1, 0], { dtype: 'bool' }).data()).toEqual(new Uint8Array([1, 0]));
  });

  test('argmax, sum, mean, min, max, eq', () => {
    const t = torch.tensor([[1, 5, 2], [7, 0, 3]]);
    expect(t.argmax(1).tolist()).toEqual([1, 0]);
    expect(t.argmax().item()).toBe(3);
    expect(t.argmax(1, true).shape).toEqual([2, 1]);
    expect(t.sum().item()).toBe(18);
    expect(t.sum(0).tolist()).toEqual([8, 5, 5]);
    expect(t.mean().item()).toBe(3);
    expect(t.mean(1, true).shape).toEqual([2, 1]);
    expect(t.min().item()).toBe(0);
    expect(t.max().item()).toBe(7);
    const y = torch.tensor([1, 1], { dtype: 'int64' });
    expect(t.argmax(1).eq(y).tolist()).toEqual([true, false]);
    expect(t.argmax(1).eq(y).sum().item()).toBe(1);
    expect(t.eq(5).sum().item()).toBe(1);
  });

  test('max(dim) and min(dim) give {values, indices}, also destructured as [values, indices], as in PyTorch', () => {
    const t = torch.tensor([[1, 5, 2], [7, 0, 3]]);
    const { values, indices } = t.max(1);
    expect(values.tolist()).toEqual([5, 7]);
    expect(indices.tolist()).toEqual([1, 0]);
    expect(indices.dtype).toBe('int64');
    const [v, i] = t.min(0);
    expect(v.tolist()).toEqual([1, 0, 2]);
    expect(i.tolist()).toEqual([0, 1, 0]);
    expect(t.max(-1, true).values.shape).toEqual([2, 1]);
    expect(t.min(1, false).indices.shape).toEqual([2]);
    expect(t.max(1)).toBeInstanceOf(ValuesIndices);
    expect(String(t.max(1))).toBe('torch.return_types.max(\nvalues=tensor([5., 7.]),\nindices=tensor([1, 0]))');
    expect(t.max().item()).toBe(7);
    expect(t.min().item()).toBe(0);
    expect(() => t.max(2)).toThrow(/Dimension out of range/);
    expect(() => t.max('1' as never)).toThrow(/^Tensor\.max\(\): Expected argument 'dim' to be Tensor or int but received '1' \(string\)/);
    expect(() => t.max(1, 'yes' as never)).toThrow(/Expected argument 'keepdim' to be a boolean/);
    expect(() => (t.max as (...a: unknown[]) => unknown)(undefined, true)).toThrow(/^Tensor\.max\(\): Expected argument 'dim' to be an integer but received undefined/);
  });

  test('arithmetic and matmul', () => {
    const a = torch.tensor([1, 2]);
    expect(a.add(1).tolist()).toEqual([2, 3]);
    expect(a.sub(a).tolist()).toEqual([0, 0]);
    expect(a.mul(a).tolist()).toEqual([1, 4]);
    expect(a.div(2).tolist()).toEqual([0.5, 1]);
    expect(torch.tensor([[1, 2]]).matmul(torch.tensor([[3], [4]])).tolist()).toEqual([[11]]);
  });

  test("arithmetic with a number follows PyTorch's type promotion: integer tensors stay integer", () => {
    const labels = torch.tensor([1, 2], { dtype: torch.int64 });
    expect(labels.add(1).dtype).toBe('int64');
    expect(labels.add(1).tolist()).toEqual([2, 3]);
    expect(labels.mul(2).dtype).toBe('int64');
    expect(labels.sub(1).dtype).toBe('int64');
    expect(torch.tensor([3], { dtype: torch.int32 }).mul(2).dtype).toBe('int32');
    expect(torch.tensor([true, false]).add(1).tolist()).toEqual([2, 1]);
    const big = torch.tensor([2 ** 40 + 1], { dtype: torch.int64 });
    expect(big.add(0).item()).toBe(2 ** 40 + 1);
    expect(big.mul(1).item()).toBe(2 ** 40 + 1);
    expect(labels.add(0.5).dtype).toBe('float32');
    expect(labels.mul(2.5).tolist()).toEqual([2.5, 5]);
    expect(labels.div(2).dtype).toBe('float32');
    expect(labels.div(2).tolist()).toEqual([0.5, 1]);
    expect(labels.eq(2).tolist()).toEqual([false, true]);
    expect(torch.tensor([1.5]).add(1).dtype).toBe('float32');
    expect(torch.tensor([1.5], { dtype: torch.float64 }).add(1).dtype).toBe('float64');
  });

  test('reshape and view take sizes or an array, with one -1', () => {
    const t = torch.arange(24).float();
    expect(t.reshape(2, -1).shape).toEqual([2, 12]);
    expect(t.view([-1, 1, 4, 6]).shape).toEqual([1, 1, 4, 6]);
    expect(t.view(-1, 1, 4, 6).sum().item()).toBe(276);
  });

  test('backward fills .grad of leaves; detach and clone', () => {
    const x = torch.tensor([1, 2, 3], { requires_grad: true });
    const y = x.mul(x).sum();
    expect(y.grad_fn).toMatch(/SumBackward/);
    y.backward();
    expect(x.grad!.tolist()).toEqual([2, 4, 6]);
    expect(x.is_leaf).toBe(true);
    expect(x.detach().requires_grad).toBe(false);
    expect(x.clone().requires_grad).toBe(true);
  });

  describe('printing, as PyTorch prints', () => {
    test('floats with 4 decimals, aligned', () => {
      expect(String(torch.tensor([[0.1, 0.25], [3, 4]]))).toBe('tensor([[0.1000, 0.2500],\n        [3.0000, 4.0000]])');
    });
    test('integral floats, ints with a dtype suffix, scalars, bools', () => {
      expect(String(torch.tensor([1, 2]))).toBe('tensor([1., 2.])');
      expect(String(torch.tensor([1, 2], { dtype: 'int32' }))).toBe('tensor([1, 2], dtype=torch.int32)');
      expect(String(torch.tensor([1, 2], { dtype: 'int64' }))).toBe('tensor([1, 2])');
      expect(String(torch.tensor(2.5))).toBe('tensor(2.5000)');
      expect(String(torch.tensor([true, false]))).toBe('tensor([ True, False])');
      expect(String(torch.tensor([1e-5, 1]))).toBe('tensor([1.0000e-05, 1.0000e+00])');
    });
    test('empty tensors show their size; grad suffixes', () => {
      expect(String(torch.zeros(0, 3))).toBe('tensor([], size=(0, 3))');
      expect(String(torch.zeros(0))).toBe('tensor([])');
      expect(String(torch.tensor([1], { requires_grad: true }))).toBe('tensor([1.], requires_grad=True)');
      expect(inspect(torch.tensor([1], { requires_grad: true }).mul(2))).toMatch(/^tensor\(\[2\.\], grad_fn=<MulBackward\d>\)$/);
    });
    test('large tensors are summarized with ...', () => {
      const s = String(torch.arange(2000));
      expect(s).toBe('tensor([   0,    1,    2,  ..., 1997, 1998, 1999])');
      expect(String(torch.zeros(100, 100)).split('\n')).toHaveLength(7);
    });
  });

  test('EXPECTED FAILURE: brackets (t[0]) cannot index: an Error naming index() and index_put_(), read or written', () => {
    const t = torch.tensor([[1, 2], [3, 4]]);
    const index = (key: number) => () => (t as unknown as Record<number, unknown>)[key];
    expect(index(0)).toThrow(/^A Tensor cannot be indexed with brackets \(t\[0\]\): write t\.index\(0\) to read and t\.index_put_\(0, value\) to write/);
    expect(index(-1)).toThrow(/t\[-1\].*t\.index\(-1\)/);
    expect(() => t.sum(0)[1 as never]).toThrow(/cannot be indexed with brackets/);
    expect(() => {
      (t as unknown as Record<number, unknown>)[0] = 5;
    }).toThrow(/t\.index_put_\(0, value\)/);
    expect(Object.keys(t)).not.toContain('0');
    // Everything else reads as before.
    expect(t.index(1).tolist()).toEqual([3, 4]);
    expect(t.index_select(0, torch.tensor([1], { dtype: torch.int64 })).tolist()).toEqual([[3, 4]]);
    expect(t.numel()).toBe(4);
    expect((t as unknown as Record<string, unknown>).no_such_property).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(t, '_h')).toBe(true);
    expect(t instanceof Tensor).toBe(true);
  });

  describe('dispose()', () => {
    test('frees the tensor; later use is an Error, dispose twice is fine', () => {
      const t = torch.ones(3);
      t.dispose();
      t.dispose();
      expect(t.is_disposed).toBe(true);
      expect(() => t.sum()).toThrow(/disposed/);
      expect(() => t.shape).toThrow(/disposed/);
      expect(() => torch.ones(3).add(t)).toThrow(/disposed/);
      expect(String(t)).toBe('tensor(<disposed>)');
    });
  });

  describe('BAD CALL', () => {
    test('wrong argument types are TypeErrors naming the argument (a fraction for an int too, as in Python)', () => {
      expect(() => torch.ones(2).argmax(0.5)).toThrow(/Expected argument 'dim' to be an integer but received 0\.5/);
      const t = torch.ones(2);
      expect(() => t.argmax('1' as never)).toThrow(/^Tensor\.argmax\(\): Expected argument 'dim' to be an integer/);
      expect(() => t.add('x' as never)).toThrow(/^Tensor\.add\(\): Expected argument 'other' to be Scalar or Tensor/);
      expect(() => t.to(5 as never)).toThrow(TypeError);
      expect(() => t.view('a' as never)).toThrow(TypeError);
      expect(() => t.backward(5 as never)).toThrow(/gradient/);
    });
    test('a sparse array as a shape: a TypeError naming the hole, not a bare "A number was expected"', () => {
      expect(() => torch.ones(2).reshape(new Array(2))).toThrow(new TypeError('Expected shape[0] to be a non-negative integer or one -1 but received undefined'));
    });
    test('bad values are RangeErrors', () => {
      const t = torch.ones(2);
      expect(() => t.to('gpu')).toThrow(RangeError);
      expect(() => t.reshape(-1, -1)).toThrow(RangeError);
    });
  });

  describe('EXPECTED FAILURE: libtorch errors become Errors with its message', () => {
    test('dim out of range', () => {
      expect(() => torch.ones(2, 3).argmax(5)).toThrow(/Dimension out of range/);
    });
    test('item() of many elements', () => {
      expect(() => torch.ones(2).item()).toThrow(/a Tensor with 2 elements cannot be converted to Scalar/);
    });
    test('a view of the wrong size', () => {
      expect(() => torch.ones(6).view(4, -1)).toThrow(/shape '\[4, -1\]' is invalid for input of size 6/);
    });
    test('backward on a tensor without grad', () => {
      expect(() => torch.ones(1).backward()).toThrow(/does not require grad/);
    });
    test('messages carry no C++ backtrace', () => {
      try {
        torch.ones(2, 3).argmax(5);
      } catch (e) {
        expect((e as Error).message).not.toMatch(/Exception raised from|frame #/);
      }
    });
  });
});

describe('torch.device() and CUDA', () => {
  test('prints as PyTorch does', () => {
    expect(String(torch.device('cuda:0'))).toBe('cuda:0');
    expect(String(torch.device('cuda', 1))).toBe('cuda:1');
    expect(String(torch.device('cpu'))).toBe('cpu');
    expect(inspect(torch.device('cuda:0'))).toBe("device(type='cuda', index=0)");
    expect(torch.device('cuda:1').index).toBe(1);
  });

  test('BAD CALL: bad device strings are RangeErrors, wrong types TypeErrors', () => {
    expect(() => torch.device('gpu')).toThrow(RangeError);
    expect(() => torch.device('cuda:x')).toThrow(RangeError);
    expect(() => torch.device(0 as never)).toThrow(TypeError);
    expect(() => torch.zeros([2], { device: 'tpu' })).toThrow(/Expected device/);
  });

  test('BAD CALL: a device index libtorch cannot hold (above 127) is a RangeError naming the argument', () => {
    const huge = 'cuda:100000000000000000000';
    expect(() => torch.zeros([2], { device: huge })).toThrow(RangeError);
    expect(() => torch.zeros([2], { device: huge })).toThrow(/Expected device to be a device: .*N <= 127/);
    expect(() => torch.ones(2).to('cuda:128')).toThrow(RangeError);
    expect(() => torch.device('cuda:128')).toThrow(/Expected type/);
    expect(() => torch.device('cuda', 128)).toThrow(RangeError);
    expect(() => torch.device('cuda', 128)).toThrow(/Expected index/);
    expect(String(torch.device('cuda:127'))).toBe('cuda:127');
  });

  test('cuda.is_available() and device_count() agree', () => {
    expect(typeof torch.cuda.is_available()).toBe('boolean');
    expect(torch.cuda.device_count() > 0).toBe(torch.cuda.is_available());
  });

  const noCuda = torch.cuda.is_available() ? test.skip : test;
  noCuda('EXPECTED FAILURE without CUDA: asking for cuda is an Error, not a crash', () => {
    expect(() => torch.zeros([2], { device: 'cuda' })).toThrow(/CUDA/);
    expect(() => torch.ones(2).to('cuda:0')).toThrow(/CUDA/);
    expect(torch.ones(2).sum().item()).toBe(2);
  });
});

describe('threads and grad mode', () => {
  test('set_num_threads / get_num_threads', () => {
    const before = torch.get_num_threads();
    torch.set_num_threads(1);
    expect(torch.get_num_threads()).toBe(1);
    torch.set_num_threads(before);
    expect(() => torch.set_num_threads(0)).toThrow(RangeError);
    expect(() => torch.set_num_threads('2' as never)).toThrow(TypeError);
  });

  test('no_grad(fn) turns autograd off inside fn only and returns its result', () => {
    const x = torch.tensor([1, 2], { requires_grad: true });
    const y = torch.no_grad(() => x.mul(2));
    expect(y.requires_grad).toBe(false);
    expect(torch.is_grad_enabled()).toBe(true);
    expect(x.mul(2).requires_grad).toBe(true);
    expect(() => torch.no_grad(() => { throw new Error('inner'); })).toThrow('inner');
    expect(torch.is_grad_enabled()).toBe(true);
    expect(() => torch.no_grad(5 as never)).toThrow(TypeError);
  });
});
