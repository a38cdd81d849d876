/**
 * Colours without paying for chalk at start-up when nothing is printed in colour: chalk is
 * small, but honouring NO_COLOR / non-TTY is all we need from it, and it loads lazily.
 */
import chalk from 'chalk';

export const style = {
  red: (s: string) => chalk.red(s),
  green: (s: string) => chalk.green(s),
  yellow: (s: string) => chalk.yellow(s),
  dim: (s: string) => chalk.dim(s),
  bold: (s: string) => chalk.bold(s),
  cyan: (s: string) => chalk.cyan(s),
};

export function statusColor(status: string): (s: string) => string {
  switch (status) {
    case 'completed':
      return style.green;
    case 'rolled-back':
    case 'rolling-back':
    case 'rollback-incomplete':
    case 'aborted':
      return style.red;
    case 'paused':
    case 'awaiting-approval':
      return style.yellow;
    default:
      return style.cyan;
  }
}

/** cli-table3 styling: coloured borders and heads only when colour is on. */
export function tableStyle(): { head: string[]; border: string[] } {
  return chalk.level > 0 ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] };
}
