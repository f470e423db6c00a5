/**
 * @internal The default process group (one per Node environment, as PyTorch's is per process): its one owner, which
 * torch.distributed sets and DistributedDataParallel and DistributedSampler read.
 */
import type { NativeProcessGroup } from '../binding';

let group: NativeProcessGroup | null = null;

const NOT_INITIALIZED =
  'Default process group has not been initialized, please make sure to call init_process_group.';

/** The default group's native handle; PyTorch's Error when there is none. */
export function defaultGroup(): NativeProcessGroup {
  if (!group) throw new Error(NOT_INITIALIZED);
  return group;
}

export function hasDefaultGroup(): boolean {
  return group !== null;
}

export function setDefaultGroup(value: NativeProcessGroup | null): void {
  group = value;
}
