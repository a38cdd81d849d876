/**
 * Runs the user's programs: argv arrays, no shell, a timeout, output captured (and redacted).
 * Values from users or backends (a rollback reason, a flag value) travel only in `env`, never
 * spliced into argv text a shell could re-parse.
 */
import { redact } from './redact.js';

export interface CommandSpec {
  /** argv: [program, ...args]. A string is only allowed when `shell: true`. */
  argv: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Opt-in: run argv[0] as a shell line (sh -c). Off by default. */
  shell?: boolean;
  input?: string;
}

export interface CommandResult {
  exitCode: number | null;
  ok: boolean;
  timedOut: boolean;
  /** Combined, redacted, trimmed to the last 4 KiB. */
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Human summary: "exit 0 in 12 ms", "timed out after 30000 ms", "not found: ./x.sh". */
  summary: string;
}

const tail = (s: string) => redact(s.length > 4096 ? `…${s.slice(-4096)}` : s).trim();

export async function runCommand(spec: CommandSpec): Promise<CommandResult> {
  const { execa } = await import('execa');
  const [file, ...args] = spec.shell ? ['/bin/sh', '-c', spec.argv.join(' ')] : spec.argv;
  if (!file) throw new Error('empty command');
  const started = Date.now();
  const r = await execa(file, args, {
    cwd: spec.cwd,
    env: spec.env,
    extendEnv: true,
    timeout: spec.timeoutMs ?? 60_000,
    reject: false,
    input: spec.input,
    stdin: spec.input === undefined ? 'ignore' : undefined,
    forceKillAfterDelay: 2_000,
    all: false,
    stripFinalNewline: true,
  });
  const durationMs = Date.now() - started;
  const exitCode = typeof r.exitCode === 'number' ? r.exitCode : null;
  const notFound = (r as { code?: string }).code === 'ENOENT';
  const ok = !r.timedOut && exitCode === 0;
  const summary = r.timedOut
    ? `timed out after ${spec.timeoutMs ?? 60_000} ms`
    : notFound
      ? `not found: ${redact(file)}`
      : exitCode === null
        ? `killed by ${r.signal ?? 'signal'}`
        : `exit ${exitCode} in ${durationMs} ms`;
  return {
    exitCode,
    ok,
    timedOut: Boolean(r.timedOut),
    stdout: tail(String(r.stdout ?? '')),
    stderr: tail(String(r.stderr ?? '')),
    durationMs,
    summary,
  };
}
