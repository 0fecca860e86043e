// The inspector page: follows GET /events (server-sent events) and shows the machines' current
// states, the pool's counts over time, the denials and the policy. Plain DOM, no dependency.
// SAFETY: paths, calls and the command line come from the sandboxed program: they are only ever
// set as text (textContent), never as markup; the page's CSP allows no other script anyway.
'use strict';
(() => {
  const token = new URLSearchParams(location.search).get('token') || '';
  const HISTORY_MS = 120_000;
  const MIN_SPAN_MS = 20_000;
  const MAX_DENIALS_SHOWN = 1000;
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (sel) => document.querySelector(sel);

  let programEnded = false;
  let poolNow = null;
  const history = [];

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  /** An XState state value (a string, a nested object, or a list of them) → dot paths of the lit states. */
  function activePaths(value, prefix) {
    if (value === null || value === undefined) return [];
    if (typeof value === 'string') return [prefix + value];
    if (Array.isArray(value)) return value.flatMap((v) => activePaths(v, prefix));
    return Object.entries(value).flatMap(([k, v]) => [prefix + k, ...activePaths(v, `${prefix}${k}.`)]);
  }

  function valueText(value) {
    if (value === null || value === undefined) return 'not started';
    if (Array.isArray(value)) return value.length ? value.join(' · ') : 'none';
    return activePaths(value, '').filter((p, _, all) => !all.some((q) => q.startsWith(`${p}.`))).join(', ');
  }

  function showMachine(name, view) {
    const box = document.querySelector(`section.machine[data-machine="${CSS.escape(name)}"]`);
    if (!box) return;
    const lit = new Set(activePaths(view ? view.value : null, ''));
    for (const node of box.querySelectorAll('[data-state]')) node.classList.toggle('active', lit.has(node.getAttribute('data-state')));
    box.querySelector('.value').textContent = valueText(view ? view.value : null);
    const fields = [];
    const tables = [];
    for (const [k, v] of Object.entries(view || {})) {
      if (k === 'value') continue;
      if (Array.isArray(v)) tables.push([k, v]);
      else if (v !== undefined) fields.push(`${k}=${v}`);
    }
    box.querySelector('.context').textContent = fields.join('  ');
    const holder = box.querySelector('.tables');
    holder.replaceChildren(...tables.map(([k, rows]) => table(k, rows)));
  }

  /** A list of objects (the emulators) as a table, its columns from their keys. */
  function table(name, rows) {
    const t = el('table', name);
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const head = el('tr');
    for (const c of cols) head.append(el('th', '', c));
    t.append(head);
    for (const r of rows) {
      const tr = el('tr');
      for (const c of cols) tr.append(el('td', '', r[c] === undefined ? '' : r[c]));
      t.append(tr);
    }
    return t;
  }

  function showPool(pool, time) {
    if (!pool) return;
    poolNow = pool;
    for (const dd of document.querySelectorAll('#pool-numbers dd')) {
      const v = pool[dd.dataset.field];
      dd.textContent = v === undefined ? '–' : String(v);
    }
    history.push({ t: time || Date.now(), curr: pool.curr, busy: pool.busy, helpers: pool.helpers });
    drawChart();
  }

  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** The pool's counts over the last HISTORY_MS, each line a step function of the samples. */
  function drawChart() {
    const chart = $('#pool-chart');
    const now = Date.now();
    while (history.length > 2 && history[1].t < now - HISTORY_MS) history.shift();
    const W = 600, H = 220, L = 34, R = 8, T = 10, B = 22;
    const top = Math.max(2, (poolNow && poolNow.core + 1) || 2, ...history.map((h) => h.curr));
    // From the first sample (at least MIN_SPAN_MS) up to HISTORY_MS back.
    const span = Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, history.length ? now - history[0].t : 0));
    const x = (t) => L + ((t - (now - span)) / span) * (W - L - R);
    const y = (v) => T + (1 - v / top) * (H - T - B);
    const parts = [];
    const step = Math.max(1, Math.ceil(top / 5));
    for (let v = 0; v <= top; v += step) {
      parts.push(svgEl('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      parts.push(svgEl('text', { class: 'axis', x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
    }
    parts.push(svgEl('text', { class: 'axis', x: L, y: H - 6 }, `−${Math.round(span / 1000)} s`));
    parts.push(svgEl('text', { class: 'axis', x: W - R, y: H - 6, 'text-anchor': 'end' }, programEnded ? 'end' : 'now'));
    if (poolNow) parts.push(svgEl('line', { class: 'core', x1: L, x2: W - R, y1: y(poolNow.core), y2: y(poolNow.core) }));
    for (const key of ['helpers', 'busy', 'curr']) {
      const pts = [];
      history.forEach((h, i) => {
        const xi = Math.max(L, x(h.t));
        if (i > 0) pts.push(`${xi.toFixed(1)},${y(history[i - 1][key]).toFixed(1)}`);
        pts.push(`${xi.toFixed(1)},${y(h[key]).toFixed(1)}`);
      });
      if (history.length) pts.push(`${(programEnded ? x(history[history.length - 1].t) : W - R).toFixed(1)},${y(history[history.length - 1][key]).toFixed(1)}`);
      parts.push(svgEl('polyline', { class: key, points: pts.join(' '), 'data-series': key }));
    }
    chart.replaceChildren(...parts);
  }

  function denialText(d) {
    return [d.cap, d.path ?? d.addr ?? d.target ?? '', d.sys, String(d.pid)].join(' ');
  }

  function matches(li) {
    const f = $('#denial-filter').value.trim().toLowerCase();
    return f === '' || li.dataset.text.toLowerCase().includes(f);
  }

  function addDenials(items, total) {
    const list = $('#denials');
    for (const d of items) {
      const li = el('li', d.audit ? 'audit' : '');
      li.dataset.text = denialText(d);
      li.append(
        el('time', '', new Date(d.time).toISOString().slice(11, 23)),
        el('span', 'cap', d.cap),
        el('span', 'target', d.path ?? d.addr ?? d.target ?? ''),
        el('span', 'sys', d.sys),
        el('span', 'pid', `pid ${d.pid}`),
      );
      li.hidden = !matches(li);
      list.prepend(li);
    }
    while (list.children.length > MAX_DENIALS_SHOWN) list.lastElementChild.remove();
    $('#denial-count').textContent = String(total);
  }

  function showProgram(p) {
    $('#command').textContent = (p.command || []).join(' ');
    const badge = $('#program-status');
    programEnded = p.pid !== null && !p.running;
    badge.className = `badge ${p.running ? 'running' : programEnded ? 'ended' : ''}`;
    if (p.pid === null) badge.textContent = 'waiting for the program';
    else if (p.running) badge.textContent = `running, pid ${p.pid}`;
    else badge.textContent = `ended: exit ${p.exitCode}${p.signal ? ` (${p.signal})` : ''}, pid ${p.pid}`;
    document.body.dataset.program = p.pid === null ? 'waiting' : p.running ? 'running' : 'ended';
  }

  function showState(s) {
    showProgram(s.program);
    for (const section of document.querySelectorAll('section.machine')) showMachine(section.dataset.machine, s.machines[section.dataset.machine]);
    showPool(s.pool, s.time);
    $('#denials').replaceChildren();
    addDenials(s.denials, s.violations);
    $('#policy').replaceChildren(...s.policy.map((r) => el('li', r.split('/')[0], r)));
  }

  function connection(text, cls) {
    const c = $('#connection');
    c.textContent = text;
    c.className = `badge ${cls}`;
    document.body.dataset.connection = cls;
  }

  $('#denial-filter').addEventListener('input', () => {
    for (const li of $('#denials').children) li.hidden = !matches(li);
  });

  const events = new EventSource(`events?token=${encodeURIComponent(token)}`);
  const on = (name, fn) => events.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  events.addEventListener('open', () => connection('live', 'live'));
  on('state', showState);
  on('machine', (e) => showMachine(e.machine, { ...e.context, value: e.value }));
  on('pool', (e) => showPool(e, e.time));
  on('denials', (e) => addDenials(e.items, e.violations));
  on('program', showProgram);
  on('end', () => {
    events.close();
    connection('tsyd has exited: this is the final state', 'closed');
    drawChart();
  });
  events.addEventListener('error', () => {
    if (events.readyState === EventSource.CLOSED) connection('disconnected (reload to retry)', 'closed');
    else connection('reconnecting', 'connecting');
  });
  // The chart moves on with time while the counts stay the same.
  setInterval(() => {
    if (!programEnded) drawChart();
  }, 1000);
})();
