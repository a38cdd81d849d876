import { describe, expect, it } from 'vitest';
import { create, options } from '../../src/adapters/notify/log.js';
import type { AdapterContext } from '../../src/adapters/types.js';
import { registerSecret } from '../../src/util/redact.js';
import { renderNotice } from '../../src/util/template.js';

function ctxWith(lines: string[]): AdapterContext {
  return { baseDir: '/tmp', cwd: '/tmp', log: (m) => lines.push(m), env: {} };
}

const vars = { plan: 'checkout', run: 'r-1', phase: 'ga', flags: 'f', percentage: 25, reason: 'error_rate 2.1% > 1%', checks: 'error_rate 2.1% (< 1%) BREACH' };

describe('log notifier', () => {
  it('options: strict, defaults', () => {
    expect(options.parse({})).toEqual({ format: 'text', prefix: 'notify' });
    expect(options.safeParse({ type: 'log' }).success).toBe(false);
    expect(options.safeParse({ format: 'xml' }).success).toBe(false);
  });

  it('text: a header line, then each message line indented', async () => {
    const lines: string[] = [];
    const n = create({}, ctxWith(lines));
    expect(n.name).toBe('log');
    await n.send(renderNotice('rollback.started', vars));
    expect(lines[0]).toBe('[notify] CRITICAL rollback.started: 🚨 EMERGENCY ROLLBACK: checkout');
    expect(lines[1]).toBe('  🚨 EMERGENCY ROLLBACK: error_rate 2.1% > 1%');
    expect(lines.slice(1).every((l) => l === '' || l.startsWith('  '))).toBe(true);
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
  });

  it('json: one line per notice, the notice itself', async () => {
    const lines: string[] = [];
    const nt = renderNotice('step.applied', vars);
    await create({ format: 'json' }, ctxWith(lines)).send(nt);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual(nt);
  });

  it('redacts secrets', async () => {
    registerSecret('hunter2-very-secret');
    const lines: string[] = [];
    await create({ prefix: '' }, ctxWith(lines)).send({ event: 'x', severity: 'info', title: 't', text: 'pw hunter2-very-secret', fields: {} });
    expect(lines).toEqual(['INFO x: t', '  pw ***']);
  });
});
