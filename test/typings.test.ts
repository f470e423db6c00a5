import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const root = path.join(__dirname, '..');

function parseConfig(configPath: string): ts.ParsedCommandLine {
  return ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  })!;
}

function diagnosticsOf(program: ts.Program, relativeTo: string): string[] {
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${path.relative(relativeTo, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

// ts-jest transpiles test files one at a time without type-checking; this suite type-checks the whole project
// (lib/, binding.d.ts, every test, and test/types/usage.ts with its @ts-expect-error lines) under strict mode.
describe('typings', () => {
  test('lib/, the tests and the usage fixture type-check in strict mode', () => {
    const config = parseConfig(path.join(__dirname, 'tsconfig.json'));
    const program = ts.createProgram(config.fileNames, { ...config.options, noEmit: true });
    expect(diagnosticsOf(program, process.cwd())).toEqual([]);
    expect(config.fileNames.some((f) => f.endsWith('usage.ts'))).toBe(true);
  }, 120000);

  // What a user's app sees: the emitted .d.ts files in node_modules/lenet-torch, no @types/node, no `types` setting.
  // A `node:*` import in them, or a member keyed by an untyped symbol, fails here as it fails for the user.
  test('the published .d.ts files type-check in a strict consumer without @types/node, as CommonJS and ES module', () => {
    const app = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-typings-'));
    try {
      const pkg = path.join(app, 'node_modules', 'lenet-torch');
      const config = parseConfig(path.join(root, 'tsconfig.json'));
      const emitted: string[] = [];
      const emit = ts.createProgram(config.fileNames, {
        ...config.options, declaration: true, emitDeclarationOnly: true, sourceMap: false, outDir: path.join(pkg, 'dist'),
      }).emit(undefined, (file, text) => {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        emitted.push(file);
      });
      expect(emit.diagnostics).toEqual([]);
      expect(emitted.filter((f) => /import[^;]*'node:/.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(pkg, f))).toEqual([]);
      fs.copyFileSync(path.join(root, 'package.json'), path.join(pkg, 'package.json'));
      fs.copyFileSync(path.join(root, 'binding.d.ts'), path.join(pkg, 'binding.d.ts'));
      fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "app", "private": true }\n');
      const files = ['app.cts', 'app.mts'].map((name) => {
        fs.copyFileSync(path.join(__dirname, 'consumer', name), path.join(app, name));
        return path.join(app, name);
      });
      const program = ts.createProgram(files, {
        strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, target: ts.ScriptTarget.ES2022,
      });
      expect(program.getSourceFiles().some((f) => f.fileName.includes('@types/node'))).toBe(false);
      expect(diagnosticsOf(program, app)).toEqual([]);
    } finally {
      fs.rmSync(app, { recursive: true, force: true });
    }
  }, 120000);
});
