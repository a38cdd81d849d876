/**
 * The dashboard's table, rendered on the server so 1,000 runs paint before any script runs;
 * the page script then replaces single rows as events arrive (runRow in report/client.ts draws
 * the same cells from the same status JSON).
 */
import { esc } from '../report/html.js';
import type { CachedRun } from './runs.js';

const iso = (s: string | null | undefined) => (s ? s.replace('T', ' ').slice(0, 19) + 'Z' : '-');

export function dashboardBody(runs: CachedRun[]): string {
  const head = ['plan', 'run', 'status', 'phase', 'flags', 'next step', 'waiting for / reason', 'driven by', 'updated'];
  if (!runs.length) return `<h1>Rollouts (0)</h1><p>no runs yet: start one with rollout start &lt;plan.yaml&gt;</p>`;
  const rows = runs.map(({ json: r }) => {
    const flags = Object.entries(r.flags).map(([f, v]) => `${f} ${v.enabled ? `${v.percentage}%` : 'off'}`).join(', ') || '-';
    const driver = (r as { driver?: { pid: number; host: string } | null }).driver;
    const cells = [
      esc(r.plan),
      `<a href="/runs/${esc(encodeURIComponent(r.run))}">${esc(r.run)}</a>`,
      `<span class="badge st-${esc(r.status)}" data-status="${esc(r.status)}">${esc(r.status)}</span>`,
      esc(r.phase ? r.phase + (r.step ? ' ' + r.step : '') : '-'),
      esc(flags),
      esc(r.nextStep ? r.nextStep.step + (r.nextStep.at ? ' at ' + iso(r.nextStep.at) : '') : '-'),
      esc(r.waitingFor || r.reason || '-'),
      esc(driver ? `pid ${driver.pid} on ${driver.host}` : '-'),
      esc(iso(r.updatedAt)),
    ];
    return `<tr id="run-${esc(r.run)}" data-run="${esc(r.run)}">${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<h1>Rollouts (${runs.length})</h1><table class="runs"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody id="runs">${rows.join('')}</tbody></table>`;
}
