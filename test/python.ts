// The Python with torch that the interop, differential and TorchScript tests compare against, or null (they skip,
// saying why).
import { spawnSync } from 'node:child_process';

/** A Python that has torch: $LENET_TORCH_PYTHON, else python3 on PATH, else Debian's (PATH may hold another). */
export function findPython(): string | null {
  const candidates = [process.env.LENET_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    if (spawnSync(candidate, ['-c', 'import torch'], { stdio: 'ignore', timeout: 120000 }).status === 0) return candidate;
  }
  return null;
}

/** Why tests that need Python's torch are skipped when findPython() finds none. */
export const NO_PYTHON_REASON =
  "no Python with torch: `python3 -c 'import torch'` fails (apt-get install python3-torch, or set LENET_TORCH_PYTHON)";

/** Whether `python` imports each of `modules` (comma-separated, as Python's import statement takes them). */
export function pythonHas(python: string | null, modules: string): boolean {
  return !!python && spawnSync(python, ['-c', `import ${modules}`], { stdio: 'ignore', timeout: 120000 }).status === 0;
}
