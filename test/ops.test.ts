// The operator road (lib/ops, native/ops.cc): every aten operator by its Python name, one mechanism.
import { F, nn, optim, torch, Tensor, ValuesIndices } from '../lib';
import type { NativeTensor } from '../binding';
import { native } from '../lib/binding';
import { ReturnTuple } from '../lib/ops';

const t = () => torch.tensor([[1, -2, 3], [-4, 5, -6]]);
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}
const values = (x: Tensor) => Array.from(x.data() as Float32Array);

describe('torch.X, Tensor.X, F.X from the schemas', () => {
  test('functions, methods and nn.functional call the operator of their name', () => {
    expect(values(torch.relu(t()))).toEqual([1, 0, 3, 0, 5, 0]);
    expect(values(t().neg())).toEqual([-1, 2, -3, 4, -5, 6]);
    expect(values(F.relu(t()))).toEqual([1, 0, 3, 0, 5, 0]);
    expect(nn.functional).toBe(F);
    // torch.nn.functional.relu and torch.optim.SGD as the book spells them: the same namespaces, not copies.
    expect(torch.nn).toBe(nn);
    expect(torch.optim).toBe(optim);
    expect(values(torch.nn.functional.relu(t()))).toEqual([1, 0, 3, 0, 5, 0]);
    expect(values(torch.special.expit(torch.zeros(2)))).toEqual([0.5, 0.5]);
    expect(torch.linalg.det(torch.eye(3)).item()).toBe(1);
    expect(values(torch.fft.fftfreq(4))).toEqual([0, 0.25, -0.5, -0.25]);
  });

  test("an int[2] whose default is [] takes [] as given: F.max_pool2d(x, 3) strides by the kernel, as PyTorch's", () => {
    const x = torch.arange(36).to(torch.float32).view(1, 1, 6, 6);
    expect(values(F.max_pool2d(x, 3))).toEqual([14, 17, 32, 35]);
    expect(values(F.max_pool2d(x, 3, { padding: 0 }))).toEqual([14, 17, 32, 35]);
    expect(values(torch.max_pool2d(x, 3, []))).toEqual([14, 17, 32, 35]);
    // Other lengths stay refused: kernels index such lists without checking them.
    expect(() => torch.max_pool2d(x, 3, [1, 1, 1])).toThrow(/argument 'stride' takes 2 integers \(or one for all\), not 3/);
    expect(() => torch.max_pool2d(x, [])).toThrow(TypeError);
  });

  test('the overload is chosen by the arguments, as Python chooses it', () => {
    expect(values(torch.add(t(), 1))).toEqual([2, -1, 4, -3, 6, -5]); // add.Scalar
    expect(values(torch.add(t(), t()))).toEqual([2, -4, 6, -8, 10, -12]); // add.Tensor
    expect(torch.max(t()).item()).toBe(5); // max()
    expect(values(torch.maximum(t(), torch.zeros(3)))).toEqual([1, 0, 3, 0, 5, 0]);
    const m = torch.max(t(), 1); // max.dim: a named tuple
    expect(m).toBeInstanceOf(ValuesIndices);
    expect(values(m.values)).toEqual([3, 5]);
    const [v, i] = torch.max(t(), 1);
    expect([values(v), Array.from(i.data(), Number)]).toEqual([[3, 5], [2, 1]]);
    expect(values(torch.max(t(), t().neg()))).toEqual([1, 2, 3, 4, 5, 6]); // max.other
  });

  test('keyword arguments in a trailing options object, input= for the first', () => {
    expect(values(torch.add(t(), t(), { alpha: 2 }))).toEqual([3, -6, 9, -12, 15, -18]);
    expect(torch.mean(t(), { dim: [0, 1], keepdim: true }).shape).toEqual([1, 1]);
    expect(values((torch.sum as (...a: unknown[]) => Tensor)({ input: t(), dim: 1 }))).toEqual([2, -5]);
    expect(torch.zeros_like(t(), { dtype: 'int64' }).dtype).toBe('int64');
    expect(torch.eye(2, { requires_grad: true }).requires_grad).toBe(true);
    expect(torch.cumsum(t(), { dim: 1, dtype: 'float64' }).dtype).toBe('float64');
  });

  test("Python's varargs sizes: t.view(3, 2), torch.zeros_like / torch.empty(2, 3)", () => {
    expect(t().expand(2, 2, 3).shape).toEqual([2, 2, 3]);
    expect(t().repeat(2, 1).shape).toEqual([4, 3]);
    expect(torch.eye(2, 3).shape).toEqual([2, 3]);
  });

  test('in-place ops and out= return the very Tensor given', () => {
    const x = t();
    expect(x.add_(1)).toBe(x);
    expect(values(x)).toEqual([2, -1, 4, -3, 6, -5]);
    expect(x.clamp_({ min: 0 })).toBe(x);
    const out = torch.empty(2, 3);
    expect(torch.mul(t(), 2, { out })).toBe(out);
    expect(values(out)).toEqual([2, -4, 6, -8, 10, -12]);
    const vals = torch.empty(2);
    const idx = torch.empty(2, { dtype: 'int64' });
    const r = torch.max(t(), 1, { out: [vals, idx] });
    expect([r.values, r.indices]).toEqual([vals, idx]);
  });

  test('several returns: lists as arrays, named ones as NamedTuple', () => {
    const parts = torch.unbind(t());
    expect(parts.map((p) => p.shape)).toEqual([[3], [3]]);
    const aminmax = torch.aminmax(t());
    expect(aminmax).toBeInstanceOf(ReturnTuple);
    expect([aminmax.min.item(), aminmax.max.item()]).toEqual([-6, 5]);
    expect(String(aminmax)).toMatch(/^torch\.return_types\.aminmax\(\nmin=tensor\(-6\.\),\nmax=tensor\(5\.\)\)$/);
  });

  test('autograd flows through the generic path', () => {
    const x = torch.tensor([1, 2, 3]).requires_grad_();
    torch.special.expit(x).sum().backward();
    expect(x.grad!.shape).toEqual([3]);
    expect(torch.tanh(x).grad_fn).toBe('TanhBackward0');
  });

  test('hand-written names win over generated ones, and stay as they were', () => {
    expect(Object.getOwnPropertyDescriptor(Tensor.prototype, 'neg')!.enumerable).toBe(false);
    expect(typeof torch.tensor).toBe('function');
    expect(torch.zeros(2, 3).shape).toEqual([2, 3]);
  });
});

describe('BAD CALL', () => {
  test('a wrong type is a TypeError naming the op and the argument, listing the overloads', () => {
    // By name: the native side's TypeError comes from another realm than jest's.
    expect(thrown(() => torch.add(t(), 'x' as never)).name).toBe('TypeError');
    expect(() => torch.add(t(), 'x' as never)).toThrow(/^torch\.add\(\): Expected argument 'other' to be Scalar or Tensor but received 'x' \(string\)\. Its overloads:\n  add\.Scalar\(Tensor self, Scalar other, Scalar alpha=1\) -> Tensor\n  add\.Tensor/);
    expect(() => (t().neg as (...a: unknown[]) => unknown)(1)).toThrow(/^Tensor\.neg\(\): takes 0 positional argument\(s\) but 1 were given/);
    expect(() => torch.cumsum(t(), { dim: 1.5 })).toThrow(/^torch\.cumsum\(\): Expected argument 'dim' to be an integer but received 1\.5 \(number\)/);
    expect(() => torch.zeros_like(t(), { dtype: 'float128' as never })).toThrow(/Expected argument 'dtype' to be a dtype \('float32'/);
  });

  test('an unknown keyword, a missing argument, a repeated one', () => {
    expect(() => torch.add(t(), t(), { beta: 1 } as never)).toThrow(/^torch\.add\(\): unexpected keyword argument 'beta'/);
    expect(() => (torch.add as (...a: unknown[]) => unknown)(t())).toThrow(/^torch\.add\(\): missing argument 'other'/);
    expect(() => torch.cumsum(t(), 1, { dim: 1 } as never)).toThrow(/got multiple values for argument 'dim'/);
    expect(() => (torch.transpose as (...a: unknown[]) => unknown)(t(), 0, 1, { out: torch.empty(1) })).toThrow(/it has no out= form/);
  });

  test('a disposed Tensor is refused as in every other call', () => {
    const x = t();
    x.dispose();
    expect(() => torch.relu(x)).toThrow(/Tensor was disposed/);
  });

  test('native callOp guards against misuse of its id', () => {
    expect(native.opLookup('no_such_operator', 'torch.no_such_operator')).toBe(-1);
    expect(() => native.callOp(1e9, 0, 0)).toThrow();
  });

  test('an op called from a getter while another call binds its arguments leaves that call as it was', () => {
    // lib/ reads options in JS before the native call; the addon's own callOp reads them itself, and a getter may
    // call ops (each with arguments of its own) in the middle of that.
    const id = native.opLookup('add', 'torch.add');
    const a = torch.tensor([1, 2]);
    const kwargs = {
      get alpha() {
        for (let i = 0; i < 3; i++) torch.mul(torch.relu(a), torch.ones(2)).sum();
        return 10;
      },
    };
    const result = new Tensor(native.callOp(id, kwargs, undefined, a._h, a._h) as NativeTensor);
    expect(values(result)).toEqual([11, 22]);
  });
});

describe('EXPECTED FAILURE', () => {
  test("libtorch's refusal is an Error with libtorch's message", () => {
    expect(() => torch.add(t(), torch.ones(4))).toThrow(/The size of tensor a \(3\) must match the size of tensor b \(4\)/);
    expect(() => torch.linalg.inv(torch.ones(2, 3))).toThrow(/must be batches of square matrices/);
    expect(thrown(() => torch.add(t(), torch.ones(4))).name).toBe('Error');
  });
});
