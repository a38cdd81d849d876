/**
 * `rollout init`: what a first plan looks like for each choice, as a commented YAML text.
 * Pure (answers in → text out) so every backend × metrics × preset combination is tested
 * against the real loader. Connection settings are ${VAR} references, never values.
 */

export const BACKENDS = ['local', 'unleash', 'launchdarkly', 'flagd', 'http', 'env-file', 'command'] as const;
export const METRICS = ['prometheus', 'datadog', 'http-json', 'command', 'simulated', 'none'] as const;
export const CHECKS = ['error-rate', 'latency'] as const;
export const PRESETS = ['careful', 'fast', 'rings'] as const;
export const GATES = ['before-100', 'before-start', 'none'] as const;

export type Backend = (typeof BACKENDS)[number];
export type Metrics = (typeof METRICS)[number];
export type CheckTemplate = (typeof CHECKS)[number];
export type Preset = (typeof PRESETS)[number];
export type Gate = (typeof GATES)[number];

export interface InitAnswers {
  name: string;
  flag: string;
  backend: Backend;
  metrics: Metrics;
  check: CheckTemplate;
  preset: Preset;
  /** A duration: "1h", "30m". */
  hold: string;
  gate: Gate;
  /** argv of the rollback command; empty = none. */
  rollback: string[];
  /** The JSON Schema for the modeline, relative to the plan file. */
  schema: string;
}

/** What each choice means, in the wizard's words. */
export const BACKEND_INFO: Record<Backend, string> = {
  local: "rollout's own JSON flag store (.rollout/flags.json): no server, for trying things",
  unleash: 'Unleash Admin API (url, token, project, environment)',
  launchdarkly: 'LaunchDarkly REST API (API token, project, environment)',
  flagd: 'a flagd JSON flag file that flagd watches',
  http: 'your own flag service over HTTP (feature-flags-api preset)',
  'env-file': 'a .env file your app reads (FLAG_ENABLED, FLAG_ROLLOUT_PERCENTAGE)',
  command: 'a program you name sets and reads flags',
};
export const METRICS_INFO: Record<Metrics, string> = {
  prometheus: 'PromQL against Prometheus',
  datadog: 'Datadog metrics queries',
  'http-json': 'a number out of a JSON endpoint',
  command: 'a program that prints a number',
  simulated: 'scripted values (try the plan without a metrics system)',
  none: 'no checks for now (steps advance on holds alone)',
};
export const PRESET_INFO: Record<Preset, string> = {
  careful: '1 → 5 → 10 → 25 → 50 → 100 %',
  fast: '10 → 50 → 100 %',
  rings: 'internal ring → beta ring → 10 → 50 → 100 % of everybody',
};
export const GATE_INFO: Record<Gate, string> = {
  'before-100': 'a person approves the last step (100 %)',
  'before-start': 'a person approves before the first step',
  none: 'no gate: checks and holds decide',
};
export const DEFAULT_HOLD: Record<Preset, string> = { careful: '1h', fast: '15m', rings: '1d' };

/** Backends whose adapter writes ring targeting (env-file and command ignore rings). */
export const RING_BACKENDS: readonly Backend[] = ['local', 'unleash', 'launchdarkly', 'flagd', 'http'];

/** Environment variables the plan needs set (those without a default). */
export function requiredEnv(a: Pick<InitAnswers, 'backend' | 'metrics'>): string[] {
  const out: string[] = [];
  if (a.backend === 'unleash') out.push('UNLEASH_TOKEN');
  if (a.backend === 'launchdarkly') out.push('LD_API_TOKEN');
  if (a.backend === 'http') out.push('FLAG_API_TOKEN');
  if (a.metrics === 'datadog') out.push('DD_API_KEY', 'DD_APP_KEY');
  return out;
}

/** Programs the plan names that the user has to provide (relative to the plan's directory). */
export function programsToProvide(a: Pick<InitAnswers, 'backend' | 'metrics' | 'rollback'>): string[] {
  const out: string[] = [];
  if (a.backend === 'command') out.push('./scripts/flagctl');
  if (a.metrics === 'command') out.push('./scripts/metric.sh');
  const r = a.rollback[0];
  if (r && (r.startsWith('./') || r.startsWith('../'))) out.push(r);
  return out;
}

const q = (s: string) => (/^[A-Za-z0-9_./-]+$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/^[\d.]+$/.test(s) ? s : `'${s.replace(/'/g, "''")}'`);

function backendBlock(b: Backend): string[] {
  switch (b) {
    case 'local':
      return ['backend:', '  type: local                     # flags in .rollout/flags.json: `rollout flags`, `rollout evaluate`'];
    case 'unleash':
      return [
        'backend:',
        '  type: unleash',
        '  url: ${UNLEASH_URL:-http://127.0.0.1:4242}     # base URL of your Unleash',
        '  token: ${UNLEASH_TOKEN}                        # admin token (secret: redacted everywhere)',
        '  project: ${UNLEASH_PROJECT:-default}',
        '  environment: ${UNLEASH_ENVIRONMENT:-production}',
        '  create: true                                   # create the flag if it does not exist',
      ];
    case 'launchdarkly':
      return [
        'backend:',
        '  type: launchdarkly',
        '  apiToken: ${LD_API_TOKEN}                      # secret',
        '  projectKey: ${LD_PROJECT:-default}',
        '  environmentKey: ${LD_ENVIRONMENT:-production}  # the environment *key*',
      ];
    case 'flagd':
      return ['backend:', '  type: flagd', '  path: ${FLAGD_FILE:-flags.flagd.json}          # relative to this plan; flagd watches it'];
    case 'http':
      return [
        'backend:',
        '  type: http',
        '  preset: feature-flags-api                      # GET/PUT /feature-flags/{flag}; see docs/adapters.md',
        '  baseUrl: ${FLAG_API_URL:-http://127.0.0.1:8088}',
        '  auth:',
        '    tokenEnv: FLAG_API_TOKEN                     # → Authorization: Bearer $FLAG_API_TOKEN',
      ];
    case 'env-file':
      return [
        'backend:',
        '  type: env-file',
        '  path: ${APP_ENV_FILE:-.env.flags}              # relative to this plan; created if missing',
        '  # reload: [docker, compose, up, -d, app]       # argv run after the file changed',
      ];
    case 'command':
      return [
        'backend:',
        '  type: command',
        "  apply: [./scripts/flagctl, set, '{flag}', --enabled, '{enabled}', --percent, '{percentage}']",
        "  read: [./scripts/flagctl, get, '{flag}', --json]   # prints {\"enabled\": true, \"percentage\": 25}",
      ];
  }
}

interface CheckText {
  provider: string[];
  query: string;
  threshold: string[];
  simulated?: string;
}

function checkText(m: Exclude<Metrics, 'none'>, c: CheckTemplate, app: string): CheckText {
  const err = c === 'error-rate';
  switch (m) {
    case 'prometheus':
      return {
        provider: ['  prom:', '    type: prometheus', '    url: ${PROMETHEUS_URL:-http://127.0.0.1:9090}'],
        query: err
          ? `sum(rate(http_requests_total{app="${app}",code=~"5.."}[5m])) / sum(rate(http_requests_total{app="${app}"}[5m])) * 100`
          : `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{app="${app}"}[5m])))`,
        threshold: err ? ['max: 1', "unit: '%'"] : ['max: 0.5', 'unit: s'],
      };
    case 'datadog':
      return {
        provider: ['  dd:', '    type: datadog', '    apiKey: ${DD_API_KEY}                        # secret', '    appKey: ${DD_APP_KEY}                        # secret', '    site: ${DD_SITE:-datadoghq.com}'],
        query: err ? `sum:trace.http.request.errors{service:${app}}.as_rate() / sum:trace.http.request.hits{service:${app}}.as_rate() * 100` : `p95:trace.http.request{service:${app}}`,
        threshold: err ? ['max: 1', "unit: '%'"] : ['max: 0.5', 'unit: s'],
      };
    case 'http-json':
      return {
        provider: ['  api:', '    type: http-json', '    url: ${METRICS_URL:-http://127.0.0.1:8080/metrics}', '    # headers: { Authorization: "Bearer ${METRICS_TOKEN}" }'],
        query: err ? '.http.error_rate_percent' : '.http.p95_ms',
        threshold: err ? ['max: 1', "unit: '%'"] : ['max: 500', 'unit: ms'],
      };
    case 'command':
      return {
        provider: ['  script:', '    type: command                                # the query is the argv; it prints one number'],
        query: err ? `./scripts/metric.sh error-rate ${app}` : `./scripts/metric.sh p95-ms ${app}`,
        threshold: err ? ['max: 1', "unit: '%'"] : ['max: 500', 'unit: ms'],
      };
    case 'simulated':
      return {
        provider: ['  sim:', '    type: simulated                              # scripted values: try the plan without a metrics system', '    series:'],
        query: err ? 'error_rate_percent' : 'p95_latency_ms',
        threshold: err ? ['max: 1', "unit: '%'"] : ['max: 500', 'unit: ms'],
        simulated: err ? '      error_rate_percent: 0.2                    # a constant; or [{ after: 10m, value: 3 }, …]' : '      p95_latency_ms: 180',
      };
  }
}

const PROVIDER_NAME: Record<Exclude<Metrics, 'none'>, string> = { prometheus: 'prom', datadog: 'dd', 'http-json': 'api', command: 'script', simulated: 'sim' };

function steps(a: InitAnswers): string[] {
  const gate = (pct: number) => (a.gate === 'before-100' && pct === 100 ? `{ percent: 100, approval: { message: "Go for 100% of ${a.flag}?" } }` : String(pct));
  if (a.preset === 'rings') {
    const ring = (p: number) => (a.gate === 'before-100' && p === 100 ? `{ percent: 100, rings: { internal: 100, beta: 100 }, approval: { message: "Go for 100% of ${a.flag}?" } }` : `{ percent: ${p}, rings: { internal: 100, beta: 100 } }`);
    return [
      '    steps:',
      '      - { rings: { internal: 100, beta: 0, ga: 0 }, note: internal ring first }',
      '      - { rings: { internal: 100, beta: 100, ga: 0 }, note: then the beta ring }',
      ...[10, 50, 100].map((p) => `      - ${ring(p)}`),
    ];
  }
  const pcts = a.preset === 'careful' ? [1, 5, 10, 25, 50, 100] : [10, 50, 100];
  return [`    steps: [${pcts.map(gate).join(', ')}]`];
}

/** The plan file's text. */
export function renderPlan(a: InitAnswers): string {
  const env = requiredEnv(a);
  const progs = programsToProvide(a);
  const lines: string[] = [
    `# yaml-language-server: $schema=${a.schema}`,
    '#',
    `# Rolls out ${a.flag}: written by \`rollout init\`. Reference: docs/plan-format.md.`,
    ...(env.length ? [`# Needs in the environment: ${env.join(', ')} (connection settings are \${VAR} references).`] : []),
    ...(progs.length ? [`# Programs it runs, which you provide: ${progs.join(', ')}.`] : []),
    '#',
    `#   rollout validate <this file>    rollout simulate <this file>    rollout start <this file>`,
    `name: ${q(a.name)}`,
    `description: ${q(`Roll out ${a.flag} (${PRESET_INFO[a.preset]})`)}`,
    '',
    ...backendBlock(a.backend),
    '',
  ];
  if (a.metrics !== 'none') {
    const t = checkText(a.metrics, a.check, a.name);
    lines.push('metrics:', ...t.provider, ...(t.simulated ? [t.simulated] : []), '');
  }
  lines.push(
    'defaults:',
    `  hold: ${q(a.hold)}                         # after each step; checks keep running meanwhile`,
    '  interval: 1m                     # how often checks are evaluated',
    '  maxJump: 50                      # a bigger step between percentages is warned about',
    '',
  );
  if (a.metrics !== 'none') {
    const t = checkText(a.metrics, a.check, a.name);
    const err = a.check === 'error-rate';
    lines.push(
      'checks:',
      `  - name: ${a.check}`,
      `    provider: ${PROVIDER_NAME[a.metrics]}`,
      `    query: ${q(t.query)}`,
      ...t.threshold.map((l) => `    ${l}`),
      '    for: 5m                         # breach only when sustained this long',
      err ? '    tier: critical                  # critical → roll back; warning → pause' : '    tier: warning                   # warning → pause and ask; critical → roll back',
      '    # noData: hold                  # no data: hold (default), pause, rollback or pass',
      '',
    );
  } else {
    lines.push('# checks:                          # add one once you have metrics: docs/plan-format.md#checks', '');
  }
  if (a.preset === 'rings') {
    lines.push(
      'rings:',
      '  internal: { description: employees and QA, segments: [internal] }',
      '  beta: { description: opted-in beta testers, segments: [beta-testers] }',
      '  ga: { description: everybody else }',
      '',
    );
  }
  lines.push('phases:', `  - name: ${q(a.flag)}`, `    flags: [${q(a.flag)}]`);
  if (a.gate === 'before-start') lines.push(`    approval: { message: "Go for ${a.flag}?" }   # a person approves before the first step`);
  lines.push(...steps(a), '');
  lines.push('rollback:', '  mode: immediate                  # all flags of the plan off at once');
  if (a.rollback.length) lines.push('  commands:                        # after the flags are off; the reason arrives as $ROLLOUT_REASON', `    - [${a.rollback.map(q).join(', ')}]`);
  else lines.push('  # commands:                      # run after the flags are off; the reason arrives as $ROLLOUT_REASON', '  #   - [./scripts/rollback.sh]');
  lines.push('');
  return lines.join('\n');
}

/** Split a command line typed at the prompt into argv (quotes group words; no shell). */
export function splitArgv(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m; (m = re.exec(line)); ) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** A name a plan accepts (letters, digits, dot, dash, underscore; starting with a letter or digit). */
export function planName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').replace(/-+$/, '') || 'my-rollout';
}
