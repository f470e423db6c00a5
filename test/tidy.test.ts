// torch.tidy(fn) and torch.keep(t): tensors made inside fn are freed when it ends, except its result and kept ones.
// A handle names (slot, generation) in the addon's handle table (native/tensor.h): a freed one reads as disposed,
// never as the tensor that reuses its slot.
import * as path from 'node:path';
import { nn, optim, torch, Tensor } from '../lib';
import { runNode } from './spawn';

const DISPOSED = /Tensor was disposed/;

describe('torch.tidy()', () => {
  test('frees what fn made, keeps what it returns (a Tensor, or in arrays, objects, Maps and Sets)', () => {
    const a = torch.tensor([1, 2]);
    let made: Tensor[] = [];
    const result = torch.tidy(() => {
      made = [a.add(1), a.mul(2), torch.relu(a)];
      return { sum: a.add(a), list: [a.sub(1)], map: new Map([['m', a.neg()]]), set: new Set([a.abs()]) };
    });
    for (const t of made) expect(t.is_disposed).toBe(true);
    expect(result.sum.tolist()).toEqual([2, 4]);
    expect(result.list[0].tolist()).toEqual([0, 1]);
    expect(result.map.get('m')!.tolist()).toEqual([-1, -2]);
    expect([...result.set][0].tolist()).toEqual([1, 2]);
    // Tensors from before the scope are untouched, in-place ops on them included.
    torch.tidy(() => a.add_(1));
    expect(a.is_disposed).toBe(false);
    expect(a.tolist()).toEqual([2, 3]);
  });

  test('a tidy inside a tidy hands its result to the outer one, which frees it unless it returns it too', () => {
    const a = torch.ones(2);
    let inner: Tensor | undefined;
    let innerTemp: Tensor | undefined;
    const outer = torch.tidy(() => {
      inner = torch.tidy(() => {
        innerTemp = a.mul(3);
        return a.mul(2);
      });
      expect(innerTemp!.is_disposed).toBe(true);
      expect(inner.is_disposed).toBe(false);
      return inner.add(1);
    });
    expect(inner!.is_disposed).toBe(true);
    expect(outer.tolist()).toEqual([3, 3]);
  });

  test('a tensor of the outer scope returned by an inner tidy stays the outer scope\'s', () => {
    let x: Tensor | undefined;
    torch.tidy(() => {
      x = torch.ones(1);
      torch.tidy(() => x);
      expect(x.is_disposed).toBe(false);
    });
    expect(x!.is_disposed).toBe(true);
  });

  test('torch.keep(t) outlives every scope; outside tidy it is a no-op', () => {
    let kept: Tensor | undefined;
    torch.tidy(() => torch.tidy(() => {
      kept = torch.keep(torch.tensor([5]));
    }));
    expect(kept!.is_disposed).toBe(false);
    expect(kept!.item()).toBe(5);
    const plain = torch.ones(1);
    expect(torch.keep(plain)).toBe(plain);
  });

  test('a freed handle reads as disposed: an Error when used, never the tensor that now has its slot', () => {
    let stale: Tensor | undefined;
    torch.tidy(() => {
      stale = torch.tensor([7]);
    });
    // Slots are reused newest-first: the next results take the freed one.
    const later = [torch.tensor([8]), torch.tidy(() => torch.tensor([9]))];
    expect(stale!.is_disposed).toBe(true);
    expect(String(stale)).toBe('tensor(<disposed>)');
    expect(() => stale!.item()).toThrow(DISPOSED);
    expect(() => stale!.add(1)).toThrow(DISPOSED);
    expect(() => torch.add(later[0], stale!)).toThrow(DISPOSED);
    expect(() => torch.keep(stale!)).toThrow(DISPOSED);
    stale!.dispose();  // a no-op, as for any disposed tensor
    expect(later.map((t) => t.item())).toEqual([8, 9]);
  });

  test('what a module holds outlives the tidy it was made in: parameters, buffers, tensors set as attributes', () => {
    const net = torch.tidy(() => {
      const m = new nn.Sequential(new nn.Linear(2, 3), new nn.BatchNorm1d(3));
      (m as unknown as { cached: Tensor }).cached = torch.zeros(1);
      return m;
    });
    const built = torch.tidy(() => new nn.Linear(2, 1));  // found in the result too, but kept regardless
    const other: { net?: nn.Module } = {};
    torch.tidy(() => {
      other.net = new nn.Linear(2, 1);  // not returned: its parameters are kept by nn.Parameter itself
    });
    for (const m of [net, built, other.net!]) {
      for (const p of m.parameters()) expect(p.is_disposed).toBe(false);
    }
    expect(net.forward(torch.ones(4, 2)).shape).toEqual([4, 3]);
    expect(other.net!.forward(torch.ones(1, 2)).shape).toEqual([1, 1]);
    expect((net as unknown as { cached: Tensor }).cached.is_disposed).toBe(false);
  });

  test('a training step inside tidy: the loss returned, the activations freed, the gradients kept by the parameters', () => {
    const net = new nn.Linear(3, 1);
    const opt = new optim.SGD(net.parameters(), { lr: 0.1 });
    const X = torch.randn(8, 3), y = torch.randn(8, 1);
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const l = torch.tidy(() => {
        opt.zero_grad();
        const loss = nn.functional.mse_loss(net.forward(X), y);
        loss.backward();
        opt.step();
        return loss;
      });
      losses.push(l.item() as number);
    }
    expect(losses[19]).toBeLessThan(losses[0]);
    expect(net.weight.grad).not.toBeNull();
  });

  test('a data set, a shuffled loader\'s order and a defined module property outlive the tidy they were made in', () => {
    const ds = torch.tidy(() => {
      const set = new torch.utils.data.TensorDataset(torch.arange(6).reshape(6, 1), torch.arange(6));
      return { length: set.length, set };
    }).set;
    const loader = new torch.utils.data.DataLoader(ds, { batch_size: 2, shuffle: true });
    const it = loader[Symbol.iterator]();
    const first = torch.tidy(() => it.next().value![1].tolist());  // the pass's order is made here
    const rest = [it.next().value![1].tolist(), it.next().value![1].tolist()];
    expect([...first, ...rest.flat()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const m = new nn.Linear(1, 1);
    torch.tidy(() => {
      Object.defineProperty(m, 'cached', { value: torch.ones(1), enumerable: true, writable: true });
    });
    expect((m as unknown as { cached: Tensor }).cached.is_disposed).toBe(false);
  });

  test.each([
    ['fn throws', () => { throw new Error('inner'); }, 'inner'],
    ['a getter of its result throws while the result is walked', () => ({ get bad(): Tensor { throw new Error('getter'); } }), 'getter'],
  ])('when %s, its tensors are freed and the scope closed; the error goes on', (_, end, message) => {
    let inside: Tensor | undefined;
    expect(() => torch.tidy(() => {
      inside = torch.ones(1);
      return end();
    })).toThrow(message);
    expect(inside!.is_disposed).toBe(true);
    const after = torch.ones(1);
    torch.tidy(() => undefined);
    expect(after.is_disposed).toBe(false);
  });

  test('dispose() inside tidy, and results of values that are not tensors', () => {
    expect(torch.tidy(() => {
      const t = torch.ones(2);
      t.dispose();
      return t.is_disposed;
    })).toBe(true);
    expect(torch.tidy(() => torch.ones(3).sum().item())).toBe(3);
    expect(torch.tidy(() => null)).toBeNull();
    // A large result without tensors is walked, not spread onto the stack.
    const big = torch.tidy(() => ({ values: new Array(1_000_000).fill(1), t: torch.ones(1) }));
    expect(big.values.length).toBe(1_000_000);
    expect(big.t.is_disposed).toBe(false);
  });

  // Inside tidy a handle is a BigInt (native/tensor.h): each kind of parameter must still take it as a tensor, and a
  // user's BigInt as an integer.
  test('inside tidy the scope\'s tensors pass as Tensor, Tensor[], Tensor?, index and TorchScript arguments', async () => {
    const net = new nn.Linear(2, 1);
    let traced: torch.jit.ScriptModule | undefined;
    let pending: Promise<Tensor> | undefined;
    const out = torch.tidy(() => {
      const a = torch.tensor([1, 2]);
      const b = torch.tensor([10, 20]);
      const x = torch.ones(1, 2);
      return {
        add: a.add(b).tolist(), // add.Tensor, not add.Scalar (Scalar takes a user's BigInt)
        alpha: torch.add(a, b, { alpha: 2 }).tolist(),
        bigint: a.add(5n as unknown as number).tolist(), // a user's BigInt (the generated types say number)
        cat: torch.cat([a, b]).tolist(),
        where: torch.where(a.gt(1), a, b).tolist(),
        select: b.index_select(0, torch.tensor([1], { dtype: torch.int64 })).tolist(),
        linear: nn.functional.linear(x, torch.eye(2), torch.ones(2)).tolist(),
        index: b.index(torch.tensor([1, 0], { dtype: torch.int64 })).tolist(),
        chained: a.float().mul(b.float()).relu().sum().item(),
        // Traced on the scope's tensors, and run on one (the run ends after the scope: its input was taken at the call).
        traced: (traced = torch.jit.trace(net, x), pending = traced.forward(torch.full([1, 2], 2)), true),
      };
    });
    expect((await pending!).tolist()).toEqual(net.forward(torch.full([1, 2], 2)).tolist());
    expect(out).toEqual({
      add: [11, 22], alpha: [21, 42], bigint: [6, 7], cat: [1, 2, 10, 20], where: [10, 2], select: [20],
      linear: [[2, 2]], index: [20, 10], traced: true, chained: 50,
    });
  });

  test('JSON.stringify gives a Tensor as it prints, made inside tidy (a BigInt handle) or not', () => {
    const outside = torch.ones(2);
    const json = torch.tidy(() => JSON.stringify({ outside, inside: torch.zeros(2) }));
    expect(JSON.parse(json)).toEqual({ outside: 'tensor([1., 1.])', inside: 'tensor([0., 0.])' });
  });

  test('an optimizer made inside tidy keeps its parameters (a built-in layer\'s parameters() gives new handles)', () => {
    const net = new nn.Linear(2, 1);
    const optimizer = torch.tidy(() => new optim.SGD(net.parameters(), { lr: 0.1 }));
    for (const p of optimizer.param_groups[0].params) expect(p.is_disposed).toBe(false);
    net.forward(torch.ones(1, 2)).sum().backward();
    const before = net.weight.tolist();
    optimizer.step();
    expect(net.weight.tolist()).not.toEqual(before);
  });

  test('what outlives a tidy survives garbage collections, and is freed by them once dropped', async () => {
    const o = await runNode(['--expose-gc', path.join(__dirname, 'children', 'tidy-owners.js')]);
    expect(o).toMatchObject({ code: 0, signal: null, stderr: '' });
    const { values, grown, foreign } = JSON.parse(o.stdout.trim().split('\n').pop()!) as { values: unknown[]; grown: number; foreign: string };
    // A result, torch.keep, a Parameter, a data set, a shuffled loader's order (its later batches read), a JS
    // forward's result; the second Tensor over a handle, F.relu(x, true)'s and torch.sigmoid_(a)'s, after the first
    // was collected; and the 3 results of a JS forward that returns such a second Tensor after keeping the first,
    // outside any scope, then inside a tidy and a JS forward around it, and such a Tensor returned through a tidy
    // whose first was kept with torch.keep and dropped, with collections while the scopes are open.
    expect(values).toEqual([24, 20, 4, 28, true, 12, 0, 1.5, 3, 3, 3, 3]);
    // Posted to a worker, a handle made inside tidy (a BigInt) is no handle there.
    expect(foreign).toBe('TypeError: Expected tensor to be a Tensor');
    // Four results of 256 MiB, and four pairs of Tensors over one of 256 MiB, each dropped: kept, they would add 2 GiB.
    expect(grown).toBeLessThan(384);
  }, 60000);

  test.each([1, 7])('random nested scopes (seed %i): what must be alive is, and nothing is left once dropped', async (seed) => {
    const o = await runNode(['--expose-gc', path.join(__dirname, 'children', 'tidy-fuzz.js'), String(seed), '200']);
    expect(o).toMatchObject({ code: 0, signal: null, stderr: '' });
    const { failures, first, grownMiB } = JSON.parse(o.stdout.trim()) as { failures: number; first: string[]; grownMiB: number };
    expect(first).toEqual([]);
    expect(failures).toBe(0);
    // 2-4 MiB here; a scope that never let go of the tensors kept inside it left 14 MiB over 100 iterations.
    expect(grownMiB).toBeLessThan(12);
  }, 120000);

  test('handle slots under garbage-collection pressure: 300,000 tensors, each still reads its own value', async () => {
    const out = await runNode(['--max-semi-space-size=1', path.join(__dirname, 'children', 'handle-stress.js')]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ bad: 0, errors: 0 });
  }, 120000);

  describe('a forward written in JS runs as in torch.tidy()', () => {
    // A block of small ops, as a Residual's forward: records what it made, so the test can look at it afterwards.
    class Block extends nn.Module {
      made: Tensor[] = [];
      lin = new nn.Linear(3, 3);
      override forward(x: Tensor): Tensor {
        const h = this.lin.forward(x);
        const r = nn.functional.relu(h);
        this.made.push(h, r);
        return r.add(x);
      }
    }

    test('what forward made and did not return is freed when it returns; the result, its inputs and parameters are not', () => {
      const block = new Block();
      const x = torch.ones(2, 3);
      const y = block.forward(x);
      for (const t of block.made) expect(t.is_disposed).toBe(true);
      expect(y.is_disposed).toBe(false);
      expect(x.is_disposed).toBe(false);
      for (const p of block.parameters()) expect(p.is_disposed).toBe(false);
      // The same values as the ops outside a module.
      expect(y.tolist()).toEqual(nn.functional.relu(block.lin.forward(x)).add(x).tolist());
      // Outside any scope, the result is the garbage collector's (an External handle, not a scope's BigInt).
      expect(typeof (y as unknown as { _h: unknown })._h).not.toBe('bigint');
    });

    test('a forward returning its input, a child module\'s result, or one kept by torch.keep or a module attribute', () => {
      class Identity extends nn.Module {
        override forward(x: Tensor): Tensor { return x; }
      }
      class Outer extends nn.Module {
        inner = new Block();
        kept: Tensor | null = null;
        cached: Tensor | null = null;
        override forward(x: Tensor): Tensor {
          const y = this.inner.forward(x);  // the inner scope's result moves to this one
          this.kept = torch.keep(y.mul(3));
          this.cached = y.mul(4);  // d2l's BatchNorm keeps its moving mean so
          return y.mul(2);
        }
      }
      const x = torch.ones(1, 3);
      expect(new Identity().forward(x)).toBe(x);
      const outer = new Outer();
      const out = outer.forward(x);
      expect(out.is_disposed).toBe(false);
      expect(outer.kept!.is_disposed).toBe(false);
      expect(outer.cached!.tolist()).toEqual(out.mul(2).tolist());
      for (const t of outer.inner.made) expect(t.is_disposed).toBe(true);
    });

    test('inside torch.tidy a forward\'s result is the tidy\'s, freed when it ends unless returned', () => {
      const block = new Block();
      let y: Tensor | undefined;
      const z = torch.tidy(() => {
        y = block.forward(torch.ones(1, 3));
        return y.mul(2);
      });
      expect(y!.is_disposed).toBe(true);
      expect(z.is_disposed).toBe(false);
    });

    test('training through a JS forward: backward reaches the parameters though the activations were freed', () => {
      const block = new Block();
      const opt = new optim.SGD(block.parameters(), { lr: 0.05 });
      const X = torch.randn(16, 3), target = torch.randn(16, 3);
      const losses: number[] = [];
      for (let i = 0; i < 30; i++) {
        opt.zero_grad();
        const loss = nn.functional.mse_loss(block.forward(X), target);
        loss.backward();
        opt.step();
        losses.push(loss.item() as number);
        block.made = [];
      }
      expect(block.lin.weight.grad).not.toBeNull();
      expect(losses[29]).toBeLessThan(losses[0]);
    });

    test('tensors in an array, object, Map or Set assigned to a module attribute in forward outlive it (an RNN\'s state)', () => {
      class Cell extends nn.Module {
        state: Tensor[] = [];
        named: { h?: Tensor; extra?: Tensor[] } = {};
        later: Tensor[] = [];
        override forward(x: Tensor): Tensor {
          const H = this.state.length ? this.state[0].add(x) : x.mul(1);
          const C = H.mul(2);
          this.state = [H, C];
          this.named = { h: H.neg(), extra: [C.neg()] };
          (this as unknown as { m: Map<string, Tensor> }).m = new Map([['c', C.add(1)]]);
          this.later.push(C.sub(1));  // added to a held array afterwards: not kept
          return H;
        }
      }
      const cell = new Cell();
      cell.forward(torch.ones(2));
      const out = cell.forward(torch.ones(2));  // reads the state the first call left
      expect(out.tolist()).toEqual([2, 2]);
      expect(cell.state[1].tolist()).toEqual([4, 4]);
      expect(cell.named.h!.tolist()).toEqual([-2, -2]);
      expect(cell.named.extra![0].tolist()).toEqual([-4, -4]);
      expect((cell as unknown as { m: Map<string, Tensor> }).m.get('c')!.tolist()).toEqual([5, 5]);
      expect(cell.later.map((t) => t.is_disposed)).toEqual([true, true]);
      // The Error says what freed it, and how to keep one.
      expect(() => cell.later[0].item()).toThrow(/freed when that ended: return it, assign it to a module attribute, or pass it to torch\.keep\(\)/);
    });

    test('a forward that throws frees what it made and closes its scope', () => {
      const captured: Tensor[] = [];
      class Fails extends nn.Module {
        override forward(x: Tensor): Tensor {
          captured.push(x.mul(2));  // held by the caller's array, not by the module
          throw new RangeError('no');
        }
      }
      const f = new Fails();
      expect(() => f.forward(torch.ones(1))).toThrow(RangeError);
      expect(captured[0].is_disposed).toBe(true);
      class Wrong extends nn.Module {
        override forward(x: Tensor): Tensor { return x.mul(2).tolist() as never; }
      }
      expect(() => new Wrong().forward(torch.ones(1))).toThrow(/the result of Wrong.forward\(\)/);
      // No scope was left open: results are the garbage collector's again.
      const t = torch.ones(1);
      expect(typeof (t as unknown as { _h: unknown })._h).not.toBe('bigint');
      torch.tidy(() => undefined);
      expect(t.is_disposed).toBe(false);
    });
  });

  describe('BAD CALL', () => {
    test('tidy(fn): fn not a function is a TypeError; a Promise is a TypeError (tidy covers synchronous code)', () => {
      expect(() => torch.tidy(1 as never)).toThrow(TypeError);
      expect(() => torch.tidy(1 as never)).toThrow(/fn/);
      expect(() => torch.tidy((async () => torch.ones(1)) as never)).toThrow(/Promise/);
      // The scope was closed: results are the garbage collector's again.
      const t = torch.ones(1);
      torch.tidy(() => undefined);
      expect(t.is_disposed).toBe(false);
    });

    test('keep(t): t not a Tensor is a TypeError naming t', () => {
      expect(() => torch.keep(1 as never)).toThrow(TypeError);
      expect(() => torch.keep({} as never)).toThrow(/Expected t to be a Tensor/);
    });
  });
});
