/**
 * The test set-up (test/setup/ensure.mjs) on a simulated machine: which tools are missing,
 * and whether `npm test` installs them (root on Debian) or stops with the one command to run.
 */
import { describe, expect, it } from 'vitest';
import { planSetup, postgresBin, requirements } from '../setup/ensure.mjs';

/** A machine with exactly these files (and the directories above them). */
const machine = (files: string[]) => ({
  exists: (p: string) => files.some((f) => f === p || f.startsWith(p.endsWith('/') ? p : p + '/')),
  list: (dir: string) => [...new Set(files.filter((f) => f.startsWith(dir + '/')).map((f) => f.slice(dir.length + 1).split('/')[0]!))],
});
const FULL = ['/usr/bin/prometheus', '/usr/bin/promtool', '/usr/lib/postgresql/15/bin/initdb', '/usr/bin/chromium'];
const env = {};

describe('test set-up', () => {
  it('a machine with everything: nothing to do', () => {
    expect(planSetup({ reqs: requirements(env, machine(FULL)), isRoot: false, isDebian: true, hasApt: true })).toMatchObject({ action: 'none', missing: [] });
  });

  it('no prometheus on PATH, as root on Debian: installs the one package (promtool comes with it) and stops the service it would start', () => {
    const m = machine(FULL.filter((f) => !f.includes('prom')));
    const p = planSetup({ reqs: requirements(env, m), isRoot: true, isDebian: true, hasApt: true });
    expect(p).toMatchObject({ action: 'apt', missing: ['prometheus', 'promtool'], packages: ['prometheus'], services: ['prometheus'] });
  });

  it('not root: stops with the one command to run', () => {
    const m = machine(['/usr/bin/promtool']);
    const p = planSetup({ reqs: requirements(env, m), isRoot: false, isDebian: true, hasApt: true });
    expect(p.action).toBe('stop');
    expect(p.command).toBe('sudo apt-get install -y --no-install-recommends prometheus postgresql chromium');
  });

  it('not Debian: names what is missing and the variables that point at installed copies', () => {
    const p = planSetup({ reqs: requirements(env, machine(FULL.filter((f) => !f.includes('chromium')))), isRoot: true, isDebian: false, hasApt: false });
    expect(p.action).toBe('stop');
    expect(p.command).toMatch(/install chromium .*ROLLOUT_CHROMIUM/);
  });

  it('PostgreSQL: the newest installed major with initdb, or ROLLOUT_PG_BIN', () => {
    expect(postgresBin(env, machine(['/usr/lib/postgresql/15/bin/initdb', '/usr/lib/postgresql/17/bin/initdb', '/usr/lib/postgresql/18/share/x']))).toBe('/usr/lib/postgresql/17/bin');
    expect(postgresBin(env, machine(['/usr/lib/postgresql/15/lib/x']))).toBeUndefined();
    expect(postgresBin({ ROLLOUT_PG_BIN: '/opt/pg/bin' }, machine(['/opt/pg/bin/initdb']))).toBe('/opt/pg/bin');
    expect(postgresBin({ ROLLOUT_PG_BIN: '/opt/pg/bin' }, machine(FULL))).toBeUndefined();
  });

  it('ROLLOUT_PROMETHEUS_BIN counts as installed', () => {
    const m = machine(['/opt/prom/prometheus', '/usr/bin/promtool', '/usr/lib/postgresql/15/bin/initdb', '/usr/bin/chromium']);
    expect(planSetup({ reqs: requirements({ ROLLOUT_PROMETHEUS_BIN: '/opt/prom/prometheus' }, m), isRoot: false, isDebian: true, hasApt: true }).action).toBe('none');
  });
});
