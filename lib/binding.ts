/**
 * The only file that loads the native addon. If it cannot, require('lenet-torch') throws one Error that names the
 * path, the cause and the fix (sharp's loader is the model), rather than a bare dlopen or MODULE_NOT_FOUND trace.
 */
import * as path from 'node:path';
import type { Binding } from '../binding';

/** Where the addon is looked for: $LENET_TORCH_BINARY, else build/Release/ in this package. */
export const bindingPath =
  process.env.LENET_TORCH_BINARY || path.join(__dirname, '..', 'build', 'Release', 'lenet_torch.node');

function explain(error: NodeJS.ErrnoException): Error {
  const message = String(error.message).split('\n')[0];
  let cause: string;
  let fix: string;
  if (error.code === 'MODULE_NOT_FOUND' || /cannot find module/i.test(message)) {
    cause = 'the native addon has not been built';
    fix =
      'install the system packages (Debian/Ubuntu: sudo apt-get install -y cmake g++ libtorch-dev libopenblas0-openmp), ' +
      'then run `npm rebuild lenet-torch` (or `npm run build` in a checkout)';
  } else if (/lib(torch|c10|torch_cpu|torch_cuda)[^ ]*\.so/.test(message)) {
    cause = `libtorch's shared libraries could not be loaded (${message})`;
    fix =
      'install the libtorch the addon was built against (Debian: sudo apt-get install -y libtorch-dev), ' +
      'or add its lib/ folder to LD_LIBRARY_PATH, or rebuild with `npm rebuild lenet-torch`';
  } else {
    cause = message;
    fix = 'rebuild the addon for this Node.js and libtorch with `npm rebuild lenet-torch`';
  }
  const wrapped = new Error(`lenet-torch could not load its native addon at ${bindingPath}: ${cause}.\nFix: ${fix}.`);
  (wrapped as Error & { cause?: unknown }).cause = error;
  return wrapped;
}

function load(): Binding {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(bindingPath) as Binding;
  } catch (error) {
    throw explain(error as NodeJS.ErrnoException);
  }
}

export const native: Binding = load();
