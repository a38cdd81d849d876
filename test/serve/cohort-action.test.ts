/**
 * The serve API's rollback action with `segment`/`ring`: the same partial rollback for some
 * users as `rollout rollback --segment` (the CLI's handler), recorded with who asked through
 * the page; `undo` brings the cohort back without a reason; a backend that cannot is refused
 * (409, with the hint) and nothing changes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAction } from '../../src/serve/actions.js';
import { quickPlan, run, tempDir, write } from '../cli/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

describe('serve: POST /api/runs/:run/rollback with segment / ring', () => {
  it('rolls back one segment (who: the name given, via rollout serve), then undo brings it back', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    const ctx = { cwd: dir, env: { NO_COLOR: '1' } };
    const r = await runAction(ctx, 'rollback', 'quick', { segment: 'eu-users', reason: 'EU timeouts', by: 'alice' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ exitCode: 0 });
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.excluded).toEqual([expect.objectContaining({ kind: 'segment', name: 'eu-users', by: 'alice (rollout serve)', reason: 'EU timeouts' })]);
    expect(JSON.parse(await readFile(join(dir, '.rollout', 'flags.json'), 'utf8'))['quick-flag'].exclude).toEqual({ segments: ['eu-users'] });
    const missing = await runAction(ctx, 'rollback', 'quick', { segment: 'eu-users' });
    expect(missing.status).toBe(400); // a rollback needs a reason
    const undo = await runAction(ctx, 'rollback', 'quick', { segment: ['eu-users'], undo: true, by: 'bob' });
    expect(undo.status, JSON.stringify(undo.body)).toBe(200);
    expect(JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout).excluded).toEqual([]);
  });

  it('a backend that cannot: 409 with the hint, nothing recorded', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }).replace('backend: { type: local }', 'backend: { type: env-file, path: flags.env }'));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    const r = await runAction({ cwd: dir, env: { NO_COLOR: '1' } }, 'rollback', 'quick', { ring: 'beta', reason: 'r' });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ error: expect.stringMatching(/env-file backend of plan quick cannot turn a flag off for some users only/), hint: expect.stringMatching(/local, unleash, flagd, launchdarkly/), exitCode: 2 });
    expect(JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout).excluded).toEqual([]);
  });
});
