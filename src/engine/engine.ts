/**
 * The engine: pure decisions. Given the plan, the run's state, what was observed and the
 * time, it returns the new state (with any side effects queued in `pending`) and the events
 * that explain each decision. No I/O, no timers, no Date.now(): the runner supplies `now`.
 *
 * This file is the engine's public face; each concern lives in its own file:
 *   create.ts      run creation               schedule.ts   what to read, when to wake, reports
 *   tick.ts        the periodic decision      policy.ts     check verdicts → breach / no-data action
 *   gates.ts       why the run does not advance (approval, hold, blocking checks, windows, requires)
 *   changes.ts     a step → flag changes      outcomes.ts   how a queued action went
 *   controls.ts    human controls             rollback.ts   rollback sequencing, partial rollback
 *   transitions.ts pause / finish / freeze    notice.ts     notify actions and their variables
 *   draft.ts       the copy a decision edits start.ts      a scheduled start, its announcement
 */
export { createRun, type CreateOptions } from './create.js';
export { activeChecks, flagsToRead, nextWake } from './schedule.js';
export { stepChanges } from './changes.js';
export { tick } from './tick.js';
export { blocksStep } from './verdicts.js';
export { complete } from './outcomes.js';
export { control } from './controls.js';
export { rollbackScope } from './rollback.js';
export { nextStep, stepLabel } from './steps.js';
