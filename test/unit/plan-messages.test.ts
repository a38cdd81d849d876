/** Issue 9 item 9: schema errors say what to write, at the line where it goes wrong. */
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PlanError } from '../../src/errors.js';
import { parsePlanText } from '../../src/plan/load.js';
import { formatIssues } from '../../src/output/errors.js';

const BASE = `name: t
backend: { type: local }
defaults: { hold: 1h }
metrics:
  sim: { type: simulated, series: { e: 1 } }
checks:
  - { name: e, provider: sim, query: e, max: 5 }
phases:
  - name: main
    flags: [x]
    steps: [10, 50]
`;

async function issues(text: string) {
  const err = await parsePlanText(text, '/tmp/p.yaml', 'p.yaml', { adapters: false, env: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PlanError);
  return (err as PlanError).issues;
}
const messages = async (text: string) => (await issues(text)).map((i) => `${i.path}: ${i.message}`);

describe('schema messages in the user\'s words', () => {
  it('hold: 20 needs a unit; - 10% is 10; quoted numbers and booleans; a single flag where a list goes', async () => {
    const m = await messages(
      BASE.replace('hold: 1h', 'hold: 20, maxJump: "30"')
        .replace('max: 5', 'max: "5", freeze: "yes"')
        .replace('flags: [x]', 'flags: new-checkout\n    approval: "true"')
        .replace('steps: [10, 50]', 'steps:\n      - 10%\n      - 50'),
    );
    expect(m).toEqual(
      expect.arrayContaining([
        'defaults.hold: a duration needs a unit: write "20s" or "20m" (or h, d), not 20',
        'defaults.maxJump: write a percentage as a plain number: 30, not "30" (no quotes)',
        'checks.0.max: write 5 without quotes: a number, not the text "5"',
        'checks.0.freeze: write true without quotes, not the text "yes"',
        'phases.0.flags: write a list: flags: [new-checkout], not "new-checkout"',
        'phases.0.approval: write true without quotes, not the text "true"',
        'phases.0.steps.0: write a percentage as a plain number: 10, not "10%"',
      ]),
    );
    expect(m.join('\n')).not.toMatch(/Invalid input|received/);
  });

  it('maximum:/minimum:/percentage: suggest the key the format uses', async () => {
    const m = await messages(BASE.replace('max: 5', 'maximum: 5, minimum: 1'));
    expect(m).toEqual(['checks.0.maximum: unknown key "maximum" — did you mean "max"?', 'checks.0.minimum: unknown key "minimum" — did you mean "min"?']);
  });

  it('a misspelt required key is one error (the did-you-mean), not also "missing"', async () => {
    expect(await messages(BASE.replace('name: t', 'nmae: t').replace('phases:', 'phase:'))).toEqual([
      'nmae: unknown key "nmae" — did you mean "name"?',
      'phase: unknown key "phase" — did you mean "phases"?',
    ]);
    // A required key that is simply missing still says so.
    expect(await messages(BASE.replace('name: t\n', ''))).toEqual(['name: "name" is required']);
  });

  it('each issue carries its line; formatIssues shows it with a caret under the column', async () => {
    const [i] = await issues(BASE.replace('max: 5', 'max: "5"'));
    expect(i).toMatchObject({ line: 7, col: 46, source: '  - { name: e, provider: sim, query: e, max: "5" }' });
    const lines = formatIssues(new PlanError('p.yaml', [i!])).map((l) => stripVTControlCharacters(l));
    expect(lines[0]).toMatch(/^p\.yaml:7:46: error: write 5 without quotes/);
    expect(lines[1]).toBe('  7 |   - { name: e, provider: sim, query: e, max: "5" }');
    expect(lines[2]).toBe(`    | ${' '.repeat(45)}^`);
  });

  it('an unknown notify target names the closest one ("tt" → "t") wherever a target is named, at its line with a caret', async () => {
    const text = `${BASE}notify:
  targets:
    t: { type: log }
    ops: { type: log }
  events:
    run.started: [tt]
  announce: { before: 1d, targets: [tt] }
  escalation:
    P1: { ackWithin: 15m, chain: [tt, [t, opz]] }
  reports: [{ every: 1h, targets: [tt] }]
rollback:
  escalate: { notify: [tt] }
`;
    const found = await issues(text);
    expect(found.map((i) => `${i.path}: ${i.message}`)).toEqual(
      expect.arrayContaining([
        'notify.events.run.started.0: unknown notify target "tt" — did you mean "t"? (known: t, ops)',
        'notify.announce.targets.0: unknown notify target "tt" — did you mean "t"? (known: t, ops)',
        'notify.escalation.P1.chain.0: unknown notify target "tt" — did you mean "t"? (known: t, ops)',
        'notify.escalation.P1.chain.1.1: unknown notify target "opz" — did you mean "ops"? (known: t, ops)',
        'notify.reports.0.targets.0: unknown notify target "tt" — did you mean "t"? (known: t, ops)',
        'rollback.escalate.notify.0: unknown notify target "tt" — did you mean "t"? (known: t, ops)',
      ]),
    );
    const ev = found.find((i) => i.path === 'notify.events.run.started.0')!;
    expect(ev).toMatchObject({ line: 17, source: '    run.started: [tt]' });
    const lines = formatIssues(new PlanError('p.yaml', [ev])).map((l) => stripVTControlCharacters(l));
    expect(lines[0]).toMatch(/^p\.yaml:17:19: error: unknown notify target "tt" — did you mean "t"\?/);
    expect(lines[2]).toBe(`     | ${' '.repeat(18)}^`);
    // Nothing close: no guess, just the known names.
    expect((await issues(text.replaceAll('tt', 'pagerduty'))).map((i) => i.message)).toContain('unknown notify target "pagerduty" (known: t, ops)');
  });
});
