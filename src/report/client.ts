/**
 * The browser side of the report and of `rollout serve`: draws a run (header, flag and check
 * charts with uPlot, approvals, incidents, the decision log) from a ReportModel, and the
 * dashboard from a list of runs. One script for both, so the report file and the live page
 * show the same charts. Kept as a string (inlined into pages; no build step for the browser):
 * plain ES2020, no template literals, text set with textContent only (no HTML from data).
 */
export const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var COLORS = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#ff7f0e'];
  var THRESHOLD = '#d62728';
  var MARK = { step: '#9aa5b1', pause: '#f0a202', resume: '#2ca02c', gate: '#6f42c1', approved: '#6f42c1', promote: '#17becf', breach: '#d62728', rollback: '#d62728', end: '#333333', window: '#f0a202' };
  window.__rolloutCharts = window.__rolloutCharts || {};

  function h(tag, attrs, kids) {
    var el = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') el.textContent = attrs[k];
      else if (k === 'cls') el.className = attrs[k];
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), attrs[k]);
      else el.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c != null) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return el;
  }
  function iso(t) { return t == null ? '-' : new Date(t).toISOString().replace('T', ' ').slice(0, 19) + 'Z'; }
  function dur(ms) {
    if (ms == null || ms < 0) return '-';
    var s = Math.round(ms / 1000), d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? d + 'd ' : '') + (d || hh ? hh + 'h ' : '') + (d || hh || m ? m + 'm ' : '') + (s % 60) + 's';
  }
  function flagText(flags) {
    return Object.keys(flags || {}).map(function (f) { var r = flags[f]; return f + ' ' + (r.enabled ? r.percentage + '%' : 'off'); }).join(', ') || '-';
  }
  function badge(status) { return h('span', { cls: 'badge st-' + status, 'data-status': status, text: status }); }

  // ——— charts ———
  function markersPlugin(model, extra) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, top = u.bbox.top, hgt = u.bbox.height;
          ctx.save();
          (extra && extra.holds || []).forEach(function (sp) {
            var a = u.valToPos(sp[0] / 1000, 'x', true), b = u.valToPos(Math.min(sp[1], model.to || sp[1]) / 1000, 'x', true);
            ctx.fillStyle = 'rgba(31,119,180,0.07)';
            ctx.fillRect(a, top, Math.max(1, b - a), hgt);
          });
          (extra && extra.noData || []).forEach(function (sp) {
            var a = u.valToPos(sp[0] / 1000, 'x', true), b = u.valToPos(sp[1] / 1000, 'x', true);
            ctx.fillStyle = 'rgba(120,120,120,0.15)';
            ctx.fillRect(a, top, Math.max(1, b - a), hgt);
          });
          (model.markers || []).forEach(function (m) {
            if (m.kind === 'step') return;
            var x = Math.round(u.valToPos(m.at / 1000, 'x', true)) + 0.5;
            ctx.strokeStyle = MARK[m.kind] || '#999';
            ctx.lineWidth = m.kind === 'rollback' || m.kind === 'breach' ? 2 : 1;
            ctx.setLineDash(m.kind === 'end' ? [] : [4, 3]);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + hgt); ctx.stroke();
          });
          ctx.restore();
        }],
      },
    };
  }
  function union(lists, from, to) {
    var set = {}; set[from] = 1; set[to] = 1;
    lists.forEach(function (pts) { pts.forEach(function (p) { set[p[0]] = 1; }); });
    return Object.keys(set).map(Number).sort(function (a, b) { return a - b; });
  }
  function carry(xs, pts, idx) {
    var out = [], j = 0, cur = null;
    xs.forEach(function (x) { while (j < pts.length && pts[j][0] <= x) { cur = pts[j][idx]; j++; } out.push(cur); });
    return out;
  }
  function width(el) { return Math.max(320, Math.min(1100, (el.clientWidth || 900) - 8)); }

  function flagChart(el, model) {
    var xs = union(model.flags.map(function (f) { return f.points; }), model.from, model.to);
    var data = [xs.map(function (x) { return x / 1000; })];
    var series = [{}];
    model.flags.forEach(function (f, i) {
      data.push(carry(xs, f.points, 1));
      series.push({ label: f.flag + ' %', stroke: COLORS[i % COLORS.length], width: 2, paths: uPlot.paths.stepped({ align: 1 }) });
    });
    var u = new uPlot({ width: width(el), height: 220, series: series, scales: { y: { range: [0, 100] } }, axes: [{}, { label: '%' }], plugins: [markersPlugin(model, { holds: model.holds || [] })] }, data, el);
    window.__rolloutCharts['flags'] = { series: series.slice(1).map(function (s) { return s.label; }), points: xs.length, uplot: u };
  }

  function checkChart(el, model, c) {
    var xs = union([c.points], model.from, model.to);
    var data = [xs.map(function (x) { return x / 1000; })];
    var series = [{}];
    var step = uPlot.paths.stepped({ align: 1 });
    data.push(carry(xs, c.points, 1));
    series.push({ label: c.name + (c.unit ? ' (' + c.unit + ')' : ''), stroke: COLORS[0], width: 2, paths: step, spanGaps: false });
    var hasBase = c.points.some(function (p) { return p[2] != null; });
    if (hasBase) {
      var base = carry(xs, c.points, 2);
      data.push(base); series.push({ label: 'baseline', stroke: '#7f7f7f', width: 1, paths: step });
      if (c.maxIncrease != null) { data.push(base.map(function (b) { return b == null ? null : b + Math.abs(b) * c.maxIncrease; })); series.push({ label: 'threshold (baseline +' + Math.round(c.maxIncrease * 100) + '%)', stroke: THRESHOLD, dash: [6, 4], width: 2, points: { show: false }, paths: step }); }
      if (c.maxDecrease != null) { data.push(base.map(function (b) { return b == null ? null : b - Math.abs(b) * c.maxDecrease; })); series.push({ label: 'threshold (baseline −' + Math.round(c.maxDecrease * 100) + '%)', stroke: THRESHOLD, dash: [6, 4], width: 2, points: { show: false }, paths: step }); }
    }
    if (c.max != null) { data.push(xs.map(function () { return c.max; })); series.push({ label: 'max ' + c.max + c.unit, stroke: THRESHOLD, dash: [6, 4], width: 2, points: { show: false } }); }
    if (c.min != null) { data.push(xs.map(function () { return c.min; })); series.push({ label: 'min ' + c.min + c.unit, stroke: THRESHOLD, dash: [6, 4], width: 2, points: { show: false } }); }
    var marks = { markers: (model.markers || []).concat(c.breaches.map(function (t) { return { at: t, kind: 'breach' }; })) };
    var u = new uPlot({ width: width(el), height: 200, series: series, axes: [{}, { label: c.unit || '' }], plugins: [markersPlugin(marks, { noData: c.noData })] }, data, el);
    window.__rolloutCharts['check:' + c.name] = { series: series.slice(1).map(function (s) { return s.label; }), points: xs.length, threshold: c.max != null || c.min != null || c.maxIncrease != null || c.maxDecrease != null, uplot: u };
  }

  // ——— a run ———
  function kv(rows) {
    return h('table', { cls: 'kv' }, rows.filter(Boolean).map(function (r) { return h('tr', null, [h('th', { text: r[0] }), h('td', null, [r[1]])]); }));
  }
  function renderRun(root, model, opts) {
    opts = opts || {};
    Object.keys(window.__rolloutCharts).forEach(function (k) { var c = window.__rolloutCharts[k]; if (c.uplot) c.uplot.destroy(); delete window.__rolloutCharts[k]; });
    var r = model.run;
    root.textContent = '';
    root.appendChild(h('h1', null, ['Run ', h('code', { text: r.run }), ' ', badge(r.status)]));
    root.appendChild(kv([
      ['plan', r.plan + (model.description ? ' — ' + model.description : '')],
      ['status', r.status + (r.reason ? ' — ' + r.reason : '')],
      ['phase', r.phase ? r.phase + (r.step ? ' at ' + r.step : ' (not started)') : '-'],
      ['flags', flagText(r.flags)],
      ['next step', r.nextStep ? r.nextStep.phase + ' ' + r.nextStep.step + (r.nextStep.at ? ' at ' + iso(Date.parse(r.nextStep.at)) : '') : '-'],
      ['waiting for', r.waitingFor || '-'],
      r.approval ? ['approval', (r.approval.message || r.approval.key) + (r.approval.approvers ? ' — approvers: ' + r.approval.approvers.join(', ') + ' (' + (r.approval.quorum || r.approval.approvers.length) + ' must sign)' : '') + (r.approval.signed && r.approval.signed.length ? ' — signed: ' + r.approval.signed.map(function (x) { return x.name; }).join(', ') : '') + (r.approval.deadline ? ' — decide by ' + iso(Date.parse(r.approval.deadline)) : '')] : null,
      r.checklist ? ['checklist', r.checklist.items.filter(function (i) { return i.confirmed; }).length + ' of ' + r.checklist.items.length + ' confirmed — ' + r.checklist.items.map(function (i) { return (i.confirmed ? '☑ ' + i.id + ' (' + i.confirmed.name + ')' : '☐ ' + i.id); }).join(' · ')] : null,
      'driver' in r ? ['driven by', r.driver ? 'pid ' + r.driver.pid + ' on ' + r.driver.host : 'no live process'] : null,
      ['started', iso(Date.parse(r.startedAt)) + (r.startedBy ? ' by ' + r.startedBy : '') + (r.finishedAt ? ', finished ' + iso(Date.parse(r.finishedAt)) : '')],
      ['duration', dur((r.finishedAt ? Date.parse(r.finishedAt) : model.to) - Date.parse(r.startedAt))],
      r.rollback ? ['rollback', r.rollback.mode + ', ' + r.rollback.trigger + ': ' + r.rollback.reason + (r.rollback.failures.length ? ' — failures: ' + r.rollback.failures.join('; ') : '')] : null,
    ]));
    if (opts.actions) root.appendChild(opts.actions(model));
    root.appendChild(h('h2', { text: 'Flags' }));
    var fc = h('div', { cls: 'chart', id: 'chart-flags' }); root.appendChild(fc);
    if (model.flags.length) flagChart(fc, model); else fc.textContent = 'no flag written yet';
    root.appendChild(h('h2', { text: 'Checks' }));
    if (!model.checks.length) root.appendChild(h('p', { text: 'this plan has no checks' }));
    model.checks.forEach(function (c) {
      root.appendChild(h('h3', null, [c.name + ' ', c.verdict ? h('span', { cls: 'badge v-' + c.verdict, text: c.verdict }) : null, h('span', { cls: 'dim', text: ' threshold: ' + (c.threshold || '-') + (c.tier ? ' · ' + c.tier : '') + (c.source === 'history' ? ' · ' + c.points.length + ' points from the provider' : ' · values recorded at each verdict change') })]));
      var el = h('div', { cls: 'chart', id: 'chart-check-' + c.name }); root.appendChild(el);
      checkChart(el, model, c);
      var cur = r.checks[c.name];
      if (cur) root.appendChild(h('p', { cls: 'dim', text: 'last: ' + (cur.value == null ? 'no data' : cur.value) + (cur.baseline != null ? ' (baseline ' + cur.baseline + ')' : '') + ' — ' + cur.reason }));
    });
    root.appendChild(h('p', { cls: 'legend dim', text: 'Lines: dashed red = threshold; vertical marks: orange pause, green resume (or a cohort back), purple gate/approval, red breach/rollback (or a cohort rolled back), black end; grey band = no data; light blue band on the flags chart = a hold.' }));
    if (model.approvals.length) {
      root.appendChild(h('h2', { text: 'Gates and approvals' }));
      root.appendChild(h('table', { cls: 'log' }, [h('tr', null, [h('th', { text: 'time' }), h('th', { text: 'gate' }), h('th', { text: 'what' }), h('th', { text: 'by / approvers' })])].concat(model.approvals.map(function (a) {
        return h('tr', null, [h('td', { text: iso(a.at) }), h('td', { text: a.key || '-' }), h('td', { text: a.msg }), h('td', { text: a.by || (a.approvers ? 'approvers: ' + a.approvers.join(', ') : '-') })]);
      }))));
    }
    if (r.pages && r.pages.length) {
      root.appendChild(h('h2', { text: 'Pages (escalation)' }));
      root.appendChild(h('table', { cls: 'log', id: 'pages' }, [h('tr', null, [h('th', { text: '#' }), h('th', { text: 'severity' }), h('th', { text: 'opened' }), h('th', { text: 'paged (in order)' }), h('th', { text: 'now' }), h('th', { text: 'why' })])].concat(r.pages.map(function (p) {
        var state = p.acknowledged ? 'acknowledged by ' + p.acknowledged.by + ' at ' + iso(Date.parse(p.acknowledged.at)) + (p.acknowledged.note ? ': ' + p.acknowledged.note : '') : p.closed ? 'closed: ' + p.closed.why : 'OPEN: paging ' + p.paging.join(', ') + (p.deadline ? ', ack by ' + iso(Date.parse(p.deadline)) : '');
        return h('tr', { cls: p.open ? 'v-breach' : '' }, [h('td', { text: String(p.id) }), h('td', { text: p.severity }), h('td', { text: iso(Date.parse(p.openedAt)) }), h('td', { text: p.paged.map(function (x) { return x.targets.join(' + ') + ' ' + iso(Date.parse(x.at)) + (x.repeat ? ' (again)' : ''); }).join(' → ') }), h('td', { text: state }), h('td', { text: p.reason })]);
      }))));
    }
    (model.checklists || []).forEach(function (c) {
      // The checklist the run waits at: on a live page, each open item has a button that
      // confirms it as the name in the actions bar (the token comes from there too).
      var open = opts.confirm && r.checklist && r.checklist.key === c.key;
      root.appendChild(h('h2', { text: 'Checklist ' + c.key.replace(/^checklist:/, '') + ' — ' + (c.completedAt ? 'complete ' + iso(c.completedAt) : c.items.filter(function (i) { return i.at != null; }).length + ' of ' + c.items.length + ' confirmed') }));
      root.appendChild(h('table', { cls: 'log checklist' }, [h('tr', null, [h('th', { text: '' }), h('th', { text: 'item' }), h('th', { text: 'confirmed by' }), h('th', { text: 'when' }), h('th', { text: 'note' })])].concat(c.items.map(function (i) {
        var mark = open && i.at == null ? h('button', { id: 'confirm-' + i.id, onclick: function () { opts.confirm(r.run, i.id); }, text: 'confirm' }) : (i.at != null ? '☑' : '☐');
        return h('tr', { 'data-item': i.id }, [h('td', null, [mark]), h('td', { text: i.id + ': ' + i.text }), h('td', { text: i.name ? i.name + (i.by ? ' (typed by ' + i.by + ')' : '') : '-' }), h('td', { text: i.at != null ? iso(i.at) : '-' }), h('td', { text: i.note || '' })]);
      }))));
    });
    if (model.cohorts && model.cohorts.length) {
      root.appendChild(h('h2', { text: 'Rolled back for some users (segments / rings)' }));
      root.appendChild(h('table', { cls: 'log', id: 'cohorts' }, [h('tr', null, [h('th', { text: 'cohort' }), h('th', { text: 'rolled back' }), h('th', { text: 'by' }), h('th', { text: 'why' }), h('th', { text: 'back' })])].concat(model.cohorts.map(function (c) {
        return h('tr', { cls: c.restoredAt == null ? 'v-breach' : '' }, [h('td', { text: c.kind + ' ' + c.name }), h('td', { text: iso(c.at) }), h('td', { text: c.check ? 'check ' + c.check : (c.by || '-') }), h('td', { text: c.reason }), h('td', { text: c.restoredAt == null ? 'still rolled back' : iso(c.restoredAt) + (c.restoredBy ? ' by ' + c.restoredBy : '') })]);
      }))));
    }
    if (model.incidents.length) {
      root.appendChild(h('h2', { text: 'Incidents' }));
      model.incidents.forEach(function (i) { root.appendChild(h('pre', { cls: 'incident', text: JSON.stringify(i, null, 2) })); });
    }
    root.appendChild(h('h2', { text: 'Decision log (' + model.log.length + ' events)' }));
    root.appendChild(h('table', { cls: 'log', id: 'log' }, [h('tr', null, [h('th', { text: '#' }), h('th', { text: 'time' }), h('th', { text: 'event' }), h('th', { text: 'what and why' })])].concat(model.log.map(function (e) {
      return h('tr', { cls: 'ev-' + e.type.split('.')[0] }, [h('td', { text: String(e.seq) }), h('td', { text: iso(e.at) }), h('td', { text: e.type }), h('td', null, [e.msg, e.data ? h('details', null, [h('summary', { text: 'inputs' }), h('pre', { text: JSON.stringify(e.data, null, 2) })]) : null])]);
    }))));
    root.appendChild(h('p', { cls: 'dim', text: 'generated ' + model.generatedAt + ' by rollout' }));
    document.title = 'rollout: ' + r.plan + ' — ' + r.status;
    root.setAttribute('data-seq', String(model.log.length ? model.log[model.log.length - 1].seq : 0));
    root.setAttribute('data-status', r.status);
  }

  // ——— the dashboard (rows as src/serve/dashboard.ts renders them) ———
  function runRow(r) {
    return h('tr', { id: 'run-' + r.run, 'data-run': r.run }, [
      h('td', { text: r.plan }),
      h('td', null, [h('a', { href: '/runs/' + encodeURIComponent(r.run), text: r.run })]),
      h('td', null, [badge(r.status)]),
      h('td', { text: r.phase ? r.phase + (r.step ? ' ' + r.step : '') : '-' }),
      h('td', { text: flagText(r.flags) }),
      h('td', { text: r.nextStep ? r.nextStep.step + (r.nextStep.at ? ' at ' + iso(Date.parse(r.nextStep.at)) : '') : '-' }),
      h('td', { text: r.waitingFor || (r.reason || '-') }),
      h('td', { text: r.driver ? 'pid ' + r.driver.pid + ' on ' + r.driver.host : '-' }),
      h('td', { text: iso(Date.parse(r.updatedAt)) }),
    ]);
  }
  function upsertRow(r) {
    var body = document.getElementById('runs');
    var row = runRow(r), old = document.getElementById('run-' + r.run);
    if (old) old.replaceWith(row); else if (body) body.insertBefore(row, body.firstChild); else location.reload();
  }

  // ——— live: server-sent events and actions ———
  function actionsBar(opts) {
    var last = { text: '', http: '' }, kept = null;
    return function (model) {
      // Built once: a redraw on each event must not clear a token being typed or a result shown.
      if (kept) return kept;
      var r = model.run;
      var box = kept = h('div', { cls: 'actions', id: 'actions' });
      if (opts.readOnly) {
        box.appendChild(h('p', { cls: 'readonly', id: 'readonly', text: 'Read-only: this server was started without ROLLOUT_SERVE_TOKEN, so nothing can be changed from here. Use the CLI (rollout pause|approve|rollback …).' }));
        return box;
      }
      var token = h('input', { type: 'password', id: 'token', placeholder: 'ROLLOUT_SERVE_TOKEN', value: sessionStorage.getItem('rollout-token') || '' });
      var by = h('input', { type: 'text', id: 'by', placeholder: 'your name (recorded)', value: sessionStorage.getItem('rollout-by') || '' });
      var out = h('span', { id: 'action-result', cls: 'dim', text: last.text });
      if (last.http) out.setAttribute('data-http', last.http);
      function show(text, http) {
        last.text = text; last.http = http;
        var el = document.getElementById('action-result') || out;
        el.textContent = text; if (http) el.setAttribute('data-http', http); else el.removeAttribute('data-http');
      }
      function act(name, needReason) {
        return function () {
          var body = {};
          if (needReason) { var why = prompt('Reason for ' + name + '?'); if (!why) return; body.reason = why; }
          if (by.value) body.by = by.value;
          sessionStorage.setItem('rollout-token', token.value); sessionStorage.setItem('rollout-by', by.value);
          show(name + '…', '');
          fetch('/api/runs/' + encodeURIComponent(r.run) + '/' + name, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token.value }, body: JSON.stringify(body) })
            .then(function (res) { return res.json().then(function (j) { show(res.status + ' ' + (res.ok ? name + ': ' + (j.status || 'done') : (j.error || 'failed') + (j.hint ? ' — ' + j.hint : '')), String(res.status)); }); })
            .catch(function (e) { show('failed: ' + e, ''); });
        };
      }
      // Checklist items are confirmed from their rows (renderRun), through the same token and name.
      opts.confirmItem = function (run, item) {
        sessionStorage.setItem('rollout-token', token.value); sessionStorage.setItem('rollout-by', by.value);
        show('confirm ' + item + '…', '');
        fetch('/api/runs/' + encodeURIComponent(run) + '/confirm', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token.value }, body: JSON.stringify(by.value ? { items: [item], by: by.value } : { items: [item] }) })
          .then(function (res) { return res.json().then(function (j) { show(res.status + ' ' + (res.ok ? 'confirmed ' + item : (j.error || 'failed') + (j.hint ? ' — ' + j.hint : '')), String(res.status)); }); })
          .catch(function (e) { show('failed: ' + e, ''); });
      };
      [['approve', false], ['reject', true], ['pause', true], ['resume', false], ['promote', false], ['rollback', true], ['ack', false]].forEach(function (a) {
        box.appendChild(h('button', { id: 'btn-' + a[0], onclick: act(a[0], a[1]) , text: a[0] }));
      });
      box.appendChild(token); box.appendChild(by); box.appendChild(out);
      return box;
    };
  }
  function live(onRun) {
    var es = new EventSource('/api/stream');
    es.addEventListener('run', function (ev) { onRun(JSON.parse(ev.data)); });
    es.addEventListener('open', function () { document.body.setAttribute('data-live', 'open'); });
    es.addEventListener('error', function () { document.body.setAttribute('data-live', 'reconnecting'); });
  }

  var boot = JSON.parse(document.getElementById('rollout-data').textContent);
  var root = document.getElementById('root');
  if (boot.page === 'run') {
    var opts = boot.live ? { actions: actionsBar(boot.live) } : {};
    if (boot.live && !boot.live.readOnly) opts.confirm = function (run, item) { if (boot.live.confirmItem) boot.live.confirmItem(run, item); };
    renderRun(root, boot.model, opts);
    if (boot.live) {
      var busy = false, again = false;
      var refresh = function () {
        if (busy) { again = true; return; }
        busy = true;
        fetch('/api/runs/' + encodeURIComponent(boot.model.run.run) + '/report').then(function (r) { return r.json(); }).then(function (m) { renderRun(root, m, opts); })
          .finally(function () { busy = false; if (again) { again = false; refresh(); } });
      };
      live(function (r) { if (r.run === boot.model.run.run) refresh(); });
    }
  } else if (boot.page === 'dashboard') {
    // The table is rendered by the server (painted before this runs); events replace rows.
    if (boot.live) live(upsertRow);
  }
  document.body.setAttribute('data-ready', '1');
})();
`;

export const PAGE_CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;padding:16px 24px;max-width:1140px;color:#1d2228}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #e3e6ea}h3{font-size:14px;margin:18px 0 4px}
code{font-size:90%}.dim{color:#6b7480}.chart{min-height:40px}
table{border-collapse:collapse}td,th{padding:3px 8px;text-align:left;vertical-align:top}
table.kv th{color:#6b7480;font-weight:normal}table.runs,table.log{width:100%}table.runs tr:nth-child(even),table.log tr:nth-child(even){background:#f6f7f9}
table.log td:nth-child(3){white-space:nowrap;color:#3b5b8c}table.log pre{margin:2px 0;font-size:12px;white-space:pre-wrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#e3e6ea}
.st-running{background:#d4edda}.st-completed{background:#cfe2ff}.st-paused,.st-awaiting-approval{background:#fff3cd}.st-rolled-back,.st-rolling-back,.st-rollback-incomplete,.st-aborted,.v-breach{background:#f8d7da}
.v-pass{background:#d4edda}.v-fail{background:#fff3cd}.v-no-data{background:#e3e6ea}
.actions{margin:12px 0;padding:8px;border:1px solid #e3e6ea;border-radius:6px}.actions button{margin-right:6px}.actions input{margin-left:6px}
.readonly{margin:0;color:#8a5a00}.incident{background:#fdf3f4;padding:8px;font-size:12px}
header.top{display:flex;gap:16px;align-items:baseline}header.top a{color:#3b5b8c}
`;
