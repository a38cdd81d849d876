/**
 * ${VAR} and ${VAR:-default} in any string of the plan, from the environment. `$${` writes a
 * literal "${". An unset variable without a default is an error naming it. Values of
 * secret-looking variables (and every value under a secret-looking key) are registered for
 * redaction, so a token never reaches logs or state.
 */
import { looksSecret, registerSecret } from '../util/redact.js';

export interface InterpolationIssue {
  path: (string | number)[];
  message: string;
}

const VAR = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g;

export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  issues: InterpolationIssue[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    const secretKey = path.some((p) => typeof p === 'string' && looksSecret(p));
    const out = value.replace(VAR, (m, name: string | undefined, def: string | undefined) => {
      if (m === '$${') return '${';
      const v = env[name!];
      if (v !== undefined && v !== '') {
        if (secretKey || looksSecret(name!)) registerSecret(v);
        return v;
      }
      if (def !== undefined) return def;
      issues.push({ path, message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)` });
      return '';
    });
    if (secretKey && out !== value) registerSecret(out);
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, issues, [...path, i]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, issues, [...path, k]);
    return out;
  }
  return value;
}
