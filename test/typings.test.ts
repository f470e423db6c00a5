import * as path from 'node:path';
import * as ts from 'typescript';

// ts-jest transpiles test files one at a time without type-checking; this suite type-checks the whole project
// (lib/, binding.d.ts, every test, and test/types/usage.ts with its @ts-expect-error lines) under strict mode.
describe('typings', () => {
  test('lib/, the tests and the usage fixture type-check in strict mode', () => {
    const configPath = path.join(__dirname, 'tsconfig.json');
    const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    })!;
    const program = ts.createProgram(config.fileNames, { ...config.options, noEmit: true });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file ? `${path.relative(process.cwd(), d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(diagnostics).toEqual([]);
    expect(config.fileNames.some((f) => f.endsWith('usage.ts'))).toBe(true);
  }, 120000);
});
