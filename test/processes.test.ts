// Exit paths and worker_threads, each in a child process (test/children/train.js, on the built package) so that a
// crash fails the test instead of killing jest: the process ends promptly, with the expected status and no core
// dump, whatever native work is under way.
import * as path from 'node:path';
import { Outcome, runNode } from './spawn';

const child = path.join(__dirname, 'children', 'train.js');

function run(scenario: string, onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Outcome> {
  return runNode([child, scenario], { onStdout });
}

describe('ending the process while train_ch6 runs native work', () => {
  test('process.exit(3) from a timer: exit code 3, promptly', async () => {
    const o = await run('exit');
    expect(o).toMatchObject({ code: 3, signal: null });
    expect(o.stderr).not.toMatch(/terminate called|Aborted|core dumped/);
    expect(o.stdout).not.toMatch(/trained/); // it ended before the 20 epochs did (no wall-clock bound: CI is shared)
  }, 30000);

  test('an uncaught exception: exit code 1 with the error, promptly', async () => {
    const o = await run('throw');
    expect(o).toMatchObject({ code: 1, signal: null });
    expect(o.stderr).toMatch(/boom/);
    expect(o.stderr).not.toMatch(/terminate called|Aborted|core dumped/);
    expect(o.stdout).not.toMatch(/trained/); // it ended before the 20 epochs did (no wall-clock bound: CI is shared)
  }, 30000);

  test.each<NodeJS.Signals>(['SIGINT', 'SIGTERM'])('%s: the process ends by that signal, promptly', async (sig) => {
    let sent = false;
    const o = await run('signal', (text, kill) => {
      if (!sent && text.includes('training')) {
        sent = true;
        setTimeout(() => kill(sig), 800);
      }
    });
    expect(o.signal).toBe(sig);
    expect(o.stdout).not.toMatch(/trained/); // it ended before the 20 epochs did (no wall-clock bound: CI is shared)
  }, 30000);
});

describe('garbage collection while native calls fail', () => {
  // Node-API finalizers run inside GC; a native call that threw used to leave its exception pending while a GC ran
  // one, and Node aborted the process (native/errors.h). The child keeps failures and collections colliding.
  test('refused calls, bad arguments and libtorch errors among short-lived tensors: no abort', async () => {
    const stress = path.join(__dirname, 'children', 'gc-stress.js');
    const o = await runNode(['--expose-gc', '--max-semi-space-size=1', stress, '12']);
    expect(o.stderr).not.toMatch(/Fatal error|Check failed|Aborted|core dumped/);
    expect(o).toMatchObject({ code: 0, signal: null });
    const counts = JSON.parse(o.stdout.trim().split('\n').pop()!);
    expect(counts.refused).toBeGreaterThan(0);
    expect(counts.badArgument).toBeGreaterThan(0);
    expect(counts.libtorch).toBeGreaterThan(0);
  }, 120000);
});

describe('worker_threads', () => {
  test('two workers and the main thread train at once; the main thread keeps its set_num_threads()', async () => {
    const o = await run('workers');
    expect(o).toMatchObject({ code: 0, signal: null });
    const result = JSON.parse(o.stdout.trim().split('\n').pop()!);
    expect(result.main.threads).toBe(1);
    expect(Number.isFinite(result.main.loss)).toBe(true);
    expect(result.workers).toHaveLength(2);
    for (const w of result.workers) expect(Number.isFinite(w.loss)).toBe(true);
    expect(result.workers.map((w: { threads: number }) => w.threads)).toEqual([1, 1]);
  }, 60000);

  // A scope's tensors have no finalizer (its end frees them): a worker terminated inside one left them to the process.
  test('worker.terminate() inside torch.tidy: the open scope\'s tensors are freed with the worker', async () => {
    const o = await run('terminate-tidy');
    expect(o).toMatchObject({ code: 0, signal: null });
    const { rss } = JSON.parse(o.stdout.trim().split('\n').pop()!) as { rss: number[] };
    // Each worker made 256 MiB in its scope: kept, four would add 1 GiB.
    expect(rss[4] - rss[0]).toBeLessThan(384);
  }, 60000);

  test.each(['terminate-train', 'terminate-evaluate'])('worker.terminate() during native work (%s): the process goes on', async (scenario) => {
    const o = await run(scenario);
    expect(o.stderr).not.toMatch(/terminate called|Aborted|core dumped/);
    expect(o).toMatchObject({ code: 0, signal: null });
    expect(o.stdout).toMatch(/alive true/);
  }, 60000);

  test('process.exit() inside a training worker ends that worker only', async () => {
    const o = await run('worker-exit');
    expect(o).toMatchObject({ code: 0, signal: null });
    expect(o.stdout).toMatch(/worker exited 7, alive true/);
  }, 60000);
});
