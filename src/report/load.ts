/** A run as pages show it: state, events, the plan it ran (snapshot, else the plan file) and its driver. */
import type { RunEvent, RunState } from '../engine/types.js';
import type { Plan } from '../plan/model.js';
import type { Store } from '../state/index.js';

export interface RunView {
  state: RunState;
  events: RunEvent[];
  plan?: Plan;
  driver: { pid: number; host: string } | null;
}

/** The plan of a run: the snapshot the store keeps with it, else its plan file if it still loads. */
export async function planFor(store: Store, s: RunState): Promise<Plan | undefined> {
  const snap = await store.readPlan(s.id).catch(() => undefined);
  if (snap) return snap;
  const { loadPlan } = await import('../plan/load.js');
  return loadPlan(s.plan.file, { adapters: false }).then((r) => r.plan, () => undefined);
}

export async function loadRunView(store: Store, id: string, plan?: Plan): Promise<RunView> {
  const state = await store.load(id);
  const [events, p, drv] = await Promise.all([store.events(id), plan ? Promise.resolve(plan) : planFor(store, state), store.driver(id)]);
  return { state, events, plan: p, driver: drv ? { pid: drv.pid, host: drv.host } : null };
}
