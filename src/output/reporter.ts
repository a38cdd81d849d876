/**
 * Live progress for `start`, `resume`, `advance`, `rollback`: on a terminal a live view of the
 * run (output/live.ts: header, step ladder, checks, what it waits for), redrawn when the run
 * changes (at most every 200 ms) and every second for its countdowns, with events printed
 * above it; elsewhere (CI, pipes) plain timestamped lines, one per event. With --json nothing
 * but the final JSON goes to stdout; progress lines go to stderr.
 */
import type { RunEvent, RunState } from '../engine/types.js';
import type { Plan } from '../plan/model.js';
import { redact } from '../util/redact.js';
import { safeLines, safeText } from '../util/terminal.js';
import { renderRun } from './live.js';
import { style } from './style.js';
import { clock, humanizeTimes } from './time.js';

type LogUpdate = ((text: string) => void) & { clear(): void; done(): void };

export interface ReporterOptions {
  json: boolean;
  quiet?: boolean;
  tty?: boolean;
  /** Format event times (virtual clock in simulations: "T+2h"). */
  time?: (at: number) => string;
  out?: NodeJS.WritableStream;
  /** The plan, for the live view's step ladder and thresholds. */
  plan?: Plan;
  /** The clock (tests). */
  now?: () => number;
  /** CI and ROLLOUT_VERBOSE are read from here (default: the process's environment). */
  env?: Record<string, string | undefined>;
}

const ICON: Record<string, string> = {
  'run.started': '▶',
  'step.applied': '↗',
  'phase.started': '▸',
  'breach.detected': '✖',
  'rollback.started': '⟲',
  'run.completed': '✔',
  'run.rolled-back': '⟲',
  'run.paused': '⏸',
  'approval.requested': '?',
  'approval.granted': '✔',
  'check.changed': '•',
};

export class Reporter {
  private live?: LogUpdate;
  private out: NodeJS.WritableStream;
  private state?: RunState;
  private timer?: NodeJS.Timeout;
  private pendingRender?: NodeJS.Timeout;
  private lastRender = 0;
  constructor(private o: ReporterOptions) {
    this.out = o.out ?? (o.json ? process.stderr : process.stdout);
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  async init(): Promise<void> {
    const tty = this.o.tty ?? Boolean((this.out as NodeJS.WriteStream).isTTY);
    // A terminal that reports no width (some `script`/CI pseudo-TTYs) cannot be redrawn
    // reliably: plain lines there.
    const width = (this.out as NodeJS.WriteStream).columns ?? 0;
    if (tty && width > 0 && !this.o.quiet && !(this.o.env ?? process.env).CI) {
      const { createLogUpdate } = await import('log-update');
      this.live = createLogUpdate(this.out as NodeJS.WriteStream, { showCursor: true }) as LogUpdate;
      this.timer = setInterval(() => this.render(), 1000);
      this.timer.unref();
    }
  }

  private time(at: number): string {
    if (this.o.time) return this.o.time(at);
    return this.live ? clock(at, { now: this.now() }) : new Date(at).toISOString().slice(11, 19);
  }

  line(text: string): void {
    if (this.o.quiet) return;
    if (this.held) {
      // Keep the prompt readable: lines printed meanwhile go above it on the next render.
      this.out.write('\n' + redact(text) + '\n');
      return;
    }
    if (this.live) this.live.clear();
    this.out.write(redact(text) + '\n');
    if (this.live) this.render(true);
  }

  /** A runner message (notices, warnings): timestamped like events. */
  notice(text: string): void {
    const [first = '', ...rest] = text.split('\n');
    this.line(`${style.dim(this.time(this.now()))} ${first}${rest.length ? '\n' + rest.join('\n') : ''}`);
  }

  event(e: RunEvent, s: RunState): void {
    if (e.type === 'notify.sent' || (e.type === 'step.intent' && !(this.o.env ?? process.env).ROLLOUT_VERBOSE)) return;
    const icon = ICON[e.type] ?? '·';
    const color = e.type.startsWith('rollback') || e.type === 'breach.detected' || e.type.endsWith('failed') || e.type === 'run.rolled-back'
      ? style.red
      : e.type === 'run.paused' || e.type === 'approval.requested' || e.type === 'step.blocked' || e.type === 'window.closed'
        ? style.yellow
        : e.type === 'run.completed' || e.type === 'step.applied'
          ? style.green
          : (x: string) => x;
    this.state = s;
    // On a terminal the engine's ISO timestamps read as local times with a countdown.
    const msg = this.live ? humanizeTimes(safeText(e.msg), { now: this.now() }) : safeText(e.msg);
    this.line(`${style.dim(this.time(e.at))} ${color(`${icon} ${msg}`)}`);
    const output = typeof e.data?.output === 'string' ? e.data.output.trim() : '';
    if (output) for (const l of safeLines(output).slice(-10)) this.line(style.dim(`           │ ${l}`));
    this.status(s);
  }

  status(s: RunState): void {
    this.state = s;
    if (!this.live || this.held) return;
    // Redraw on change, at most every 200 ms.
    const wait = 200 - (this.now() - this.lastRender);
    if (wait <= 0) this.render(true);
    else if (!this.pendingRender) {
      this.pendingRender = setTimeout(() => {
        this.pendingRender = undefined;
        this.render(true);
      }, wait);
      this.pendingRender.unref();
    }
  }

  private render(force = false): void {
    if (!this.live || !this.state || this.held) return;
    if (!force && this.now() - this.lastRender < 200) return;
    this.lastRender = this.now();
    const width = (this.out as NodeJS.WriteStream).columns ?? 100;
    this.live(renderRun(this.o.plan, this.state, { now: this.now(), width, maxSteps: Math.max(4, ((this.out as NodeJS.WriteStream).rows ?? 40) - 24) }));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.pendingRender) clearTimeout(this.pendingRender);
    this.timer = this.pendingRender = undefined;
    // The last view stays on screen above the summary.
    if (this.live && this.state) {
      this.render(true);
      this.live.done();
    }
    this.live = undefined;
  }

  private held = false;
  /** Stop redrawing while an interactive prompt owns the terminal. */
  hold(): void {
    this.held = true;
    this.live?.clear();
  }
  release(): void {
    this.held = false;
    this.render(true);
  }
}
