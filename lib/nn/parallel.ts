/**
 * torch.nn.parallel.DistributedDataParallel: one replica of a net per process, kept identical by starting from rank
 * 0's parameters and averaging the gradients across ranks after every backward pass, so each rank's SGD step is the
 * same. train_ch6's native loop averages them inside its fused step (native/train.cc); a hand-written loop gets them
 * averaged when `loss.backward()` returns.
 */
import type { NativeProcessGroup, NativeTensor } from '../../binding';
import { native } from '../binding';
import { defaultGroup } from '../process_group';
import { afterBackward, Tensor } from '../tensor';
import { checkArgCount, invalidType } from '../validate';
import { checkNotHeld, Module, nativeRoots } from './module';

// Replicas whose forward ran with grad enabled since the last backward(): that backward averages their gradients.
const pending = new Set<DistributedDataParallel>();

afterBackward.add(() => {
  const replicas = [...pending];
  pending.clear();
  for (const ddp of replicas) ddp._average_gradients();
});

/**
 * Wraps a net for data-parallel training across the processes of the default group, as
 * torch.nn.parallel.DistributedDataParallel(module): the constructor checks that every rank's net has parameters of
 * the same shapes and dtypes in the same order (as PyTorch's _verify_params_across_processes) and copies rank 0's
 * parameters into every rank's (it blocks until every rank has constructed its own, as PyTorch's does), `forward`
 * runs the wrapped net, and a backward() after it averages the gradients across ranks (one flat bucket, one
 * all-reduce) before returning.
 * train_ch6 on a DistributedDataParallel net does the same inside its native step, reduces its printed loss and
 * accuracies across ranks and prints on rank 0 only. The wrapped net is `.module` (its parameters are named
 * 'module.0.weight', ...).
 * @example const model = new nn.parallel.DistributedDataParallel(net);
 * @throws TypeError for a module that is not an nn.Module; Error before init_process_group; the same Error on every
 *   rank when the ranks' nets differ in their parameters (naming the first that differs, and each rank's shape);
 *   an Error when a rank does not come within the group's timeout or is gone.
 */
export class DistributedDataParallel extends Module {
  readonly module: Module;
  /** @internal */
  readonly _group: NativeProcessGroup;

  constructor(module: Module) {
    super();
    checkArgCount('DistributedDataParallel', arguments.length, 1);
    if (!(module instanceof Module)) throw invalidType('module', 'an nn.Module', module);
    this._group = defaultGroup();
    this.module = module;
    checkNotHeld(this);
    this._group.broadcastParameters(this._params());
  }

  /** The wrapped net's forward; with grad enabled, the next backward() averages this net's gradients. */
  override forward(...inputs: Tensor[]): Tensor {
    const out = this.module.forward(...inputs);
    if (native.isGradEnabled()) pending.add(this);
    return out;
  }

  /**
   * @internal rank 0's parameter values into every rank's, as the constructor copies them, off the main thread, the
   * net held for `activity` meanwhile (train_ch6's start, after its own initialisation: it waits for every rank)
   */
  _broadcast_parameters(activity: string): Promise<void> {
    return this._group.broadcastParametersAsync(nativeRoots(this), this._params(), activity);
  }

  /** @internal the gradients averaged across ranks (blocks) */
  _average_gradients(): void {
    checkNotHeld(this);
    this._group.averageGradients(this._params());
  }

  private _params(): NativeTensor[] {
    return this.module.parameters().map((p) => p._h);
  }
}
