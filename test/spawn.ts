// Child processes for the suites that need them (a crash or a hang must fail a test, not kill jest): how one ended,
// what it printed, how long it took.
import { spawn } from 'node:child_process';

export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface SpawnOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Called with all of stdout so far, each time more arrives; `kill` signals the child. */
  onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void;
}

/** Runs `node ...args` and resolves when it exits. */
export function runNode(args: string[], options: SpawnOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const p = spawn(process.execPath, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d;
      options.onStdout?.(stdout, (s) => p.kill(s));
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}
