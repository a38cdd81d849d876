import { resolve } from 'node:path';
import { evaluate as evalFlag, readStore } from '../adapters/flags/local.js';
import { printJson, type Context } from './context.js';
import { style, tableStyle } from '../output/style.js';

const storePath = (c: Context, o: { store?: string }) => (o.store ? resolve(c.cwd, o.store) : resolve(c.cwd, c.stateDir, 'flags.json'));

export async function list(c: Context, o: { store?: string }): Promise<number> {
  const path = storePath(c, o);
  const flags = await readStore(path);
  if (c.json) {
    printJson(c, { store: path, flags });
    return 0;
  }
  const names = Object.keys(flags).sort();
  if (!names.length) {
    c.stdout(`no flags in ${path} yet: a run of a plan with \`backend: {type: local}\` writes them`);
    return 0;
  }
  const { default: Table } = await import('cli-table3');
  const t = new Table({ head: ['flag', 'state', 'rollout', 'rings', 'allowlist', 'rolled back for', 'updated'], style: tableStyle() });
  for (const n of names) {
    const f = flags[n]!;
    t.push([n, f.enabled ? style.green('on') : style.dim('off'), f.enabled ? `${f.percentage}%${f.variants?.length ? `\n${f.variants.map((v) => `${v.name} ${v.weight / 10}%`).join('\n')}` : ''}` : '-', f.rings ? Object.entries(f.rings).map(([k, v]) => `${k} ${v}%`).join('\n') : '', [...(f.users ?? []), ...(f.segments ?? []).map((s) => `segment:${s}`)].join(', '), [...(f.exclude?.segments ?? []).map((s) => `segment:${s}`), ...(f.exclude?.rings ?? []).map((r) => `ring:${r}`)].join(', '), f.updatedAt]);
  }
  c.stdout(t.toString());
  return 0;
}

export async function evaluate(c: Context, flag: string, o: { key: string; ring?: string; segment?: string; store?: string }): Promise<number> {
  const path = storePath(c, o);
  const flags = await readStore(path);
  if (!Object.hasOwn(flags, flag)) {
    // "off" would be a guess: the flag may live in another store, or the name is misspelt.
    const { UsageError } = await import('../errors.js');
    const { suggest } = await import('../util/suggest.js');
    const names = Object.keys(flags);
    const near = suggest(flag, names);
    throw new UsageError(`flag "${flag}" is not in the store ${path}${names.length ? '' : ' (it has no flags yet)'}`, {
      hint: near
        ? `Did you mean "${near}"? \`rollout flags\` lists the store's flags.`
        : names.length
          ? `\`rollout flags\` lists the store's flags; --store <file> or --state-dir picks another store.`
          : 'A run of a plan with `backend: {type: local}` writes the flags here; --store <file> or --state-dir picks another store.',
    });
  }
  const r = evalFlag(flag, flags[flag], o.key, { ring: o.ring, segment: o.segment });
  if (c.json) printJson(c, { flag, key: o.key, ...(o.ring ? { ring: o.ring } : {}), ...(o.segment ? { segment: o.segment } : {}), enabled: r.enabled, ...(r.variant ? { variant: r.variant } : {}), reason: r.reason });
  else c.stdout(`${flag} for ${o.key}: ${r.enabled ? style.green('ON') : style.dim('off')}${r.variant ? ` variant ${style.green(r.variant)}` : ''} (${r.reason})`);
  return 0;
}
