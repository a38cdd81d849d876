/**
 * Commander wiring only. Each command's body is imported when it runs, so `rollout status`
 * does not pay for loading adapters, prompts or the engine's dependencies. Every failure
 * leaves through RolloutError → message, hint and exit code; a stack only with --debug.
 *
 * `main(argv, io)` runs one invocation in-process and returns its exit code: `io` carries the
 * process's edges (streams, env, cwd, clock, signals, prompt, store opener), so a test calls
 * `main(['status', '--json'], { stdout, stderr, env, cwd })` without spawning. Only bin/
 * ends the process.
 */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXIT_CODE_TABLE, ExitCode, RolloutError, PlanError } from './errors.js';
import { createContext, type Context, type Io } from './commands/context.js';
import { realClock } from './runner/clock.js';

export type { Io };

const exitHelp = `
Exit codes:
${EXIT_CODE_TABLE.map(([c, t]) => `  ${String(c).padStart(2)}  ${t}`).join('\n')}

Environment:
  ROLLOUT_STATE_DIR   where runs are recorded (default .rollout in the working directory)
  ROLLOUT_STATE_URL   postgres://… : keep runs in PostgreSQL, shared by a team and its CI jobs
  ROLLOUT_SERVE_TOKEN rollout serve: the bearer token its actions need (read-only without it)
  NO_COLOR            plain output
Docs: README.md, docs/plan-format.md, docs/adapters.md, docs/ci.md`;

/** The real process's edges (what bin/rollout.js runs with, plus its `exit`). */
export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    tty: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    env: process.env,
    cwd: process.cwd(),
    clock: realClock,
    signals: (handler) => {
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
      return () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      };
    },
    prompt: async (message, { signal }) => {
      const { confirm } = await import('@inquirer/prompts');
      return confirm({ message, default: false }, { signal });
    },
    // In-process the first signal already pauses the run; bin/ passes process.exit.
    exit: () => undefined,
  };
}


type Action = (c: Context, ...args: never[]) => Promise<number>;

/** The context a command of `program` gets, from the invocation's edges and the global options. */
function contextFor(io: Io, program: Command): Context {
  const g = program.opts<{ stateDir?: string; json?: boolean; debug?: boolean; utc?: boolean }>();
  // Every human time is formatted in the default zone: --utc makes that UTC (for this process:
  // the zone is the process's, so an in-process --utc affects later calls too).
  if (g.utc) process.env.TZ = 'UTC';
  // --state-dir reaches adapters (the local flag store) through the environment they get.
  const env = g.stateDir ? { ...io.env, ROLLOUT_STATE_DIR: g.stateDir } : io.env;
  return createContext({
    cwd: io.cwd,
    json: Boolean(g.json),
    debug: Boolean(g.debug),
    interactive: io.tty && !env.CI,
    env,
    clock: io.clock,
    signals: io.signals,
    prompt: io.prompt,
    exit: io.exit,
    streams: { stdout: io.stdout, stderr: io.stderr },
    ...(io.openStore ? { openStore(this: Context) { return io.openStore!(this); } } : {}),
  });
}

/** The commander program of one invocation; each command's exit code goes to `done`. */
export function buildProgram(io: Io, done: (code: number) => void): Command {
  const program = new Command();
  program
    .name('rollout')
    .description('Progressive feature-flag rollouts from a YAML plan: steps, holds, metric checks, automatic rollback.')
    .version(io.env.ROLLOUT_VERSION ?? '0.1.0')
    .option('--state-dir <dir>', 'where runs are recorded (env ROLLOUT_STATE_DIR; default .rollout)')
    .option('--json', 'machine-readable output on stdout')
    .option('--debug', 'show stack traces for errors')
    .option('--utc', 'show times in UTC (default: local time with its zone)')
    .addHelpText('after', exitHelp)
    .showSuggestionAfterError(true)
    // Commander's own usage errors (unknown command/option, missing argument, conflicts): main turns them into exit 2.
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s), outputError: (str, write) => write(str) });

  const ctx = () => contextFor(io, program);

  const lazy =
    (load: () => Promise<{ default: Action }>) =>
    async (...args: unknown[]): Promise<void> => {
      const c = ctx();
      // commander passes (…positionals, options, command): merge the command's own --json.
      const opts = args[args.length - 2] as { json?: boolean } | undefined;
      if (opts && typeof opts === 'object' && opts.json) c.json = true;
      const mod = await load();
      done(await (mod.default as (c: Context, ...a: unknown[]) => Promise<number>)(c, ...args.slice(0, -1)));
    };

  const json = () => new Option('--json', 'machine-readable output');

  program
    .command('start')
    .argument('<plan>', 'the plan file (YAML)')
    .description('start a rollout (or pick up its unfinished run) and follow it to the end')
    .option('-y, --yes', 'approve go/no-go gates without asking (non-interactive)')
    .addOption(new Option('--dry-run', 'decide and print every step, but write no flags, run no commands and record nothing (nothing to resume)').conflicts(['takeover', 'detach']))
    .option('--takeover', 'take the locks of a run whose process is gone')
    .option('--resume', "resume the plan's paused run (without it, a paused run exits 4 with how to resume it)")
    .option('--detach', 'do what is due now and return (like advance), instead of following')
    .option('--at <time>', 'schedule the run: it starts then (and announces ahead, with notify.announce); ISO 8601 with zone, "3d", "mon 09:00", or "now"; overrides the plan\'s startAt')
    .addOption(json())
    .addHelpText('after', '\nCtrl-C leaves the run paused; `rollout resume` goes on. Exit code says how it ended (see `rollout --help`).')
    .action(lazy(() => import('./commands/start.js')));

  program
    .command('status')
    .argument('[run]', 'run id or plan name (default: the active run)')
    .description('where a run stands: phase, flags, next step, last check values vs thresholds')
    .addOption(new Option('-w, --watch', 'refresh until the run ends').conflicts(['json', 'all']))
    .option('-a, --all', 'list every run')
    .addOption(json())
    .action(lazy(() => import('./commands/status.js')));

  const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];
  const control = (name: string, desc: string, extra?: (c: Command) => Command) => {
    let c = program.command(name).argument('[run]', 'run id or plan name (default: the active run)').description(desc).option('--by <who>', 'who asks (recorded; default $USER)');
    if (extra) c = extra(c);
    c.addOption(json()).action(lazy(() => import('./commands/control.js').then((m) => ({ default: m.handlers[name]! }))));
  };
  control('pause', 'pause a run (it holds where it is)', (c) => c.option('--reason <text>', 'why', 'paused by hand'));
  control('resume', 'resume a paused run, or pick up a crashed one, and follow it', (c) =>
    c.option('--takeover', 'take the locks of a run whose process is gone').option('--detach', 'do what is due now and return').option('-y, --yes', 'approve gates without asking'),
  );
  control('promote', 'end the current hold now (checks must still pass)', (c) => c.option('--full', 'skip the remaining holds of this phase'));
  control('approve', 'give the go for the gate the run waits at (a gate with named approvers opens at its quorum)', (c) =>
    c.option('--note <text>', 'recorded with the approval').option('--as <name>', 'sign as this named approver of the gate (default: --by, i.e. you)'),
  );
  control('ack', 'acknowledge the run\'s open pages (notify.escalation): escalation to the next person stops', (c) =>
    c
      .option('--as <name>', 'who takes the page (default: --by, i.e. you)')
      .option('--note <text>', 'recorded with the acknowledgement and sent to everyone paged')
      .addOption(
        new Option('--page <n>', 'only this page (its number in `rollout status`)').argParser((v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a page number, e.g. --page 1');
          return n;
        }),
      ),
  );
  control('reject', 'no-go: abort the run at its gate', (c) => c.requiredOption('--reason <text>', 'why'));
  program
    .command('confirm')
    .argument('[run-and-items...]', 'the run (id or plan name; default: the active run), then the checklist items (ids) to confirm')
    .description('tick checklist items of the gate the run waits at (who and when are recorded); the gate opens when every item is ticked')
    .option('--as <name>', 'confirm as this person (default: --by, i.e. you); items with `by:` name who may')
    .option('--by <who>', 'who types it (recorded; default $USER)')
    .option('--note <text>', 'recorded with each item confirmed')
    .option('--undo', 'untick items ticked by mistake')
    .option('--all', 'every open item you may confirm (you vouch for each)')
    .addOption(new Option('-l, --list', 'show the checklist: each item ticked or not, by whom and when').conflicts(['undo', 'all', 'note', 'as']))
    .addOption(json())
    .addHelpText('after', '\nOn a terminal, with no item named, it asks item by item. `--yes` of start/advance never ticks a checklist: a person confirms each item.')
    .action(lazy(() => import('./commands/confirm.js')));
  control('abort', 'stop the run, leaving flags as they are', (c) => c.option('--reason <text>', 'why', 'aborted by hand'));
  control('rollback', 'emergency rollback: flags off, rollback commands, health check, incident record', (c) =>
    c
      .option('--reason <text>', 'why (recorded; commands get it as $ROLLOUT_REASON, never in a shell line)')
      .addOption(new Option('--mode <mode>', 'override the plan: immediate or gradual').choices(['immediate', 'gradual']))
      .addOption(
        new Option('--to <percent>', 'partial rollback: step the current phase down to this percentage and pause there (no commands)')
          .argParser((v) => {
            const n = Number(v);
            if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError('a percentage from 0 to 100, e.g. --to 25');
            return n;
          })
          .conflicts(['mode']),
      )
      .addOption(new Option('--segment <name>', 'partial rollback for some users: turn the flags off for this segment only, everybody else keeps their percentage (repeatable)').argParser(collect).conflicts(['mode', 'to']))
      .addOption(new Option('--ring <name>', "the same for a ring of the plan's rings: (repeatable)").argParser(collect).conflicts(['mode', 'to']))
      .option('--undo', 'with --segment/--ring: bring the cohort back (the flags as everybody else has them)')
      .option('--pause', 'with --segment/--ring: also pause the run (by default it goes on without the cohort)'),
  );

  program
    .command('worker')
    .description('drive every active run in the store until stopped (many workers may share one PostgreSQL store)')
    .option('-c, --concurrency <n>', 'most runs this worker drives at once', '100')
    .option('--id <name>', 'this worker\'s name in `rollout workers` and `status --all` (default host-pid-random)')
    .option('--poll <ms>', 'how often to look for runs and at each run\'s inbox', '1000')
    .addOption(json())
    .action(lazy(() => import('./commands/worker.js')));

  program
    .command('workers')
    .description('list live workers: heartbeat age and how many runs each drives')
    .addOption(json())
    .action(lazy(() => import('./commands/worker.js').then((m) => ({ default: m.list }))));

  program
    .command('advance')
    .argument('[run]', 'run id, plan name, or a plan file (starts a run when it has none)')
    .description('for CI: do whatever is due now, then exit with a code that says where the run stands')
    .option('-y, --yes', 'approve gates without asking')
    .option('--takeover', 'take the locks of a run whose process is gone')
    .option('--at <time>', 'with a plan file that has no run yet: schedule the new run to start then (as `start --at`)')
    .addOption(json())
    .action(lazy(() => import('./commands/advance.js')));

  program
    .command('log')
    .argument('[run]', 'run id or plan name')
    .description("the run's event log: every observation, decision and side effect")
    .option('-n, --tail <n>', 'only the last n events')
    .option('-f, --follow', 'keep printing new events until the run ends')
    .addOption(json())
    .action(lazy(() => import('./commands/log.js')));

  program
    .command('validate')
    .argument('<plans...>', 'plan files')
    .description('check plans: file:line:column for every problem, "did you mean" for unknown keys, programs that do not exist')
    .option('--no-programs', 'do not check that the programs the plan names exist here (validating on another machine than the one that runs it)')
    .addOption(json())
    .action(lazy(() => import('./commands/validate.js')));

  program
    .command('plan')
    .argument('<plan>', 'the plan file')
    .description('the timeline as a table: each step, when it would happen, holds, gates, windows, total duration')
    .option('--start <time>', 'assume `rollout start` runs at this time (ISO 8601; default now)')
    .option('--at <time>', 'a scheduled start, as `rollout start --at` (overrides the plan\'s startAt)')
    .addOption(json())
    .action(lazy(() => import('./commands/plan.js')));

  program
    .command('simulate')
    .argument('<plan>', 'the plan file')
    .description('run the plan on a virtual clock with scripted metrics; prints breaches, pauses, rollbacks')
    .option('-s, --scenario <file>', 'scripted metric values over time (default: healthy)')
    .option('--start <time>', 'virtual time `rollout start` runs at (ISO 8601; default now)')
    .option('--at <time>', 'a scheduled start, as `rollout start --at` (overrides the plan\'s startAt)')
    .option('--events', 'print every event, not only the summary')
    .addOption(json())
    .action(lazy(() => import('./commands/simulate.js')));

  program
    .command('backtest')
    .argument('<plan>', 'the plan file')
    .description("replay the plan's checks over real metrics history (read-only): where they would have breached, paused or rolled back, closest approaches, no-data windows, suggested thresholds")
    .option('--from <time>', 'start: a duration before --to ("7d") or ISO 8601')
    .option('--to <time>', 'end (ISO 8601; default now, rounded down to the check interval and printed so the run can be repeated)')
    .option('--report <file>', 'also write the HTML report of the replay')
    .option('--events', 'print every engine event of the replay')
    .addOption(json())
    .action(lazy(() => import('./commands/backtest.js')));

  program
    .command('flags')
    .description('list the flags in the local flag store')
    .option('--store <file>', 'flag store file (default <state dir>/flags.json)')
    .addOption(json())
    .action(lazy(() => import('./commands/flags.js').then((m) => ({ default: m.list }))));

  program
    .command('evaluate')
    .argument('<flag>', 'flag name')
    .description('is this flag on for this user? (local store, Unleash-compatible sticky bucketing)')
    .requiredOption('-k, --key <user>', 'the user id (stickiness key)')
    .option('--ring <ring>', 'evaluate as a member of this ring')
    .option('--segment <segment>', 'evaluate as a member of this segment')
    .option('--store <file>', 'flag store file (default <state dir>/flags.json)')
    .addOption(json())
    .action(lazy(() => import('./commands/flags.js').then((m) => ({ default: m.evaluate }))));

  program.command('report').argument('[run]', 'run id or plan name').description('one self-contained HTML file: header, flag and check charts vs thresholds, decision log, incidents (opens offline)').option('-o, --out <file>', 'write here (default: stdout)').option('--history', "chart each check's values over the whole run from its metrics provider (Prometheus, Datadog range queries)").addOption(json()).action(lazy(() => import('./commands/report.js')));
  program.command('serve').description('live dashboard, JSON API, /metrics and OpenFeature OFREP; actions need ROLLOUT_SERVE_TOKEN').option('-p, --port <port>', 'port', '7420').option('--host <host>', 'address to bind', '127.0.0.1').option('--store <file>', 'flag store OFREP evaluates (default <state dir>/flags.json)').option('--worker', 'also drive every active run (as `rollout worker`): one process for one machine').option('-c, --concurrency <n>', 'with --worker: most runs driven at once', '100').action(lazy(() => import('./serve/command.js')));

  program
    .command('schema')
    .description('print the JSON Schema of the plan format (for yaml-language-server)')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(lazy(() => import('./commands/schema.js')));

  program
    .command('completion')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .description('print a shell completion script (commands, options, plan files, run ids, flag names)')
    .addHelpText('after', '\nInstall: source <(rollout completion bash)   # or zsh; fish: rollout completion fish > ~/.config/fish/completions/rollout.fish')
    .action(lazy(() => import('./commands/completion.js')));

  program
    .command('init')
    .argument('[file]', 'the plan file to write', 'rollout.yaml')
    .description('write a first plan: asks for the flag backend, metrics, a first check, steps, holds, a gate and a rollback command')
    .addOption(new Option('--backend <type>', 'flag backend').choices(['local', 'unleash', 'launchdarkly', 'flagd', 'http', 'env-file', 'command']))
    .addOption(new Option('--metrics <type>', 'metrics provider').choices(['prometheus', 'datadog', 'http-json', 'command', 'simulated', 'none']))
    .addOption(new Option('--check <template>', 'the first check').choices(['error-rate', 'latency']))
    .addOption(new Option('--steps <preset>', 'careful 1→5→10→25→50→100, fast 10→50→100, rings internal→beta→everybody').choices(['careful', 'fast', 'rings']))
    .option('--name <name>', 'plan name (default: from the file name)')
    .option('--flag <flag>', 'the flag to roll out (default new-feature)')
    .option('--hold <duration>', 'hold after each step (default by preset: 1h, 15m, 1d)')
    .addOption(new Option('--gate <where>', 'go/no-go gate').choices(['before-100', 'before-start', 'none']))
    .option('--rollback <command>', 'command run on rollback (argv, no shell)')
    .option('-y, --yes', 'no questions: options and defaults (also off a terminal)')
    .option('--force', 'replace an existing file without asking')
    .addOption(json())
    .action(lazy(() => import('./commands/init.js')));

  return program;
}

/**
 * Run one invocation (`argv` without node and the script: `['status', '--json']`) and return
 * its exit code. `io` defaults to the real process's edges.
 */
export async function main(argv: string[], io: Partial<Io> = {}): Promise<number> {
  const edges: Io = { ...processIo(), ...io };
  let code = 0;
  // Colour follows the injected streams and env, not the hosting process's.
  const restore = edges.stdout !== process.stdout || edges.env !== process.env ? await plainUnlessTty(edges) : undefined;
  try {
    const program = buildProgram(edges, (c) => (code = c));
    // Shell completion asks here, before commander parses: the words are the user's half-typed line.
    if (argv[0] === '__complete') {
      const { complete } = await import('./commands/completion.js');
      const words = await complete(program, contextFor(edges, program), Number(argv[1]), argv.slice(2)).catch(() => []);
      if (words.length) edges.stdout.write(words.join('\n') + '\n');
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    return await failure(err, argv, edges);
  } finally {
    restore?.();
  }
}

async function plainUnlessTty(io: Io): Promise<() => void> {
  const { default: chalk } = await import('chalk');
  const level = chalk.level;
  if (io.env.NO_COLOR !== undefined || !(io.stdout as NodeJS.WriteStream).isTTY) chalk.level = 0;
  return () => (chalk.level = level);
}

async function failure(err: unknown, argv: string[], io: Io): Promise<number> {
  if (err instanceof CommanderError) {
    if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)) return 0;
    io.stderr.write('hint: see `rollout --help` or `rollout <command> --help`\n');
    return ExitCode.USAGE;
  }
  const debug = argv.includes('--debug');
  const asJson = argv.includes('--json');
  const { redact } = await import('./util/redact.js');
  if (err instanceof RolloutError) {
    if (asJson) {
      io.stdout.write(
        JSON.stringify({ error: redact(err.message), hint: err.hint, exitCode: err.exitCode, ...(err instanceof PlanError ? { file: err.file, issues: err.issues } : {}) }, null, 2) + '\n',
      );
    } else {
      const { formatError } = await import('./output/errors.js');
      io.stderr.write(formatError(err) + '\n');
    }
    if (debug && err.stack) io.stderr.write(redact(err.stack) + '\n');
    return err.exitCode;
  }
  io.stderr.write(`rollout: internal error: ${(await import('./util/terminal.js')).safeText(redact((err as Error)?.message ?? String(err)))}\n`);
  io.stderr.write(debug ? redact((err as Error)?.stack ?? '') + '\n' : 'Run again with --debug for the stack trace, and report it.\n');
  return ExitCode.INTERNAL;
}
