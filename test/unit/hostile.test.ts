/** The pure pieces behind issue 8's hostile-input fixes: safeText, readRegularFile, runRecordProblems. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STATE_SCHEMA_VERSION } from '../../src/engine/types.js';
import { runRecordProblems } from '../../src/state/validate.js';
import { NotRegularFileError, readRegularFile, TooLargeError } from '../../src/util/read-file.js';
import { hasControl, safeLines, safeText } from '../../src/util/terminal.js';

describe('safeText', () => {
  it('writes every control character as a visible escape and leaves printable text alone', () => {
    expect(safeText('evil\x1b[2J\x1b]0;title\x07\nline2')).toBe('evil\\x1b[2J\\x1b]0;title\\x07\\nline2');
    expect(safeText('tab\there\r\n')).toBe('tab\\there\\r\\n');
    expect(safeText('\u009b31m C1 CSI, \u202eRLO, \u2028LS')).toBe('\\x9b31m C1 CSI, \\u202eRLO, \\u2028LS');
    expect(safeText('ünïcödé ✓ → 🚀 "quoted"')).toBe('ünïcödé ✓ → 🚀 "quoted"');
    expect(safeText(undefined)).toBeUndefined();
    expect(safeLines('a\x1b[31m\nb\r\nc')).toEqual(['a\\x1b[31m', 'b', 'c']);
  });

  it('never lets a control character through, and is idempotent (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = safeText(s);
        expect(hasControl(out)).toBe(false);
        expect(safeText(out)).toBe(out);
      }),
      { numRuns: 300 },
    );
  });
});

describe('readRegularFile', () => {
  it('reads a regular file; refuses a FIFO and a device at once; caps the size', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rollout-read-'));
    try {
      await writeFile(join(dir, 'ok.yaml'), 'name: x\n');
      expect(await readRegularFile(join(dir, 'ok.yaml'), 100)).toBe('name: x\n');
      execFileSync('mkfifo', [join(dir, 'fifo')]);
      await expect(readRegularFile(join(dir, 'fifo'), 100)).rejects.toBeInstanceOf(NotRegularFileError);
      await expect(readRegularFile('/dev/zero', 100)).rejects.toThrow(/character device/);
      await expect(readRegularFile(dir, 100)).rejects.toThrow(/directory/);
      await writeFile(join(dir, 'big'), 'x'.repeat(101));
      await expect(readRegularFile(join(dir, 'big'), 100)).rejects.toBeInstanceOf(TooLargeError);
      await expect(readRegularFile(join(dir, 'missing'), 100)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('runRecordProblems', () => {
  const good = {
    schema: STATE_SCHEMA_VERSION,
    id: 'r-1',
    plan: { name: 'p', file: 'p.yaml', hash: 'h' },
    status: 'rollback-incomplete',
    phase: 0,
    step: 1,
    approved: [],
    flags: { f: { enabled: true, percentage: 10 } },
    checks: {},
    pending: [{ id: 3, kind: 'apply-flags', changes: [] }],
    rollback: { reason: 'x', failures: ['y'], stage: 0, trigger: 'manual', mode: 'immediate', startedAt: 1, escalated: true },
    startedAt: 1,
    updatedAt: 2,
    seq: 4,
    nextActionId: 4,
  };
  it('accepts a record of the right shape', () => {
    expect(runRecordProblems(good, 'r-1')).toEqual([]);
  });
  it('names each wrong field by its path', () => {
    expect(runRecordProblems({ ...good, flags: 5 }, 'r-1')).toEqual(['flags: expected an object (flag → {enabled, percentage}), found number 5']);
    expect(runRecordProblems({ ...good, pending: [{ id: 1, kind: 'rm -rf' }] }, 'r-1')[0]).toMatch(/^pending\.0\.kind: expected one of/);
    expect(runRecordProblems({ ...good, status: 'exploded' }, 'r-1')[0]).toMatch(/^status: expected one of/);
    expect(runRecordProblems({ ...good, id: 'x' }, 'r-1')).toEqual(['id: the record says "x" but is filed as run "r-1"']);
    expect(runRecordProblems([1, 2, 3])).toEqual(['the record is an array, not an object']);
    expect(runRecordProblems(null)).toEqual(['the record is null, not an object']);
  });
});
