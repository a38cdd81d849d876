/**
 * One self-contained HTML page: uPlot (script and styles), the page script and the data are
 * inlined, so a report opens from a mail attachment with no network. `rollout serve` builds its
 * pages with the same function (plus the live boot data), so both draw the same charts.
 *
 * Why uPlot: ~22 KB gzip for the whole library (Chart.js 4 is ~71 KB plus an annotation plugin;
 * ECharts is several hundred KB), canvas line charts that stay fast with thousands of points,
 * and it runs the same in a mailed file and on the live page, where a chart is redrawn on each
 * event. ECharts' server-side SVG would need no browser script for the report, but the live page
 * needs a browser library anyway, and two chart stacks would draw two different charts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CLIENT_JS, PAGE_CSS } from './client.js';
import { reportModel, type ReportInput, type ReportModel } from './model.js';

let assets: { js: string; css: string } | undefined;
function uplot(): { js: string; css: string } {
  if (!assets) {
    const require = createRequire(import.meta.url);
    const dir = require.resolve('uplot/dist/uPlot.iife.min.js').replace(/uPlot\.iife\.min\.js$/, '');
    assets = { js: readFileSync(dir + 'uPlot.iife.min.js', 'utf8'), css: readFileSync(dir + 'uPlot.min.css', 'utf8') };
  }
  return assets;
}

/** JSON safe inside <script>: no "</script>", no "<!--", no U+2028/9 surprises. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export type Boot =
  | { page: 'run'; model: ReportModel; live?: { readOnly: boolean } }
  | { page: 'dashboard'; count: number; live?: { readOnly: boolean } };

/**
 * A full page. `nav` adds the link back to the dashboard, `live` lets the page talk to its
 * server, `body` is server-rendered content (the dashboard: painted before any script runs),
 * `charts: false` leaves the chart library out.
 */
export function page(title: string, boot: Boot, opts: { nav?: boolean; live?: boolean; body?: string; charts?: boolean } = {}): string {
  const { js, css } = uplot();
  const charts = opts.charts !== false;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:;${opts.live ? " connect-src 'self';" : ''}">
<title>${esc(title)}</title>
${charts ? `<style>${css}</style>` : ''}<style>${PAGE_CSS}</style>
</head><body>
${opts.nav ? '<header class="top"><a href="/">← all rollouts</a><span class="dim" id="live-note">live</span></header>' : ''}
<main id="root">${opts.body ?? '<noscript>This report draws its charts with JavaScript; the decision log is in the data below.</noscript>'}</main>
<script type="application/json" id="rollout-data">${scriptJson(boot)}</script>
${charts ? `<script>${js}</script>` : ''}
<script>${CLIENT_JS}</script>
</body></html>
`;
}

/**
 * The report of one run as a self-contained HTML file. Exported for other commands (backtest
 * reports): give it a run's state and events, and the plan when you have it.
 */
export function renderReport(input: ReportInput): string {
  const model = reportModel(input);
  return page(`rollout report: ${model.run.plan} (${model.run.run}) — ${model.run.status}`, { page: 'run', model });
}

export { reportModel, type ReportInput, type ReportModel };
