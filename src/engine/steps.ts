/**
 * Where a run is in its plan: small, pure and free of heavy imports, so `status` can label
 * steps without loading the engine (and its calendar library).
 */
import type { Plan } from '../plan/model.js';
import type { RunState } from './types.js';

export function nextStep(plan: Plan, s: Pick<RunState, 'phase' | 'step'>): { phase: number; step: number } | null {
  const p = plan.phases[s.phase];
  if (!p) return null;
  if (s.step + 1 < p.steps.length) return { phase: s.phase, step: s.step + 1 };
  if (s.phase + 1 < plan.phases.length) return { phase: s.phase + 1, step: 0 };
  return null;
}


/** "25%", "rings internal 100% · beta 50%", "set" — for messages and tables. */
export function stepLabel(plan: Plan, phaseIdx: number, stepIdx: number): string {
  const st = plan.phases[phaseIdx]?.steps[stepIdx];
  if (!st) return '-';
  if (st.percent !== undefined) return `${st.percent}%`;
  if (st.rings) return Object.entries(st.rings).map(([r, v]) => `${r} ${v}%`).join(' · ');
  return Object.entries(st.set).map(([f, v]) => `${f}=${v}`).join(' ');
}

