// lib/ops/generated.ts (the typed names of every generated operator) must match the schemas of the libtorch the
// addon was built with: regenerated here from binding.opSchemas() and compared with the checked-in file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../lib/binding';
import { GENERATED_FOR, OP_NAMES } from '../lib/ops/generated';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const gen = require('../scripts/gen-ops.js') as {
  generate: (schemas: string[], api: unknown, version: string) => { text: string; functions: string };
  target: string;
  functionsTarget: string;
};
const root = path.join(__dirname, '..');
const api = JSON.parse(fs.readFileSync(path.join(root, 'lib', 'ops', 'python-api.json'), 'utf8'));

describe('lib/ops/generated.ts and torch-functions.ts', () => {
  const fresh = gen.generate(native.opSchemas(), api, native.torchVersion);

  (GENERATED_FOR === native.torchVersion ? test : test.skip)(
    `is what scripts/gen-ops.js writes for this libtorch (${native.torchVersion}); else run node scripts/gen-ops.js`,
    () => {
      // Booleans, not a diff of two 250 kB files.
      expect(fs.readFileSync(gen.target, 'utf8') === fresh.text).toBe(true);
      expect(fs.readFileSync(gen.functionsTarget, 'utf8') === fresh.functions).toBe(true);
    },
  );

  test('every name it types resolves to an operator of this libtorch (another version: what it lacks is listed)', () => {
    const missing: string[] = [];
    for (const [section, entries] of Object.entries(OP_NAMES)) {
      for (const e of entries) {
        const aten = typeof e === 'string' ? e : e[1];
        if (native.opLookup(aten, `check.${aten}`) < 0) missing.push(`${section}.${aten}`);
      }
    }
    if (GENERATED_FOR === native.torchVersion) expect(missing).toEqual([]);
    // On another libtorch (Debian 13's 2.6), an operator that was removed only makes its name undefined at run time.
    else expect(missing.length).toBeLessThan(50);
  });
});
