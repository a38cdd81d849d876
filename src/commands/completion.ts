/**
 * Shell completion. `rollout completion bash|zsh|fish` prints a script that asks the CLI
 * itself, through the hidden `rollout __complete <cword> <words…>`, for the candidates:
 * commands and options come from the commander program (nothing kept by hand), plan files
 * for plan arguments, run ids and plan names for run arguments, flag names of the local
 * store for `evaluate`, the open items of the run's checklist for `confirm`, the segments and
 * rings of the run's plan for `rollback --segment/--ring`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { openStore, planOf, type Context } from './context.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

const SCRIPTS: Record<(typeof SHELLS)[number], string> = {
  bash: `# rollout completion for bash. Install: rollout completion bash > ~/.local/share/bash-completion/completions/rollout
# (or add \`source <(rollout completion bash)\` to ~/.bashrc)
_rollout() {
  local IFS=$'\\n'
  local out
  out=$(rollout __complete "$COMP_CWORD" "\${COMP_WORDS[@]}" 2>/dev/null) || return 0
  COMPREPLY=($out)
  if [[ \${#COMPREPLY[@]} -eq 1 && \${COMPREPLY[0]} == */ ]]; then
    compopt -o nospace 2>/dev/null
  fi
}
complete -F _rollout rollout
`,
  zsh: `#compdef rollout
# rollout completion for zsh. Install: rollout completion zsh > "\${fpath[1]}/_rollout" (then restart zsh),
# or add \`source <(rollout completion zsh)\` to ~/.zshrc after compinit.
_rollout() {
  local -a candidates
  local c
  candidates=("\${(@f)$(rollout __complete $((CURRENT - 1)) "\${words[@]}" 2>/dev/null)}")
  for c in "\${candidates[@]}"; do
    [[ -z $c ]] && continue
    if [[ $c == */ ]]; then compadd -Q -S '' -- "$c"; else compadd -Q -- "$c"; fi
  done
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _rollout "$@"; else compdef _rollout rollout; fi
`,
  fish: `# rollout completion for fish. Install: rollout completion fish > ~/.config/fish/completions/rollout.fish
function __rollout_complete
    set -l tokens (commandline -opc) (commandline -ct)
    rollout __complete (math (count $tokens) - 1) $tokens 2>/dev/null
end
complete -c rollout -f -a '(__rollout_complete)'
`,
};

export default async function completion(c: Context, shell: string): Promise<number> {
  if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`no completion for "${shell}": bash, zsh or fish`, { hint: 'e.g. source <(rollout completion bash)' });
  c.stdout(SCRIPTS[shell as (typeof SHELLS)[number]]);
  return 0;
}

const visible = (cmd: Command) => cmd.commands.filter((s) => !(s as unknown as { _hidden?: boolean })._hidden);
const takesValue = (o: Option) => o.required || o.optional;
const findOption = (opts: readonly Option[], word: string) => opts.find((o) => o.long === word || o.short === word);

/** Plan files (*.yaml, *.yml) and directories under the prefix's directory. */
async function planFiles(cwd: string, prefix: string, dirsOnly = false): Promise<string[]> {
  const slash = prefix.lastIndexOf('/');
  const dirPart = slash >= 0 ? prefix.slice(0, slash + 1) : '';
  let entries;
  try {
    entries = await readdir(resolve(cwd, dirPart || '.'), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const path = dirPart + e.name;
    if (!path.startsWith(prefix) || (e.name.startsWith('.') && !prefix.slice(dirPart.length).startsWith('.')) || e.name === 'node_modules') continue;
    if (e.isDirectory()) out.push(path + '/');
    else if (!dirsOnly && /\.ya?ml$/i.test(e.name)) out.push(path);
  }
  return out.sort();
}

async function runRefs(c: Context): Promise<string[]> {
  try {
    const store = await openStore(c);
    try {
      const runs = (await store.list()).sort((a, b) => b.startedAt - a.startedAt);
      return [...new Set([...runs.map((r) => r.id), ...runs.map((r) => r.plan.name)])];
    } finally {
      await (store as { close?: () => Promise<void> }).close?.();
    }
  } catch {
    return [];
  }
}

/**
 * The open item ids of the checklist the run (named by the first word, else the active one)
 * waits at — with `undo`, the confirmed ones instead; items already on the line left out.
 */
async function checklistIds(c: Context, words: string[], undo: boolean): Promise<string[]> {
  try {
    const store = await openStore(c);
    try {
      const runs = await store.list();
      const ref = words[0];
      const named = ref !== undefined && runs.some((r) => r.id === ref || r.plan.name === ref);
      const s = await store.load(await store.resolve(named ? ref : undefined));
      return (s.approval?.checklist ?? []).filter((i) => Boolean(i.confirmed) === undo && !words.includes(i.id)).map((i) => i.id);
    } finally {
      await (store as { close?: () => Promise<void> }).close?.();
    }
  } catch {
    return [];
  }
}

/**
 * `rollback --segment/--ring`: the segments the run's plan names (its rings', its phases', its
 * checks' rollbackSegments) or its rings (not the everybody-else one); with `undo`, the cohorts
 * of that kind the run has rolled back.
 */
async function cohortNames(c: Context, ref: string | undefined, kind: 'segment' | 'ring', undo: boolean): Promise<string[]> {
  try {
    const store = await openStore(c);
    try {
      const s = await store.load(await store.resolve(ref));
      if (undo) return (s.excluded ?? []).filter((x) => x.kind === kind).map((x) => x.name);
      const plan = await planOf(c, s);
      if (!plan) return [];
      const rings = Object.entries(plan.rings).filter(([, r]) => r.users?.length || r.segments?.length);
      if (kind === 'ring') return rings.map(([name]) => name).sort();
      const named = [...rings.flatMap(([, r]) => r.segments ?? []), ...plan.phases.flatMap((p) => [...(p.segments ?? []), ...p.checks.flatMap((k) => k.rollbackSegments ?? [])])];
      return [...new Set(named)].sort();
    } finally {
      await (store as { close?: () => Promise<void> }).close?.();
    }
  } catch {
    return [];
  }
}

async function flagNames(c: Context, store?: string): Promise<string[]> {
  try {
    return Object.keys(JSON.parse(await readFile(resolve(c.cwd, store ?? join(c.stateDir, 'flags.json')), 'utf8'))).sort();
  } catch {
    return [];
  }
}

/**
 * The candidates for word `cword` of `words` (words[0] is the program), as the shell split
 * the line. Pure but for reading the state dir and the working directory.
 */
export async function complete(program: Command, c: Context, cword: number, words: string[]): Promise<string[]> {
  const cur = words[cword] ?? '';
  const before = words.slice(1, cword);
  const globals = program.options;
  let cmd: Command | undefined;
  const positionals: string[] = [];
  const given: Record<string, string> = {};
  const switches = new Set<string>();
  let pending: Option | undefined;
  for (const w of before) {
    if (pending) {
      given[pending.attributeName()] = w;
      pending = undefined;
      continue;
    }
    if (w.startsWith('-')) {
      const o = findOption([...(cmd?.options ?? []), ...globals], w.split('=')[0]!);
      if (o && !takesValue(o)) switches.add(o.attributeName());
      if (o && takesValue(o) && !w.includes('=')) pending = o;
      else if (o && w.includes('=')) given[o.attributeName()] = w.slice(w.indexOf('=') + 1);
      continue;
    }
    if (!cmd) {
      cmd = visible(program).find((s) => s.name() === w || s.aliases().includes(w));
      if (!cmd) return [];
    } else positionals.push(w);
  }
  if (given.stateDir) c = { ...c, stateDir: given.stateDir };
  const match = (xs: string[]) => xs.filter((x) => x.startsWith(cur));

  // The value of an option.
  if (pending) {
    const choices = (pending as Option & { argChoices?: string[] }).argChoices;
    if (choices) return match(choices);
    if (pending.long === '--state-dir') return planFiles(c.cwd, cur, true);
    if (cmd?.name() === 'rollback' && (pending.long === '--segment' || pending.long === '--ring')) return match(await cohortNames(c, positionals[0], pending.long === '--ring' ? 'ring' : 'segment', switches.has('undo')));
    if (['--scenario', '--out', '--store'].includes(pending.long ?? '')) return planFiles(c.cwd, cur);
    return [];
  }
  if (cur.startsWith('-')) {
    const opts = [...(cmd ? cmd.options : []), ...globals, ...(cmd ? [] : [])].filter((o) => !o.hidden && o.long);
    return match([...new Set([...opts.map((o) => o.long!), '--help'])]);
  }
  if (!cmd) return match(visible(program).map((s) => s.name()));

  // A positional argument: what it is, by the argument's name in the program.
  const args = cmd.registeredArguments;
  const arg = args[Math.min(positionals.length, args.length - 1)];
  if (!arg || (positionals.length >= args.length && !arg.variadic)) return [];
  switch (arg.name()) {
    case 'plan':
    case 'plans':
    case 'file':
      return planFiles(c.cwd, cur);
    case 'run':
      return cmd.name() === 'advance' ? [...match(await runRefs(c)), ...(await planFiles(c.cwd, cur))] : match(await runRefs(c));
    case 'run-and-items':
      // `rollout confirm [run] <item…>`: run ids first, then the open items of the checklist it waits at.
      return match([...(positionals.length ? [] : await runRefs(c)), ...(await checklistIds(c, positionals, switches.has('undo')))]);
    case 'flag':
      return match(await flagNames(c, given.store));
    case 'shell':
      return match([...SHELLS]);
    default:
      return arg.argChoices ? match(arg.argChoices) : [];
  }
}
