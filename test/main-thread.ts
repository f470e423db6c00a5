// What the main thread does while some work runs: each native call made on it (which, and for how long) and the
// gaps between the ticks of a 5 ms timer. Tests compare these with the work's own length, never with a fixed
// number of milliseconds: CI machines differ 6x in speed and are shared, so every duration scales together.
import { native } from '../lib/binding';

export interface MainThread {
  /** Each native call on the main thread: the function or Class.method called, its arguments, when it began (ms after
   * the work began) and its length in ms. */
  calls: { name: string; args: unknown[]; at: number; ms: number }[];
  /** The gaps between the timer's ticks (ms). */
  gaps: number[];
  /** When the timer ticked (ms after the work began). */
  ticks: number[];
  /** How long the work took (ms). */
  elapsed: number;
  /** When the work began (performance.now()). */
  started: number;
}

type Fn = (this: unknown, ...args: unknown[]) => unknown;

export async function mainThreadDuring(work: () => Promise<unknown>): Promise<MainThread> {
  const calls: MainThread['calls'] = [];
  const restore: (() => void)[] = [];
  const instrument = (owner: Record<string, unknown>, key: string, name: string) => {
    const f = owner[key] as Fn;
    owner[key] = function (this: unknown, ...args: unknown[]) {
      const began = performance.now();
      try {
        return f.apply(this, args);
      } finally {
        calls.push({ name, args, at: began - started, ms: performance.now() - began });
      }
    };
    restore.push(() => (owner[key] = f));
  };
  const exports = native as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== 'function') continue;
    const proto = (value as { prototype?: Record<string, unknown> }).prototype ?? {};
    const methods = Object.getOwnPropertyNames(proto).filter((k) => k !== 'constructor' && typeof proto[k] === 'function');
    if (methods.length) for (const m of methods) instrument(proto, m, `${name}.${m}`);
    else instrument(exports, name, name);
  }
  const gaps: number[] = [];
  const ticks: number[] = [];
  const started = performance.now();
  let last = started;
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    ticks.push(now - started);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
    for (const undo of restore.reverse()) undo();
  }
  return { calls, gaps, ticks, elapsed: performance.now() - started, started };
}

export interface Summary {
  /** The longest native call on the main thread. */
  longest: { name: string; ms: number };
  /** The share of the work's time spent in native calls on the main thread. */
  share: number;
  /** The longest gap between the timer's ticks (ms). */
  maxGap: number;
  elapsed: number;
}

export function summary(m: MainThread): Summary {
  const longest = m.calls.reduce<{ name: string; ms: number }>((a, b) => (b.ms > a.ms ? b : a), { name: '(none)', ms: 0 });
  const share = m.calls.reduce((s, c) => s + c.ms, 0) / m.elapsed;
  return { longest, share, maxGap: Math.max(0, ...m.gaps), elapsed: m.elapsed };
}
