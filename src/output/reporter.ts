/**
 * Live progress for `start`, `resume`, `advance`, `rollback`: on a terminal an ora spinner
 * shows what the run waits for, with events printed above it; elsewhere (CI, pipes) plain
 * timestamped lines. With --json nothing but the final JSON goes to stdout; progress lines go
 * to stderr.
 */
import type { RunEvent, RunState } from '../engine/types.js';
import { redact } from '../util/redact.js';
import { safeLines, safeText } from '../util/terminal.js';
import { style } from './style.js';

type Spinner = { text: string; start(): Spinner; stop(): Spinner; clear(): Spinner; render(): Spinner; isSpinning: boolean };

export interface ReporterOptions {
  json: boolean;
  quiet?: boolean;
  tty?: boolean;
  /** Format event times (virtual clock in simulations: "T+2h"). */
  time?: (at: number) => string;
  out?: NodeJS.WritableStream;
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
  private spinner?: Spinner;
  private out: NodeJS.WritableStream;
  constructor(private o: ReporterOptions) {
    this.out = o.out ?? (o.json ? process.stderr : process.stdout);
  }

  async init(): Promise<void> {
    const tty = this.o.tty ?? Boolean((this.out as NodeJS.WriteStream).isTTY);
    // A terminal that reports no width (some `script`/CI pseudo-TTYs) makes spinners compute
    // an unbounded number of lines to clear: plain lines there.
    const width = (this.out as NodeJS.WriteStream).columns ?? 0;
    if (tty && width > 0 && !this.o.quiet && !process.env.CI) {
      const { default: ora } = await import('ora');
      this.spinner = ora({ stream: this.out as NodeJS.WriteStream, discardStdin: false }) as unknown as Spinner;
    }
  }

  private time(at: number): string {
    return this.o.time ? this.o.time(at) : new Date(at).toISOString().slice(11, 19);
  }

  line(text: string): void {
    if (this.o.quiet) return;
    if (this.held) {
      // Keep the prompt readable: lines printed meanwhile go above it on the next render.
      this.out.write('\n' + redact(text) + '\n');
      return;
    }
    const spinning = this.spinner?.isSpinning;
    if (spinning) this.spinner!.clear();
    this.out.write(redact(text) + '\n');
    if (spinning) this.spinner!.render();
  }

  event(e: RunEvent, s: RunState): void {
    if (e.type === 'notify.sent' || (e.type === 'step.intent' && !process.env.ROLLOUT_VERBOSE)) return;
    const icon = ICON[e.type] ?? '·';
    const color = e.type.startsWith('rollback') || e.type === 'breach.detected' || e.type.endsWith('failed') || e.type === 'run.rolled-back'
      ? style.red
      : e.type === 'run.paused' || e.type === 'approval.requested' || e.type === 'step.blocked' || e.type === 'window.closed'
        ? style.yellow
        : e.type === 'run.completed' || e.type === 'step.applied'
          ? style.green
          : (x: string) => x;
    this.line(`${style.dim(this.time(e.at))} ${color(`${icon} ${safeText(e.msg)}`)}`);
    const output = typeof e.data?.output === 'string' ? e.data.output.trim() : '';
    if (output) for (const l of safeLines(output).slice(-10)) this.line(style.dim(`           │ ${l}`));
    this.status(s);
  }

  status(s: RunState): void {
    if (!this.spinner || this.held) return;
    const text = s.waitingFor ? `${s.status}: ${safeText(s.waitingFor)}` : s.status;
    this.spinner.text = text;
    if (['running', 'rolling-back'].includes(s.status)) {
      if (!this.spinner.isSpinning) this.spinner.start();
    } else if (this.spinner.isSpinning) this.spinner.stop();
  }

  stop(): void {
    if (this.spinner?.isSpinning) this.spinner.stop();
  }

  private held = false;
  /** Pause the spinner while an interactive prompt owns the terminal. */
  hold(): void {
    this.held = true;
    this.stop();
  }
  release(): void {
    this.held = false;
  }
}
