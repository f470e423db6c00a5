/**
 * @internal Promises of native work that took the caller's grad mode when it was queued (a ScriptModule's method
 * calls): torch.no_grad may return those, since its grad mode reached the work before it ended.
 */
const taken = new WeakSet<object>();

/** @internal */
export function markGradModeTaken<T extends object>(promise: T): T {
  taken.add(promise);
  return promise;
}

/** @internal */
export function gradModeTaken(value: unknown): boolean {
  return typeof value === 'object' && value !== null && taken.has(value);
}
