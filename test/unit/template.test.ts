import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SEVERITY,
  DEFAULT_TEMPLATES,
  DEFAULT_TITLES,
  NOTICE_EVENTS,
  TEMPLATE_VARIABLES,
  renderNotice,
  renderTemplate,
  templateVars,
  unknownTemplateVars,
} from '../../src/util/template.js';

describe('renderTemplate', () => {
  it('replaces {{name}} and {{ name }}', () => {
    expect(renderTemplate('Current: {{percentage}}% of {{ flags }}', { percentage: 25, flags: 'new_checkout' })).toBe(
      'Current: 25% of new_checkout',
    );
  });

  it('marks unknown names explicitly and renders known-but-empty values as ""', () => {
    expect(renderTemplate('a={{nope}} b={{nextAt}} c={{reason}}', { nextAt: null, reason: undefined })).toBe('a={{nope?}} b= c=');
  });

  it('uses the fallback for missing, null, undefined and empty values', () => {
    const t = 'Next: {{nextPercentage|n/a}}% at {{ nextAt | the next check }}';
    expect(renderTemplate(t, { nextPercentage: null })).toBe('Next: n/a% at the next check');
    expect(renderTemplate(t, { nextPercentage: '', nextAt: '' })).toBe('Next: n/a% at the next check');
    expect(renderTemplate(t, { nextPercentage: 50, nextAt: '14:00' })).toBe('Next: 50% at 14:00');
    expect(renderTemplate('{{x|}}', {})).toBe('');
  });

  it('formats numbers and booleans', () => {
    expect(renderTemplate('{{a}} {{b}} {{c}} {{d}} {{e}} {{f}}', { a: 12.5, b: 33.33333333, c: 0.0012346, d: 0, e: true, f: false })).toBe(
      '12.5 33.3333 0.001235 0 true false',
    );
    expect(renderTemplate('{{a}}', { a: 1234567.891 })).toBe('1234567.891');
    expect(renderTemplate('{{a}}', { a: Number.NaN })).toBe('NaN');
  });

  it('leaves things that are not placeholders alone', () => {
    const t = '{{ not a name! }} {single} {{}} {{1abc}} }} {{';
    expect(renderTemplate(t, {})).toBe(t);
  });

  it('does not interpret placeholders inside values (no double rendering)', () => {
    expect(renderTemplate('{{reason}}', { reason: 'saw {{plan}} and $& and $1', plan: 'X' })).toBe('saw {{plan}} and $& and $1');
  });

  it('does not read inherited properties', () => {
    expect(renderTemplate('{{toString}} {{constructor}}', {})).toBe('{{toString?}} {{constructor?}}');
  });

  it('allows dotted and dashed names', () => {
    expect(renderTemplate('{{check.error-rate}}', { 'check.error-rate': '0.3%' })).toBe('0.3%');
  });
});

describe('templateVars', () => {
  it('lists names once, in order of first use, with or without spaces and fallbacks', () => {
    expect(templateVars('{{b}} {{ a }} {{b|x}} {{c | y}} {{ not valid! }}')).toEqual(['b', 'a', 'c']);
    expect(templateVars('no placeholders')).toEqual([]);
  });

  it('unknownTemplateVars flags names rollout never provides', () => {
    expect(unknownTemplateVars('{{percentage}} {{percentge}} {{reason}} {{foo|bar}}')).toEqual(['percentge', 'foo']);
  });
});

describe('default templates', () => {
  const vars = {
    plan: 'checkout',
    run: 'r-123',
    phase: 'canary',
    step: '2/5',
    flags: 'new_checkout',
    percentage: 25,
    previousPercentage: 5,
    nextPercentage: 50,
    nextAt: '2025-01-02T15:00:00Z',
    targetPercentage: 100,
    steps: '1% → 5% → 25% → 50% → 100%',
    status: 'green',
    checks: 'error_rate 0.3% (< 1%) ok',
    reason: 'error_rate 2.1% > 1% for 5m',
    failed: 'flag new_checkout: HTTP 500',
    action: 'rollback',
    command: 'rollout approve r-123',
    duration: '2d4h',
    startedAt: '2025-01-01T09:00:00Z',
    now: '2025-01-02T13:00:00Z',
    dashboard: 'https://grafana.example/d/x',
    runbook: 'https://wiki.example/runbook',
    owner: '@oncall',
  };

  it('covers every event, with a title and a severity, using only documented variables', () => {
    for (const ev of NOTICE_EVENTS) {
      expect(DEFAULT_TEMPLATES[ev], ev).toBeTruthy();
      expect(DEFAULT_TITLES[ev], ev).toBeTruthy();
      expect(['info', 'warning', 'critical']).toContain(DEFAULT_SEVERITY[ev]);
      expect(unknownTemplateVars(DEFAULT_TEMPLATES[ev]), ev).toEqual([]);
      expect(unknownTemplateVars(DEFAULT_TITLES[ev]), ev).toEqual([]);
    }
    expect(Object.keys(DEFAULT_TEMPLATES).sort()).toEqual([...NOTICE_EVENTS].sort());
    for (const v of ['plan', 'run', 'phase', 'flags', 'percentage', 'nextPercentage', 'nextAt', 'status', 'reason', 'checks'])
      expect(TEMPLATE_VARIABLES).toHaveProperty(v);
  });

  it('render completely with all variables (no markers left)', () => {
    for (const ev of NOTICE_EVENTS) {
      const out = renderTemplate(DEFAULT_TEMPLATES[ev], vars);
      expect(out, ev).not.toMatch(/\{\{/);
    }
  });

  it('progress update follows the communication template', () => {
    const out = renderTemplate(DEFAULT_TEMPLATES['step.applied'], vars);
    expect(out).toContain('Current: 25% enabled');
    expect(out).toContain('Status: green');
    expect(out).toContain('Metrics: error_rate 0.3% (< 1%) ok');
    expect(out).toContain('Next: increase to 50% at 2025-01-02T15:00:00Z');
  });

  it('emergency rollback alert leads with the reason', () => {
    const out = renderTemplate(DEFAULT_TEMPLATES['rollback.started'], vars);
    expect(out.split('\n')[0]).toBe('🚨 EMERGENCY ROLLBACK: error_rate 2.1% > 1% for 5m');
    expect(renderTemplate(DEFAULT_TEMPLATES['rollback.failed'], vars)).toMatch(/manual intervention required/);
  });

  it('degrade gracefully when optional variables are missing', () => {
    const minimal = { plan: 'checkout', run: 'r-1', phase: 'ga', flags: 'f', percentage: 100, nextPercentage: null, reason: 'x', checks: null };
    for (const ev of NOTICE_EVENTS) expect(renderTemplate(DEFAULT_TEMPLATES[ev], minimal), ev).not.toMatch(/\{\{/);
    expect(renderTemplate(DEFAULT_TEMPLATES['step.applied'], minimal)).toContain('Next: increase to n/a% at n/a');
  });

  it('renderNotice builds a notice with severity, title, text and fields', () => {
    const n = renderNotice('rollback.started', { ...vars, extra: undefined });
    expect(n.severity).toBe('critical');
    expect(n.title).toBe('🚨 EMERGENCY ROLLBACK: checkout');
    expect(n.text.startsWith('🚨 EMERGENCY ROLLBACK: error_rate')).toBe(true);
    expect(n.fields.run).toBe('r-123');
    expect('extra' in n.fields).toBe(false);
    const o = renderNotice('step.applied', vars, { text: 'now {{percentage}}%' });
    expect(o.text).toBe('now 25%');
    expect(renderNotice('custom.event', { plan: 'p' }).title).toBe('p: custom.event');
  });
});
