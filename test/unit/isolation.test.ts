/**
 * The `unit` project runs its files in shared workers (vitest.config.ts: isolate: false), which
 * is only safe while no file changes what the next one sees: module mocks, stubbed globals or
 * env, fake timers, the process's env or working directory. This keeps it so.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const DIRS = ['test/unit', 'test/cli', 'test/seeds', 'test/serve'];
const LEAKS: Array<[RegExp, string]> = [
  [/\bvi\.(mock|doMock|stubGlobal|stubEnv|useFakeTimers|spyOn)\(/, 'vi mocks, stubs, spies and fake timers outlive the file'],
  [/process\.env(\.\w+|\[[^\]]+\])\s*=[^=]|delete process\.env/, 'assigning process.env reaches the next file'],
  [/process\.chdir\(/, 'the working directory is the worker’s'],
];

describe('unit project: nothing leaks from one file to the next', () => {
  const files = DIRS.flatMap((d) => readdirSync(join(ROOT, d), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, d, f)));

  it('finds the files', () => {
    expect(files.length).toBeGreaterThan(40);
  });

  it('no file mocks modules, stubs globals, fakes timers, assigns process.env or changes directory', () => {
    const found: string[] = [];
    for (const f of files) {
      if (f === import.meta.filename) continue;
      const text = readFileSync(f, 'utf8');
      for (const [re, why] of LEAKS) if (re.test(text)) found.push(`${relative(ROOT, f)}: ${why} (move it to the services project, or undo it in afterAll and say so here)`);
    }
    expect(found).toEqual([]);
  });
});
