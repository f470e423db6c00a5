/**
 * torch.distributed over libtorch's c10d: one default process group per process (Gloo on the CPU, NCCL on CUDA
 * builds that have it), made by a TCPStore rendezvous as PyTorch's env:// and tcp:// init methods make it, and its
 * collectives. Collectives run off the main thread and resolve when done; every rank must issue the same ones in the
 * same order, as in PyTorch. Each collective first checks, with one small all-gather, that every rank makes the same
 * call on a tensor of the same dtype and shape, and rejects on every rank with the same Error when they do not (Gloo
 * itself would abort the process, or mix the ranks' bytes).
 */
import { native } from './binding';
import { defaultGroup, hasDefaultGroup, setDefaultGroup } from './process_group';
import { integerRange, Tensor } from './tensor';
import {
  atCaller, checkArgCount, checkInt, checkNumber, checkOptions, checkString, invalidType, invalidValue, parseArgs,
} from './validate';

/** The reductions of all_reduce, as torch.distributed.ReduceOp (AVG is the sum divided by the world size). */
export const ReduceOp = Object.freeze({ SUM: 'sum', PRODUCT: 'product', MIN: 'min', MAX: 'max', AVG: 'avg' } as const);
export type ReduceOpName = (typeof ReduceOp)[keyof typeof ReduceOp];
const REDUCE_OPS = Object.values(ReduceOp);

/** The backends lenet-torch knows; which of them this build has: is_gloo_available(), is_nccl_available(). */
const BACKENDS = ['gloo', 'nccl'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface InitProcessGroupOptions {
  /** 'gloo' (the default) or 'nccl'. */
  backend?: Backend;
  /** 'env://' (the default: MASTER_ADDR and MASTER_PORT) or 'tcp://host:port'. */
  init_method?: string;
  /** Seconds to wait for the other ranks and for each collective (default 1800, PyTorch's 30 minutes; at most 1e9). */
  timeout?: number;
  /** Processes in the group (default $WORLD_SIZE). */
  world_size?: number;
  /** This process's rank, 0 .. world_size - 1 (default $RANK). */
  rank?: number;
}

// A rendezvous under way: a second init_process_group meanwhile is refused as one after it would be.
let initializing = false;

/** Whether this build has a c10d backend (Gloo or NCCL), as torch.distributed.is_available. */
export function is_available(): boolean {
  checkArgCount('distributed.is_available', arguments.length, 0);
  return native.distributedBackends.length > 0;
}

/** Whether this build has the Gloo backend (its headers, libgloo-dev, were found at build time). */
export function is_gloo_available(): boolean {
  checkArgCount('distributed.is_gloo_available', arguments.length, 0);
  return native.distributedBackends.includes('gloo');
}

/** Whether this build has the NCCL backend (a CUDA libtorch with NCCL and nccl.h at build time). */
export function is_nccl_available(): boolean {
  checkArgCount('distributed.is_nccl_available', arguments.length, 0);
  return native.distributedBackends.includes('nccl');
}

/** Whether init_process_group has made the default group (and destroy_process_group has not ended it). */
export function is_initialized(): boolean {
  checkArgCount('distributed.is_initialized', arguments.length, 0);
  return hasDefaultGroup();
}

// Ranks and world sizes are C ints in c10d and Gloo.
const MAX_WORLD_SIZE = 2 ** 31 - 1;
// Gloo waits until now + timeout on a nanosecond clock: 1e9 s (about 32 years) stays far inside its int64.
const MAX_TIMEOUT = 1e9;

/** world_size or rank: given, else from the environment; an integer min..MAX_WORLD_SIZE - 1 + min. */
function envInt(name: string, value: unknown, fallback: string | undefined, min: number): number {
  const max = MAX_WORLD_SIZE - 1 + min;
  const check = (label: string, v: unknown) => {
    const n = checkInt(label, v, { min, expected: `an integer in ${min}..${max}` });
    if (n > max) throw invalidValue(label, `an integer in ${min}..${max}`, v);
    return n;
  };
  if (value !== undefined) return check(name, value);
  if (fallback === undefined) {
    throw new Error(`Error initializing torch.distributed using env:// rendezvous: environment variable ${name.toUpperCase()} expected, but not set`);
  }
  if (!/^\d+$/.test(fallback)) throw invalidValue(`$${name.toUpperCase()}`, `an integer in ${min}..${max}`, fallback);
  return check(`$${name.toUpperCase()}`, Number(fallback));
}

function envString(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`Error initializing torch.distributed using env:// rendezvous: environment variable ${name} expected, but not set`);
  }
  return value;
}

/**
 * Makes the default process group, as torch.distributed.init_process_group: every rank calls it and it resolves once
 * all world_size ranks have met (rank 0 serves the rendezvous on MASTER_ADDR:MASTER_PORT). With 'env://' (the
 * default) the address comes from $MASTER_ADDR and $MASTER_PORT, and rank and world_size, unless given, from $RANK
 * and $WORLD_SIZE, as lenet-torch-run (and torchrun) set them.
 * @example await torch.distributed.init_process_group('gloo');
 * @example await torch.distributed.init_process_group({ backend: 'gloo', init_method: 'tcp://127.0.0.1:29500', rank: 0, world_size: 2 });
 * @throws TypeError / RangeError naming the argument (a rank outside 0 .. world_size - 1, a world_size above
 *   2^31 - 1, say); an Error when a
 *   variable env:// needs is not set or the default group exists; rejects with an Error when this build lacks the
 *   backend, the port is taken, the ranks disagree on world_size or a peer does not come within `timeout`.
 */
export async function init_process_group(backend?: Backend | InitProcessGroupOptions, options?: InitProcessGroupOptions): Promise<void> {
  checkArgCount('distributed.init_process_group', arguments.length, 2);
  const given = typeof backend === 'string' ? [backend, checkOptions('options', options)] : [checkOptions('options', backend)];
  if (typeof backend !== 'string' && options !== undefined) throw invalidType('backend', 'a backend name', backend);
  const a = parseArgs('distributed.init_process_group', ['backend', 'init_method', 'timeout', 'world_size', 'rank'], given);
  const name = checkString('backend', a.backend ?? 'gloo', BACKENDS);
  const method = a.init_method ?? 'env://';
  if (typeof method !== 'string') throw invalidType('init_method', "'env://' or 'tcp://host:port'", method);
  const timeout = checkNumber('timeout', a.timeout ?? 1800, { gt: 0, max: MAX_TIMEOUT, expected: `a number of seconds in (0, ${MAX_TIMEOUT}]` });
  let host: string;
  let port: number;
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(method);
  if (method === 'env://') {
    host = envString('MASTER_ADDR');
    port = Number(envString('MASTER_PORT'));
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidValue('$MASTER_PORT', 'a port number 1..65535', process.env.MASTER_PORT);
  } else if (tcp) {
    host = tcp[1].replace(/^\[|\]$/g, '');
    port = Number(tcp[2]);
    if (port < 1 || port > 65535) throw invalidValue('init_method', "'tcp://host:port' with a port 1..65535", method);
  } else {
    throw invalidValue('init_method', "'env://' or 'tcp://host:port'", method);
  }
  const world_size = envInt('world_size', a.world_size, process.env.WORLD_SIZE, 1);
  const rank = envInt('rank', a.rank, process.env.RANK, 0);
  if (rank >= world_size) throw invalidValue('rank', `an integer in 0..${world_size - 1} (world_size ${world_size})`, rank);
  if (hasDefaultGroup() || initializing) throw new Error('trying to initialize the default process group twice!');
  const caller = new Error();
  initializing = true;
  try {
    setDefaultGroup(await native.initProcessGroup(name, host, port, rank, world_size, Math.round(timeout * 1000)));
  } catch (error) {
    throw atCaller(new Error(`init_process_group: ${(error as Error).message}`), caller);
  } finally {
    initializing = false;
  }
}

/** This process's rank in the default group, as torch.distributed.get_rank. @throws Error before init_process_group. */
export function get_rank(): number {
  checkArgCount('distributed.get_rank', arguments.length, 0);
  return defaultGroup().rank();
}

/** The number of processes in the default group, as torch.distributed.get_world_size. @throws Error before init_process_group. */
export function get_world_size(): number {
  checkArgCount('distributed.get_world_size', arguments.length, 0);
  return defaultGroup().size();
}

/** The default group's backend: 'gloo' or 'nccl'. @throws Error before init_process_group. */
export function get_backend(): Backend {
  checkArgCount('distributed.get_backend', arguments.length, 0);
  return defaultGroup().backend() as Backend;
}

/** A collective's rejection, with the stack of the call that issued it. */
async function settle(caller: Error, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    throw atCaller(error, caller);
  }
}

function checkTensor(value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw invalidType('tensor', 'a Tensor', value);
  return value;
}

/**
 * Reduces `tensor` across all ranks in place, as torch.distributed.all_reduce: every rank ends with the sum (or
 * the ReduceOp given). Resolves when done. A tensor that is not contiguous (a view) is reduced as a contiguous copy
 * and the result written back into it.
 * @example await dist.all_reduce(t); // t is now the sum over ranks
 * @throws TypeError / RangeError naming the argument (AVG of an integer tensor, say); Error before
 *   init_process_group; rejects with the same Error on every rank when the ranks' calls differ (a tensor of another
 *   dtype or shape, another collective), and with the backend's Error when a peer is gone or the timeout passes.
 */
export function all_reduce(tensor: Tensor, op: ReduceOpName = ReduceOp.SUM): Promise<void> {
  const caller = new Error();
  checkArgCount('distributed.all_reduce', arguments.length, 2);
  const t = checkTensor(tensor);
  const o = checkString('op', op, REDUCE_OPS);
  if (o === ReduceOp.AVG && (t.dtype === 'bool' || integerRange(t.dtype) !== null)) {
    // The sum would be written, then the division refused.
    throw invalidValue('op', `'sum', 'product', 'min' or 'max' for dtype ${t.dtype} (AVG divides: it needs a floating-point tensor)`, op);
  }
  const g = defaultGroup();
  return settle(caller, () => g.allReduce(t._h, o));
}

/**
 * Copies rank `src`'s `tensor` into every rank's, in place, as torch.distributed.broadcast (a view too, as
 * all_reduce). Resolves when done.
 * @throws TypeError / RangeError naming the argument; Error before init_process_group; rejects as all_reduce does.
 */
export function broadcast(tensor: Tensor, src: number): Promise<void> {
  const caller = new Error();
  checkArgCount('distributed.broadcast', arguments.length, 2);
  const t = checkTensor(tensor);
  const g = defaultGroup();
  const s = checkInt('src', src, { min: 0 });
  if (s >= g.size()) throw invalidValue('src', `a rank in 0..${g.size() - 1}`, src);
  return settle(caller, () => g.broadcast(t._h, s));
}

/**
 * Resolves once every rank has called barrier(), as torch.distributed.barrier.
 * @throws Error before init_process_group; rejects as all_reduce does (another collective on a rank, a peer gone).
 */
export function barrier(): Promise<void> {
  const caller = new Error();
  checkArgCount('distributed.barrier', arguments.length, 0);
  const g = defaultGroup();
  return settle(caller, () => g.barrier());
}

/**
 * Ends the default group, as torch.distributed.destroy_process_group; init_process_group may then make a new one.
 * Collectives and trainings under way keep the old group until they end.
 * @throws Error before init_process_group.
 */
export function destroy_process_group(): void {
  checkArgCount('distributed.destroy_process_group', arguments.length, 0);
  defaultGroup().destroy();
  setDefaultGroup(null);
}
