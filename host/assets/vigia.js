// Vigia dashboard: fills each server-rendered screen shell from the REST API, with the browser
// session's cookie and, on every state-changing call, the page's CSRF token. Elements are built
// with the DOM (never innerHTML), so text from the API is never markup. No build step, no
// framework: one file, read top to bottom — helpers, then one function per screen.
'use strict';
(() => {
  const main = document.getElementById('main');
  const content = document.getElementById('content');
  const notice = document.getElementById('notice');
  if (!main || !content) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const scopes = new Set((main.dataset.scopes || '').split(' ').filter(Boolean));
  // Every scope a tenant's token may hold; `admin` implies them all (auth/scopes.rs), but not the
  // host operator's `plugins:manage`.
  const TENANT_SCOPES = ['read:status', 'write:incidents', 'write:maintenance', 'monitoring:read', 'monitoring:write',
    'settings:read', 'settings:write', 'users:manage', 'audit:read', 'admin'];
  const can = (scope) => scopes.has(scope) || (scope !== 'plugins:manage' && scopes.has('admin'));

  // The wait-class palette (Okabe–Ito, safe for the common colour-vision deficiencies). The same
  // colours are used by every chart; reports use them too (see ARCHITECTURE.md).
  const WAIT_COLOURS = {
    CPU: '#009E73', IO: '#0072B2', Lock: '#D55E00', LWLock: '#CC79A7', Client: '#56B4E9',
    IPC: '#E69F00', BufferPin: '#F0E442', Timeout: '#999999', Extension: '#882255', Activity: '#44AA99',
  };
  const waitColour = (cls) => WAIT_COLOURS[cls] || '#777777';

  // ---- DOM ---------------------------------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else if (k === 'class') el.className = v;
      // Also the defaults, so that a form's reset() goes back to them rather than to empty.
      else if (k === 'value') { if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') el.defaultValue = v; el.value = v; }
      else if (k === 'checked') { el.defaultChecked = !!v; el.checked = !!v; }
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  const badge = (cls, text) => h('span', { class: `badge b-${cls}` }, text);
  let uid = 0;
  const nextId = (stem) => `${stem}-${++uid}`;

  function say(message, kind = 'ok') {
    notice.replaceChildren(h('p', { class: kind, role: kind === 'error' ? 'alert' : null }, message));
  }

  // ---- API ---------------------------------------------------------------------------------
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
    const init = { method, headers, credentials: 'same-origin' };
    if (body instanceof Blob || body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      location.assign(`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`);
      throw new Error('your session ended: sign in again');
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (!response.ok) throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    return data;
  }
  const enc = encodeURIComponent;

  // Runs an action from a button: disabled while it runs, its outcome said in the notice area.
  async function act(button, work, done) {
    button.disabled = true;
    try {
      await work();
      if (done) say(done);
      await reload();
    } catch (e) {
      say(e.message, 'error');
    } finally {
      button.disabled = false;
    }
  }
  let reload = async () => {};

  // ---- Formatting --------------------------------------------------------------------------
  const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }) : '—');
  const num = (v, digits = 2) => (v === null || v === undefined || v === '' ? '—'
    : typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString() : v.toLocaleString(undefined, { maximumFractionDigits: digits })) : String(v));

  // ---- Tables ------------------------------------------------------------------------------
  // columns: [{label, get(row) -> text|Node, sort(row) -> value, num}], sortable by header.
  // `opts.cards`: on a narrow screen each row is a card, every cell labelled with its column
  // (vigia.css), rather than a table wider than the phone.
  function table(columns, rows, opts = {}) {
    if (!rows.length) return h('p', { class: 'empty' }, opts.empty || 'Nothing to show.');
    let order = opts.order || null;
    const tbody = h('tbody');
    const heads = columns.map((c, i) => {
      const th = h('th', { scope: 'col', class: c.num ? 'num' : null });
      if (c.sort) {
        const b = h('button', { class: 'sort', type: 'button', onclick: () => sortBy(i) }, c.label);
        th.append(b);
      } else th.append(c.label);
      return th;
    });
    function sortBy(i) {
      const desc = order && order.i === i ? !order.desc : !!columns[i].num;
      order = { i, desc };
      fill();
    }
    function fill() {
      let list = rows.slice();
      heads.forEach((th) => th.removeAttribute('aria-sort'));
      if (order) {
        const key = columns[order.i].sort;
        list.sort((a, b) => {
          const x = key(a), y = key(b);
          const c = x < y ? -1 : x > y ? 1 : 0;
          return order.desc ? -c : c;
        });
        heads[order.i].setAttribute('aria-sort', order.desc ? 'descending' : 'ascending');
      }
      tbody.replaceChildren(...list.map((row) => h('tr', null,
        columns.map((c) => h('td', { class: c.num ? 'num' : null, 'data-label': opts.cards ? c.label : null }, c.get(row))))));
    }
    fill();
    return h('div', { class: opts.cards ? 'table-wrap cards' : 'table-wrap' }, h('table', { 'aria-label': opts.label || null },
      h('thead', null, h('tr', null, heads)), tbody));
  }

  // The column holding a statement's text: `text` in the workload answers (older names too).
  const QUERY_TEXT = ['text', 'query', 'query_text'];
  const queryText = (r) => r.text || r.query || r.query_text;

  // A workload answer (rows of named cells) as a table with every column (or those of `prefer`),
  // sortable; `cells` maps a column to a function drawing its cell.
  function rowsTable(rows, label, prefer, cells = {}) {
    const names = [];
    for (const r of rows.slice(0, 50)) for (const k of Object.keys(r)) if (!names.includes(k)) names.push(k);
    const cols = (prefer ? prefer.filter((p) => names.includes(p)) : names).map((k) => ({
      label: k.replace(/_/g, ' '),
      num: rows.some((r) => typeof r[k] === 'number'),
      get: (r) => (cells[k] ? cells[k](r) : QUERY_TEXT.includes(k) ? h('div', { class: 'query' }, r[k] ?? '') : num(r[k])),
      sort: (r) => r[k] ?? '',
    }));
    return table(cols, rows, { label });
  }

  // ---- Forms from a JSON Schema ------------------------------------------------------------
  // Renders the schema's top-level properties as fields; returns {node, value()} where value()
  // reads them back as an object of the schema's types. Secret fields are password inputs.
  function schemaForm(schema, current, secretPaths) {
    const props = (schema && schema.properties) || {};
    const required = new Set((schema && schema.required) || []);
    const secrets = new Set((secretPaths || []).filter((p) => p.length === 1).map((p) => p[0]));
    const readers = [];
    // Required fields first, the others in the schema's order.
    const entries = Object.entries(props).sort(([a], [b]) => Number(required.has(b)) - Number(required.has(a)));
    const fields = entries.map(([key, prop]) => {
      const id = nextId(`f-${key}`);
      const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== 'null') : prop.type;
      const have = current && current[key] !== undefined ? current[key] : prop.default;
      const hint = prop.description ? h('span', { class: 'hint' }, ` — ${prop.description}`) : null;
      const label = h('label', { for: id }, prop.title || key, required.has(key) ? ' *' : '', hint);
      let input;
      if (prop.enum) {
        input = h('select', { id }, (required.has(key) ? [] : [h('option', { value: '' }, '—')]),
          prop.enum.map((v) => h('option', { value: String(v), selected: v === have ? true : null }, String(v))));
        readers.push([key, () => (input.value === '' ? undefined : input.value)]);
      } else if (type === 'boolean') {
        input = h('input', { id, type: 'checkbox', checked: !!have });
        readers.push([key, () => input.checked]);
        return h('div', null, input, ' ', label);
      } else if (type === 'integer' || type === 'number') {
        input = h('input', { id, type: 'number', step: type === 'integer' ? '1' : 'any', value: have ?? '' });
        readers.push([key, () => (input.value === '' ? undefined : Number(input.value))]);
      } else if (type === 'array') {
        input = h('input', { id, value: Array.isArray(have) ? have.join(', ') : '', 'aria-describedby': null });
        readers.push([key, () => (input.value.trim() === '' ? undefined : input.value.split(',').map((s) => s.trim()).filter(Boolean))]);
      } else if (type === 'object') {
        input = h('textarea', { id, rows: 3 }, have ? JSON.stringify(have, null, 2) : '');
        readers.push([key, () => (input.value.trim() === '' ? undefined : JSON.parse(input.value))]);
      } else {
        const secret = secrets.has(key) || prop.writeOnly || prop['x-secret'] || prop.format === 'password';
        input = h('input', { id, type: secret ? 'password' : (prop.format === 'uri' ? 'url' : 'text'), value: have ?? '', autocomplete: secret ? 'new-password' : 'off' });
        readers.push([key, () => (input.value === '' ? undefined : input.value)]);
      }
      if (required.has(key)) input.required = true;
      input.name = key;
      return h('div', { class: 'stack-field' }, label, h('div', null, input));
    });
    return {
      node: h('div', { class: 'schema-fields' }, fields.length ? fields : h('p', { class: 'muted' }, 'This plugin takes no settings.')),
      value: () => Object.fromEntries(readers.map(([k, read]) => [k, read()]).filter(([, v]) => v !== undefined)),
    };
  }

  const field = (label, input, hint) => {
    input.id = input.id || nextId('in');
    return h('div', null, h('label', { for: input.id }, label, hint ? h('span', { class: 'hint' }, ` — ${hint}`) : null), h('div', null, input));
  };
  const checks = (legend, values, picked) => {
    const boxes = values.map((v) => h('input', { type: 'checkbox', value: v, checked: picked.includes(v), id: nextId('c') }));
    return {
      node: h('fieldset', null, h('legend', null, legend), boxes.length ? h('div', { class: 'checks' },
        boxes.map((b) => h('label', { for: b.id }, b, ' ', b.value))) : h('p', { class: 'muted' }, 'None to choose from yet.')),
      value: () => boxes.filter((b) => b.checked).map((b) => b.value),
    };
  };

  // ---- Live updates ------------------------------------------------------------------------
  // Subscribes to the event stream and calls `changed` (debounced) on every event, with the set
  // of event types seen since its last call; the browser reconnects by itself and resumes with
  // Last-Event-ID.
  function live(changed, indicator) {
    let timer = null, types = new Set();
    const source = new EventSource('/api/v1/events');
    const fire = () => { const seen = types; types = new Set(); changed(seen); };
    const poke = (e) => { types.add(e.type); clearTimeout(timer); timer = setTimeout(fire, 250); };
    source.onopen = () => { indicator.classList.add('on'); indicator.lastChild.textContent = 'Live'; };
    source.onerror = () => { indicator.classList.remove('on'); indicator.lastChild.textContent = 'Reconnecting…'; };
    source.onmessage = poke;
    // Every `event:` the stream names (EventType in host/src/events.rs): a listener hears only
    // its exact type.
    for (const type of ['alert.opened', 'alert.changed', 'alert.acknowledged', 'alert.unacknowledged', 'alert.resolved',
      'instance.added', 'instance.removed', 'instance.connected', 'instance.disconnected',
      'plugin.loaded', 'plugin.reloaded', 'plugin.failed', 'notification.dead-lettered',
      'incident.created', 'incident.updated', 'incident.resolved',
      'maintenance.started', 'maintenance.completed', 'maintenance.cancelled', 'reload']) {
      source.addEventListener(type, poke);
    }
    window.addEventListener('pagehide', () => source.close());
    return source;
  }

  // ======================================================================= Overview ==========
  async function overview() {
    const filter = h('input', { type: 'search', id: 'tag-filter', placeholder: 'environment=production', value: new URLSearchParams(location.search).get('filter') || '' });
    const indicator = h('span', { class: 'live', id: 'live' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Connecting…');
    const totals = h('div', { class: 'totals', id: 'totals' });
    const tiles = h('ul', { class: 'tiles', id: 'instances', 'aria-label': 'Instances' });
    const side = h('div', { class: 'split' });
    content.replaceChildren(
      h('div', { class: 'toolbar' }, h('label', { for: 'tag-filter' }, 'Filter by tag or name'), filter, indicator),
      totals, h('h2', null, 'Instances'), tiles, side);
    let state = null;
    const seen = new Map(); // instance name -> [active sessions], newest last (this page's memory)
    filter.addEventListener('input', () => {
      const url = new URL(location.href);
      if (filter.value) url.searchParams.set('filter', filter.value); else url.searchParams.delete('filter');
      window.history.replaceState(null, '', url);
      render();
    });
    const matches = (i) => filter.value.split(/[\s,]+/).filter(Boolean).every((term) =>
      `${i.name},${i.pg_instance},${i.tags}`.toLowerCase().split(',').some((t) => t.trim().includes(term.toLowerCase())));

    function render() {
      if (!state) return;
      const t = state.totals;
      const total = (n, label, cls) => h('div', { class: `total ${cls || ''}` }, h('span', { class: 'n' }, num(n)), h('span', { class: 'l' }, label));
      totals.replaceChildren(
        total(t.instances, 'instances'), total(t.connected, 'connected'), total(t.disconnected, 'disconnected'),
        total(t.alerts.critical, 'critical alerts'), total(t.alerts.warning, 'warning alerts'),
        t.failed_plugins !== undefined ? total(t.failed_plugins, 'failed plugins') : null,
        t.services_not_operational !== undefined ? total(t.services_not_operational, 'services not operational') : null);
      const shown = state.instances.filter(matches);
      tiles.replaceChildren(...(shown.length ? shown.map(tile) : [h('li', { class: 'empty' }, state.instances.length ? 'No instance matches the filter.' : 'No instances yet: add one with POST /api/v1/instances/{name}.')]));
      side.replaceChildren(
        state.plugins ? h('section', null, h('h2', null, 'Plugins'), table([
          { label: 'Plugin', get: (p) => p.id, sort: (p) => p.id },
          { label: 'Kind', get: (p) => p.kind || '—' },
          { label: 'Status', get: (p) => badge(p.status, p.status), sort: (p) => p.status },
          { label: 'Calls', num: true, get: (p) => num(p.calls), sort: (p) => p.calls },
          { label: 'Errors', num: true, get: (p) => num(p.errors), sort: (p) => p.errors },
          { label: 'Last error', get: (p) => p.last_error || '—' },
        ], state.plugins, { label: 'Plugins', empty: 'No plugins installed.' })) : null,
        state.services ? h('section', null, h('h2', null, 'Services'), table([
          { label: 'Service', get: (s) => s.name, sort: (s) => s.name },
          { label: 'Status', get: (s) => badge(s.current_status, s.current_status.replace(/_/g, ' ')), sort: (s) => s.current_status },
          { label: 'Visibility', get: (s) => s.visibility },
        ], state.services, { label: 'Services', empty: 'No services defined.' })) : null);
    }

    function tile(i) {
      const alerts = i.open_alerts.critical + i.open_alerts.warning + i.open_alerts.info;
      const down = i.enabled && !i.connected;
      const cls = !i.enabled ? 'off' : down ? 'down' : alerts ? 'alerting' : '';
      const status = !i.enabled ? badge('off', 'disabled') : down ? badge('crit', 'disconnected') : badge('ok', 'connected');
      const series = seen.get(i.name) || [];
      return h('li', { class: `tile ${cls}`, 'data-instance': i.name },
        h('h3', null, h('a', { href: `/instances/${enc(i.name)}` }, i.name), status),
        h('div', { class: 'facts' },
          h('span', { title: i.version || null }, 'PostgreSQL ', h('strong', null, i.version ? i.version.split(' ')[0] : '—')),
          h('span', null, 'active ', h('strong', { class: 'active-now' }, i.active_sessions ?? '—')),
          h('span', null, 'alerts ', h('strong', null, alerts ? `${i.open_alerts.critical} crit · ${i.open_alerts.warning} warn` : 'none')),
          i.paused ? badge('info', i.paused_until ? `paused until ${when(i.paused_until)}` : 'paused') : null),
        sparkline(series, `Active sessions of ${i.name}, the last hour`),
        i.last_error && down ? h('div', { class: 'err' }, i.last_error) : null,
        i.tags ? h('div', { class: 'tags' }, i.tags) : null);
    }

    let drawn = '';
    async function refresh() {
      state = await api('GET', '/api/v1/state');
      // A poll answered 304 hands back the same snapshot: redrawing 1,000 tiles for it would block
      // the page for nothing (the sparklines only move when a count does).
      const text = JSON.stringify(state);
      if (text === drawn) return;
      drawn = text;
      for (const i of state.instances) {
        const series = seen.get(i.name) || [];
        series.push(i.active_sessions ?? null); // null: not sampled (down, or off), drawn as nothing
        if (series.length > 720) series.shift();
        seen.set(i.name, series);
      }
      render();
    }
    reload = refresh;
    await refresh();
    if (await seedSparklines(state, seen).catch(() => false)) render();
    live(() => refresh().catch((e) => say(e.message, 'error')), indicator);
    // Active sessions change without events: the snapshot is polled too (a 304 when unchanged).
    setInterval(() => { if (!document.hidden) refresh().catch(() => {}); }, 5000);
  }

  // The last hour of active sessions per instance, one point a minute, from the ASH rollups.
  async function seedSparklines(state, history) {
    if (!state.instances.length || state.instances.length > 200) return false;
    const to = new Date(), from = new Date(to - 3600e3);
    const rows = await api('GET', `/api/v1/activity/session-history?compute=wait-events&bucket=60&from=${enc(from.toISOString())}&to=${enc(to.toISOString())}`);
    const byInstance = new Map();
    for (const r of rows) {
      const name = String(r.pg_instance || '').split('@').slice(1).join('@');
      const buckets = byInstance.get(name) || new Map();
      buckets.set(r.time, (buckets.get(r.time) || 0) + (r.active_sessions || 0));
      byInstance.set(name, buckets);
    }
    for (const [name, buckets] of byInstance) {
      const past = [...buckets.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
      history.set(name, past.concat(history.get(name) || []));
    }
    return byInstance.size > 0;
  }

  function sparkline(values, label) {
    const w = 240, hgt = 28;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const known = values.filter((v) => v !== null && v !== undefined);
    const last = values.length ? values[values.length - 1] : null;
    svg.setAttribute('aria-label', `${label}: ${known.length ? `now ${num(last)}, peak ${num(Math.max(...known))}` : 'no samples yet'}`);
    if (known.length > 1) {
      const max = Math.max(1, ...known);
      const pts = known.map((v, i) => `${(i / (known.length - 1)) * w},${hgt - 1 - (v / max) * (hgt - 2)}`).join(' ');
      const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      line.setAttribute('points', pts);
      line.setAttribute('fill', 'none');
      line.setAttribute('stroke', WAIT_COLOURS.CPU);
      line.setAttribute('stroke-width', '1.5');
      line.setAttribute('vector-effect', 'non-scaling-stroke');
      svg.append(line);
    }
    return svg;
  }

  // ======================================================================= Instance ==========
  const RANGES = [['15m', 900], ['1h', 3600], ['6h', 6 * 3600], ['24h', 86400], ['7d', 7 * 86400]];

  async function instance() {
    const name = main.dataset.subject;
    const filters = `name=${name}`;
    let info;
    try {
      info = await api('GET', `/api/v1/instances/${enc(name)}`);
    } catch (e) {
      content.replaceChildren(h('p', { class: 'error' }, e.message));
      return;
    }
    let range = 3600, zoom = null, timer = null, chart = null;
    const buttons = RANGES.map(([label, secs]) => h('button', { type: 'button', 'aria-pressed': String(secs === range), onclick: (e) => { range = secs; zoom = null; buttons.forEach((b) => b.setAttribute('aria-pressed', String(b === e.currentTarget))); draw().catch((err) => say(err.message, 'error')); } }, label));
    const chartBox = h('div', { class: 'chart', id: 'ash-chart', role: 'img', 'aria-label': 'Active sessions by wait class' });
    const windowLabel = h('span', { class: 'muted', id: 'window' });
    const waits = h('div', { id: 'top-waits' });
    const queries = h('div', { id: 'top-queries' });
    const queryDetail = h('div', { id: 'query-detail' });
    const extra = h('div', { id: 'instance-details' });
    const pause = can('settings:write') ? h('button', { type: 'button', id: 'pause', onclick: (e) => act(e.currentTarget, () => api('PATCH', `/api/v1/instances/${enc(name)}/alerting/${info.paused ? 'resume' : 'pause'}`), info.paused ? 'Alerting resumed.' : 'Alerting paused until resumed.') }, 'Pause alerting') : null;
    content.replaceChildren(
      h('dl', { class: 'facts', id: 'instance-facts' }),
      h('div', { class: 'toolbar' }, h('span', { role: 'group', 'aria-label': 'Time range', class: 'row' }, buttons), windowLabel,
        h('span', { class: 'muted' }, 'Drag across the chart to zoom; double-click to zoom out.'), pause),
      h('h2', null, 'Active sessions by wait class'), chartBox,
      h('div', { class: 'split' }, h('section', null, h('h2', null, 'Top wait events'), waits), h('section', null, h('h2', null, 'Top queries'), queries)),
      queryDetail, extra);

    // The instance's settings and, from the snapshot narrowed to it, what it is doing now (its
    // version, active sessions, pause); `known`: settings just read.
    async function facts(known) {
      const [settings, state] = await Promise.all([known || api('GET', `/api/v1/instances/${enc(name)}`),
        api('GET', `/api/v1/state?instance=${enc(name)}`)]);
      info = settings;
      const mine = state.instances[0] || {};
      info.paused = !!mine.paused;
      if (pause) pause.textContent = info.paused ? 'Resume alerting' : 'Pause alerting';
      const dl = document.getElementById('instance-facts');
      const pair = (k, v) => [h('dt', null, k), h('dd', null, v)];
      dl.replaceChildren(...pair('Server', `${info.host}:${info.port}`),
        ...pair('Status', info.enabled ? (info.connected ? badge('ok', 'connected') : badge('crit', 'disconnected')) : badge('off', 'disabled')),
        ...pair('PostgreSQL', mine.version || '—'), ...pair('Active sessions now', mine.active_sessions ?? '—'),
        ...pair('Collection rate', info.collection_rate), ...pair('Tags', info.tags || '—'),
        info.last_error ? pair('Last error', info.last_error) : [],
        ...pair('Alerting', info.paused ? badge('info', mine.paused_until ? `paused until ${when(mine.paused_until)}` : 'paused') : 'on'));
    }

    function bounds() {
      if (zoom) return zoom;
      const to = Date.now();
      return { from: to - range * 1000, to };
    }
    const q = (b, more = '') => `from=${enc(new Date(b.from).toISOString())}&to=${enc(new Date(b.to).toISOString())}&filters=${enc(filters)}${more}`;

    async function draw() {
      const b = bounds();
      const at = (ms) => { const iso = new Date(ms).toISOString(); return h('time', { datetime: iso }, when(iso)); };
      windowLabel.replaceChildren(at(b.from), ' – ', at(b.to));
      const bucket = Math.max(1, Math.round((b.to - b.from) / 1000 / 300));
      const wholeMinute = bucket >= 60 ? Math.round(bucket / 60) * 60 : bucket;
      const rows = await api('GET', `/api/v1/activity/session-history?compute=wait-events&bucket=${wholeMinute}&${q(b)}`);
      plot(rows, b, wholeMinute);
      topWaits(rows);
      topQueries(b).catch((e) => queries.replaceChildren(h('p', { class: 'error' }, e.message)));
      clearTimeout(timer);
      // The live edge: the last hour moves every second (fresh ASH makes a sample readable
      // within two seconds); longer ranges every half minute.
      if (!zoom) timer = setTimeout(() => { if (!document.hidden) draw().catch(() => {}); else timer = setTimeout(draw, 2000); }, range <= 3600 ? 1000 : 30000);
    }

    // The chart's wait classes (a new set needs a new chart) and the values its legend shows.
    const shown = { key: null, ink: null, raw: [] };
    function plot(rows, b, bucket) {
      const classes = [...new Set(rows.map((r) => r.wait_event_type || 'CPU'))].sort((x, y) => (x === 'CPU' ? -1 : y === 'CPU' ? 1 : x.localeCompare(y)));
      // Every bucket of the window, so gaps read as zero rather than as a line across them, up to
      // the last complete one: the bucket still filling (a sample is readable about 2 s after it
      // was taken) would read as a drop to zero at the live edge.
      const start = Math.floor(b.from / 1000 / bucket) * bucket;
      const end = Math.min(b.to, Date.now() - 2000) / 1000;
      const xs = [start];
      for (let t = start + bucket; t + bucket <= end; t += bucket) xs.push(t);
      const index = new Map(xs.map((t, i) => [t, i]));
      const raw = classes.map(() => new Array(xs.length).fill(0));
      for (const r of rows) {
        const t = Math.floor(Date.parse(r.time) / 1000 / bucket) * bucket;
        const i = index.get(t);
        if (i === undefined) continue;
        raw[classes.indexOf(r.wait_event_type || 'CPU')][i] += r.active_sessions || 0;
      }
      const stacked = [];
      raw.forEach((series, c) => stacked.push(series.map((v, i) => v + (c ? stacked[c - 1][i] : 0))));
      const width = Math.max(280, chartBox.clientWidth - 16);
      // Axis text, ticks and grid in the page's colours, light or dark (uPlot's defaults are
      // black on transparent: unreadable on a dark page).
      const css = getComputedStyle(document.documentElement);
      const ink = css.getPropertyValue('--text').trim(), rule = css.getPropertyValue('--grid').trim();
      const axis = (more) => ({ stroke: ink, grid: { stroke: rule, width: 1 }, ticks: { stroke: rule, width: 1 }, ...more });
      const opts = {
        width, height: 280,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [axis({}), axis({ label: 'active sessions' })],
        series: [{ label: 'time' }].concat(classes.map((cls, c) => ({
          label: cls, stroke: waitColour(cls), fill: waitColour(cls) + 'cc', width: 1, points: { show: false },
          value: (u, v, si, i) => (i === null || i === undefined ? '—' : num(shown.raw[c][i])),
        }))),
        cursor: { drag: { x: true, y: false } },
        hooks: { setSelect: [(u) => {
          if (u.select.width < 5) return;
          const from = u.posToVal(u.select.left, 'x') * 1000, to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
          zoom = { from, to };
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          buttons.forEach((btn) => btn.setAttribute('aria-pressed', 'false'));
          draw().catch((e) => say(e.message, 'error'));
        }] },
      };
      // Drawn back to front: each class's band is the sum of those before it.
      const data = [xs].concat(stacked);
      const order = classes.map((_, c) => c).reverse();
      opts.series = [opts.series[0]].concat(order.map((c) => opts.series[c + 1]));
      const ordered = [xs].concat(order.map((c) => data[c + 1]));
      shown.raw = raw;
      chartBox.setAttribute('aria-label', `Active sessions by wait class, ${classes.length ? classes.join(', ') : 'no samples'} in the window`);
      // The same classes: the chart takes the new data in place, so a drag to zoom survives the
      // live edge's refresh every second (a new chart would drop it).
      if (chart && shown.key === classes.join(' ') && shown.ink === ink) {
        chart.setData(ordered);
        return;
      }
      if (chart) chart.destroy();
      chartBox.replaceChildren();
      chart = new uPlot(opts, ordered, chartBox);
      shown.key = classes.join(' ');
      shown.ink = ink;
      chart.over.addEventListener('dblclick', () => { zoom = null; draw().catch(() => {}); });
    }

    function topWaits(rows) {
      const sums = new Map();
      let total = 0;
      const buckets = new Set(rows.map((r) => r.time)).size || 1;
      for (const r of rows) {
        const key = `${r.wait_event_type || 'CPU'}\u0000${r.wait_event || 'CPU'}`;
        sums.set(key, (sums.get(key) || 0) + (r.active_sessions || 0));
        total += r.active_sessions || 0;
      }
      const list = [...sums.entries()].map(([k, v]) => {
        const [cls, ev] = k.split('\u0000');
        return { cls, ev, avg: v / buckets, share: total ? (100 * v) / total : 0 };
      }).sort((a, b) => b.avg - a.avg).slice(0, 15);
      waits.replaceChildren(table([
        { label: 'Class', get: (w) => [h('span', { class: 'swatch', style: null, 'data-colour': waitColour(w.cls) }), w.cls], sort: (w) => w.cls },
        { label: 'Wait event', get: (w) => w.ev, sort: (w) => w.ev },
        { label: 'Avg active', num: true, get: (w) => num(w.avg), sort: (w) => w.avg },
        { label: '% of DB time', num: true, get: (w) => `${num(w.share, 1)} %`, sort: (w) => w.share },
      ], list, { label: 'Top wait events', empty: 'No active sessions in this window.' }));
      waits.querySelectorAll('.swatch').forEach((s) => { s.style.background = s.dataset.colour; });
    }

    async function topQueries(b) {
      const rows = await api('GET', `/api/v1/activity/top-queries?limit=20&${q(b)}`);
      const cols = ['text', 'calls', 'total_time', 'rows', 'database', 'user'];
      // The text (its first lines) opens the statement's detail, named by its id; a cell drawn by
      // the table, so sorting keeps it.
      const open = (r) => {
        const shown = h('div', { class: 'query' }, queryText(r) || r.query_md5_id || r.queryid || '');
        return r.query_md5_id
          ? h('button', { type: 'button', class: 'link', title: `Query ${r.query_md5_id}`, onclick: () => showQuery(r.query_md5_id, b) }, shown)
          : shown;
      };
      queries.replaceChildren(csvLink('top-queries', q(b, '&limit=20')), rowsTable(rows, 'Top queries', cols, { text: open }));
    }

    async function showQuery(id, b) {
      const rows = await api('GET', `/api/v1/activity/query?query_md5_id=${enc(id)}&${q(b)}`);
      const text = rows.map(queryText).find(Boolean);
      queryDetail.replaceChildren(h('h2', { tabindex: '-1', id: 'query-heading' }, `Query ${id}`),
        h('pre', { class: 'sql' }, text || '(text not captured)'),
        csvLink('query', q(b, `&query_md5_id=${enc(id)}`)), rowsTable(rows.map((r) => { const c = { ...r }; for (const k of QUERY_TEXT) delete c[k]; return c; }), `Query ${id} over time`));
      document.getElementById('query-heading').focus();
    }

    async function details() {
      const b = { from: Date.now() - 3600e3, to: Date.now() };
      const part = async (title, endpoint, more) => {
        try {
          const rows = await api('GET', `/api/v1/activity/${endpoint}?${q(b, more || '')}`);
          return h('section', null, h('h2', null, title), csvLink(endpoint, q(b, more || '')), rowsTable(rows.slice(0, 50), title));
        } catch (e) {
          return h('section', null, h('h2', null, title), h('p', { class: 'muted' }, e.message));
        }
      };
      const parts = await Promise.all([
        part('Current lock tree', 'locks'), part('Tables', 'tables', '&limit=20'), part('Indexes', 'indexes', '&limit=20'),
        part('Inventory and settings', 'pg-instance-infos')]);
      extra.replaceChildren(...parts);
    }

    reload = async () => { await facts(); };
    await facts(info);
    await draw().catch((e) => chartBox.replaceChildren(h('p', { class: 'error' }, e.message)));
    details().catch(() => {});
    window.addEventListener('resize', () => chart && chart.setSize({ width: Math.max(280, chartBox.clientWidth - 16), height: 280 }));
    // The OS turning dark or light: the chart is drawn again in the new colours.
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => draw().catch(() => {}));
  }

  const csvLink = (endpoint, query) => h('p', { class: 'csv' }, h('a', { href: `/api/v1/activity/${endpoint}?output=csv&${query}`, download: `${endpoint}.csv` }, 'Download CSV'));

  // ======================================================================= Alerts ============
  async function alerts() {
    const writer = can('settings:write');
    const active = h('div', { id: 'active-alerts' });
    const hist = h('div', { id: 'alert-history' });
    const rules = h('div', { id: 'alert-rules' });
    const pauses = h('div', { id: 'pauses' });
    content.replaceChildren(h('section', null, h('h2', null, 'Active'), active), h('section', null, h('h2', null, 'Rules'), rules),
      writer ? h('section', null, h('h2', null, 'Pause an instance'), pauses) : null, h('section', null, h('h2', null, 'History'), hist));
    const alertCols = (withActions) => [
      { label: 'Severity', get: (a) => badge(a.severity, a.severity), sort: (a) => ({ critical: 3, warning: 2, info: 1 })[a.severity] },
      { label: 'State', get: (a) => badge(a.state, a.state), sort: (a) => a.state },
      { label: 'Rule', get: (a) => a.rule, sort: (a) => a.rule },
      { label: 'Instance', get: (a) => a.resource, sort: (a) => a.resource },
      { label: 'Summary', get: (a) => a.summary },
      { label: 'Started', get: (a) => when(a.started_at), sort: (a) => a.started_at },
      withActions && writer ? { label: 'Actions', get: (a) => h('span', { class: 'row' },
        a.state === 'acknowledged'
          ? h('button', { type: 'button', onclick: (e) => act(e.currentTarget, () => api('POST', `/api/v1/alerts/${a.id}/unacknowledge`), `Alert ${a.id} unacknowledged.`) }, 'Unacknowledge')
          : h('button', { type: 'button', 'data-action': 'acknowledge', onclick: (e) => act(e.currentTarget, () => api('POST', `/api/v1/alerts/${a.id}/acknowledge`), `Alert ${a.id} acknowledged.`) }, 'Acknowledge'),
        h('button', { type: 'button', class: 'danger', onclick: (e) => act(e.currentTarget, () => api('POST', `/api/v1/alerts/${a.id}/clear`), `Alert ${a.id} cleared.`) }, 'Clear')) } : null,
    ].filter(Boolean);

    // The pause form's instances (names, paused or not), for writers only: read from the snapshot
    // when the screen opens, after an action, and when instances or maintenance change; not on
    // the alert events, most of the stream (`types`: those that called, none after an action).
    let instances = null;
    async function refresh(types) {
      const reread = writer && (!instances || !types || [...types].some((t) => /^(instance|maintenance)\.|^reload$/.test(t)));
      const [open, past, ruleList, templates, state] = await Promise.all([
        api('GET', '/api/v1/alerts/active'), api('GET', '/api/v1/alerts/history?limit=50'),
        api('GET', '/api/v1/alerts/rules'), api('GET', '/api/v1/alerts/templates'), reread ? api('GET', '/api/v1/state') : null]);
      if (state) instances = state.instances.map((i) => ({ name: i.name, paused: i.paused }));
      active.replaceChildren(table(alertCols(true), open, { label: 'Active alerts', empty: 'No active alert. All quiet.', cards: true }));
      hist.replaceChildren(table(alertCols(false), past, { label: 'Alert history', empty: 'No alert yet.', cards: true }));
      rules.replaceChildren(ruleTable(ruleList), writer ? ruleForm(templates) : null);
      if (reread) pauses.replaceChildren(pauseForm(instances));
    }
    const level = (l) => (l ? `${num(l.trigger)} (clears ${num(l.clear)})` : '—');
    function ruleTable(list) {
      return table([
        { label: 'Rule', get: (r) => r.name, sort: (r) => r.name },
        { label: 'Metric', get: (r) => h('code', null, r.metric), sort: (r) => r.metric },
        { label: 'Bad when', get: (r) => r.direction },
        { label: 'Warning', get: (r) => level(r.warning) },
        { label: 'Critical', get: (r) => level(r.critical) },
        { label: 'Instance', get: (r) => r.instance || 'all' },
        { label: 'Enabled', get: (r) => (r.enabled ? 'yes' : 'no') },
        writer ? { label: 'Actions', get: (r) => h('span', { class: 'row' },
          h('button', { type: 'button', onclick: () => editRule(r) }, 'Edit'),
          h('button', { type: 'button', class: 'danger', onclick: (e) => act(e.currentTarget, () => api('DELETE', `/api/v1/alerts/rules/${r.id}`), `Rule ${r.name} deleted.`) }, 'Delete')) } : null,
      ].filter(Boolean), list, { label: 'Alert rules', empty: 'No rules: create one from a template below.', cards: true });
    }
    function levelInputs(prefix, l) {
      const trig = h('input', { type: 'number', step: 'any', value: l ? l.trigger : '', id: nextId(prefix) });
      const clear = h('input', { type: 'number', step: 'any', value: l ? l.clear : '', id: nextId(prefix) });
      return { node: h('div', { class: 'row' }, field(`${prefix} trigger`, trig), field(`${prefix} clear`, clear)),
        value: () => (trig.value === '' ? undefined : { trigger: Number(trig.value), clear: Number(clear.value === '' ? trig.value : clear.value) }) };
    }
    function ruleForm(templates) {
      const tpl = h('select', { id: 'rule-template' }, templates.map((t) => h('option', { value: t.name }, `${t.name} — ${t.description}`)));
      const name = h('input', { id: 'rule-name', required: true });
      const inst = h('input', { id: 'rule-instance', placeholder: 'all instances' });
      const warn = levelInputs('Warning'), crit = levelInputs('Critical');
      const form = h('form', { class: 'stack', id: 'rule-form' }, h('h3', null, 'New rule from a template'),
        field('Template', tpl), field('Name', name), field('Instance', inst, 'connection name; empty for all'),
        h('p', { class: 'hint' }, 'Leave thresholds empty to keep the template\u2019s.'), warn.node, crit.node,
        h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Create rule')));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const body = { template: tpl.value, name: name.value, instance: inst.value || undefined, warning: warn.value(), critical: crit.value() };
        act(e.submitter || form.querySelector('button'), () => api('POST', '/api/v1/alerts/rules', body), `Rule ${name.value} created.`);
      });
      return form;
    }
    function editRule(r) {
      const warn = levelInputs('Warning', r.warning), crit = levelInputs('Critical', r.critical);
      const occ = h('input', { type: 'number', min: '0', step: '1', value: r.occurrences });
      const enabled = h('input', { type: 'checkbox', checked: r.enabled, id: nextId('en') });
      const overrides = h('textarea', { id: 'rule-overrides', rows: 4, class: 'mono' }, JSON.stringify(r.overrides || {}, null, 2));
      const form = h('form', { class: 'stack', id: 'rule-edit' }, h('h3', { tabindex: '-1' }, `Edit ${r.name}`), warn.node, crit.node,
        field('Occurrences before firing', occ), h('div', null, enabled, ' ', h('label', { for: enabled.id }, 'Enabled')),
        field('Per-instance overrides', overrides, 'JSON: {"instance": -1} turns the rule off there; {"instance": {"warning": {"trigger": 90, "clear": 80}}} changes its levels'),
        h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Save'), h('button', { type: 'button', onclick: () => form.remove() }, 'Cancel')));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        let parsed;
        try { parsed = JSON.parse(overrides.value.trim() || '{}'); } catch (err) { say(`overrides are not JSON: ${err.message}`, 'error'); return; }
        const body = { name: r.name, metric: r.metric, direction: r.direction, instance: r.instance, tags: r.tags, overrides: parsed,
          warning: warn.value() || null, critical: crit.value() || null, occurrences: Number(occ.value), enabled: enabled.checked };
        act(e.submitter, () => api('PUT', `/api/v1/alerts/rules/${r.id}`, body), `Rule ${r.name} saved.`);
      });
      document.getElementById('rule-edit')?.remove();
      rules.prepend(form);
      form.querySelector('h3').focus();
    }
    function pauseForm(instances) {
      const inst = h('select', { id: 'pause-instance' }, instances.map((i) => h('option', { value: i.name }, `${i.name}${i.paused ? ' (paused)' : ''}`)));
      const until = h('input', { type: 'datetime-local', id: 'pause-until' });
      const form = h('form', { class: 'stack' }, field('Instance', inst), field('Until', until, 'empty: until resumed'),
        h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Pause notifications'),
          h('button', { type: 'button', onclick: (e) => act(e.currentTarget, () => api('PATCH', `/api/v1/instances/${enc(inst.value)}/alerting/resume`), `${inst.value} resumed.`) }, 'Resume')));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const body = until.value ? { until: new Date(until.value).toISOString() } : undefined;
        act(e.submitter, () => api('PATCH', `/api/v1/instances/${enc(inst.value)}/alerting/pause`, body), `${inst.value} paused.`);
      });
      return instances.length ? form : h('p', { class: 'empty' }, 'No instances.');
    }
    reload = refresh;
    await refresh();
    live((types) => refresh(types).catch(() => {}), h('span', null, h('span'), ''));
  }

  // ======================================================================= Notifications =====
  async function notifications() {
    const writer = can('settings:write');
    const channels = h('div', { id: 'channels' });
    const create = h('div', { id: 'channel-create' });
    const hist = h('div', { id: 'deliveries' });
    const dlq = h('div', { id: 'dlq' });
    content.replaceChildren(h('section', null, h('h2', null, 'Channels'), channels, create),
      h('section', null, h('h2', null, 'Dead-letter queue'), dlq), h('section', null, h('h2', null, 'Recent deliveries'), hist));
    const deliveryCols = (dead) => [
      { label: 'Id', num: true, get: (d) => d.id, sort: (d) => d.id },
      { label: 'Channel', num: true, get: (d) => d.channel_id, sort: (d) => d.channel_id },
      { label: 'State', get: (d) => badge(d.state, d.state), sort: (d) => d.state },
      { label: 'Alert', get: (d) => (Array.isArray(d.alert) ? `${d.alert.length} alerts` : (d.alert && (d.alert.summary || d.alert.rule)) || '—') },
      { label: 'Attempts', num: true, get: (d) => d.attempts, sort: (d) => d.attempts },
      { label: 'Last error', get: (d) => d.last_error || '—' },
      { label: dead ? 'Created' : 'Delivered', get: (d) => when(dead ? d.created_at : d.delivered_at), sort: (d) => d.created_at },
      dead && writer ? { label: 'Actions', get: (d) => h('span', { class: 'row' },
        h('button', { type: 'button', onclick: (e) => act(e.currentTarget, () => api('POST', '/api/v1/notifications/dlq/retry', { ids: [d.id] }), `Delivery ${d.id} queued again.`) }, 'Retry'),
        h('button', { type: 'button', class: 'danger', onclick: (e) => act(e.currentTarget, () => api('POST', '/api/v1/notifications/dlq/delete', { ids: [d.id] }), `Delivery ${d.id} deleted.`) }, 'Delete')) } : null,
    ].filter(Boolean);

    async function refresh() {
      const [list, past, dead] = await Promise.all([api('GET', '/api/v1/notifications/channels'),
        api('GET', '/api/v1/notifications/history?limit=50'), api('GET', '/api/v1/notifications/dlq?limit=100')]);
      const rows = Array.isArray(list) ? list : list.channels || [];
      channels.replaceChildren(table([
        { label: 'Channel', get: (c) => c.name, sort: (c) => c.name },
        { label: 'Plugin', get: (c) => c.plugin, sort: (c) => c.plugin },
        { label: 'Carries', get: (c) => (c.events || []).join(', ') },
        { label: 'Severities', get: (c) => (c.severities || []).join(', ') || 'all' },
        { label: 'Enabled', get: (c) => (c.enabled ? 'yes' : 'no') },
        writer ? { label: 'Actions', get: (c) => h('span', { class: 'row' },
          h('button', { type: 'button', onclick: (e) => act(e.currentTarget, () => api('POST', `/api/v1/notifications/channels/${c.id}/test`), `Test notification sent through ${c.name}.`) }, 'Send test'),
          h('button', { type: 'button', class: 'danger', onclick: (e) => act(e.currentTarget, () => api('DELETE', `/api/v1/notifications/channels/${c.id}`), `Channel ${c.name} deleted.`) }, 'Delete')) } : null,
      ].filter(Boolean), rows, { label: 'Channels', empty: 'No channel: alerts are recorded but nobody is told.' }));
      dlq.replaceChildren(dead.length && writer ? h('div', { class: 'row' },
        h('button', { type: 'button', onclick: (e) => act(e.currentTarget, () => api('POST', '/api/v1/notifications/dlq/retry', {}), 'Every dead delivery queued again.') }, 'Retry all')) : '',
      table(deliveryCols(true), dead, { label: 'Dead-letter queue', empty: 'Nothing dead: every notification was delivered or is being retried.' }));
      hist.replaceChildren(table(deliveryCols(false), past, { label: 'Recent deliveries', empty: 'No notification sent yet.' }));
    }
    async function channelForm() {
      let plugins = [];
      try { plugins = (await api('GET', '/api/v1/plugins')).plugins.filter((p) => p.kind === 'notifier' && p.status === 'loaded'); } catch (_) { /* no plugin runtime */ }
      if (!plugins.length) return create.replaceChildren(h('p', { class: 'muted' }, 'No notifier plugin is loaded: the operator installs them.'));
      const plugin = h('select', { id: 'channel-plugin' }, plugins.map((p) => h('option', { value: p.id }, `${p.id}${p.description ? ` — ${p.description}` : ''}`)));
      const name = h('input', { id: 'channel-name', required: true });
      const events = checks('Carries', ['alerts', 'incidents', 'maintenance'], ['alerts']);
      const sev = checks('Severities (alerts)', ['info', 'warning', 'critical'], ['warning', 'critical']);
      const fields = h('div', { id: 'channel-config' });
      let config = null;
      const load = async () => {
        const s = await api('GET', `/api/v1/plugins/${enc(plugin.value)}/schema`);
        config = schemaForm(s.schema, null, s.secret_paths);
        fields.replaceChildren(h('fieldset', null, h('legend', null, `${plugin.value} settings`), config.node));
      };
      plugin.addEventListener('change', () => load().catch((e) => say(e.message, 'error')));
      const form = h('form', { class: 'stack', id: 'channel-form' }, h('h3', null, 'New channel'), field('Name', name), field('Plugin', plugin),
        fields, events.node, sev.node, h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Create channel')));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        let body;
        try { body = { name: name.value, plugin: plugin.value, config: config ? config.value() : {}, events: events.value(), severities: sev.value() }; } catch (err) { say(`invalid settings: ${err.message}`, 'error'); return; }
        act(e.submitter, async () => { await api('POST', '/api/v1/notifications/channels', body); form.reset(); }, `Channel ${body.name} created.`);
      });
      create.replaceChildren(form);
      await load();
    }
    reload = refresh;
    await refresh();
    if (writer) await channelForm().catch((e) => say(e.message, 'error'));
  }

  // ======================================================================= Plugins ===========
  async function plugins() {
    const manager = can('plugins:manage');
    const list = h('div', { id: 'plugin-list' });
    const config = h('div', { id: 'plugin-config' });
    const upload = h('div', { id: 'plugin-upload' });
    content.replaceChildren(list, config, upload);
    async function refresh() {
      const { plugins: all } = await api('GET', '/api/v1/plugins');
      list.replaceChildren(table([
        { label: 'Plugin', get: (p) => p.id, sort: (p) => p.id },
        { label: 'Kind', get: (p) => p.kind || '—', sort: (p) => p.kind || '' },
        { label: 'Version', get: (p) => p.plugin_version || p.version || '—' },
        { label: 'Status', get: (p) => badge(p.status, p.status), sort: (p) => p.status },
        { label: 'Calls', num: true, get: (p) => num(p.calls), sort: (p) => p.calls },
        { label: 'Errors', num: true, get: (p) => num(p.errors), sort: (p) => p.errors },
        { label: 'p50 / p99 ms', num: true, get: (p) => `${num(p.p50_ms)} / ${num(p.p99_ms)}`, sort: (p) => p.p99_ms || 0 },
        { label: 'Last error', get: (p) => p.last_error || '—' },
        manager ? { label: 'Actions', get: (p) => h('span', { class: 'row' },
          p.status === 'disabled'
            ? h('button', { type: 'button', onclick: (e) => act(e.currentTarget, () => api('PATCH', `/api/v1/plugins/${enc(p.id)}/enable`), `${p.id} enabled.`) }, 'Enable')
            : h('button', { type: 'button', onclick: (e) => act(e.currentTarget, () => api('PATCH', `/api/v1/plugins/${enc(p.id)}/disable`), `${p.id} disabled.`) }, 'Disable'),
          p.status === 'loaded' ? h('button', { type: 'button', onclick: () => configure(p.id) }, 'Configure') : null) } : null,
      ].filter(Boolean), all, { label: 'Plugins', empty: 'No plugins installed.' }));
    }
    async function configure(id) {
      const [s, current] = await Promise.all([api('GET', `/api/v1/plugins/${enc(id)}/schema`), api('GET', `/api/v1/plugins/${enc(id)}/config`)]);
      const form = schemaForm(s.schema, current, s.secret_paths);
      const el = h('form', { class: 'stack', id: 'plugin-config-form' }, h('h2', { tabindex: '-1' }, `Configure ${id}`),
        h('p', { class: 'hint' }, 'Secrets show as ******** — leave them so to keep the stored value.'), form.node,
        h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Save'), h('button', { type: 'button', onclick: () => config.replaceChildren() }, 'Close')));
      el.addEventListener('submit', (e) => {
        e.preventDefault();
        act(e.submitter, () => api('PUT', `/api/v1/plugins/${enc(id)}/config`, form.value()), `${id} configuration saved.`);
      });
      config.replaceChildren(el);
      el.querySelector('h2').focus();
    }
    if (manager) {
      const file = h('input', { type: 'file', id: 'bundle', accept: '.tar.gz,.tgz,application/gzip', required: true });
      const form = h('form', { class: 'stack' }, h('h2', null, 'Install a plugin bundle'), field('Bundle (.tar.gz)', file, 'built with vigia plugin build'),
        h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Install')));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const chosen = file.files[0];
        if (!chosen) return;
        act(e.submitter, () => api('POST', '/api/v1/plugins', new Blob([chosen], { type: 'application/gzip' })), `${chosen.name} installed.`);
      });
      upload.replaceChildren(form);
    }
    reload = refresh;
    await refresh();
  }

  // ======================================================================= Administration ====
  async function admin() {
    const users = h('div', { id: 'users' });
    const roles = h('div', { id: 'roles' });
    const tokens = h('div', { id: 'tokens' });
    content.replaceChildren(h('section', null, h('h2', null, 'Users'), users), h('section', null, h('h2', null, 'Roles'), roles),
      h('section', null, h('h2', null, 'API tokens'), tokens));
    let instances = [];
    async function refresh() {
      const [u, r, t, i] = await Promise.all([api('GET', '/api/v1/users'), api('GET', '/api/v1/roles'), api('GET', '/api/v1/tokens'), api('GET', '/api/v1/instances')]);
      instances = Array.isArray(i) ? i : i.instances || [];
      users.replaceChildren(table([
        { label: 'Login', get: (x) => x.login, sort: (x) => x.login },
        { label: 'E-mail', get: (x) => x.email || '—' },
        { label: 'Privilege', get: (x) => x.privilege, sort: (x) => x.privilege },
        { label: 'Profile', get: (x) => x.profile },
        { label: 'Roles', get: (x) => (x.roles || []).join(', ') || 'all instances' },
        { label: 'Actions', get: (x) => h('button', { type: 'button', class: 'danger', onclick: (e) => act(e.currentTarget, () => api('DELETE', `/api/v1/users/${enc(x.login)}`), `User ${x.login} deleted.`) }, 'Delete') },
      ], u.users, { label: 'Users' }), userForm(r.roles));
      roles.replaceChildren(table([
        { label: 'Role', get: (x) => x.name, sort: (x) => x.name },
        { label: 'Access (sets ORed, tags ANDed)', get: (x) => accessText(x.access) },
        { label: 'Matches', get: (x) => matching(x.access).join(', ') || 'no instance' },
        { label: 'Actions', get: (x) => h('button', { type: 'button', class: 'danger', onclick: (e) => act(e.currentTarget, () => api('DELETE', `/api/v1/roles/${enc(x.name)}`), `Role ${x.name} deleted.`) }, 'Delete') },
      ], r.roles, { label: 'Roles', empty: 'No roles: every user sees every instance.' }), roleForm());
      tokens.replaceChildren(table([
        { label: 'Name', get: (x) => x.name, sort: (x) => x.name },
        { label: 'Kind', get: (x) => x.kind },
        { label: 'Prefix', get: (x) => h('code', null, x.prefix) },
        { label: 'Scopes', get: (x) => x.scopes.join(' ') },
        { label: 'Expires', get: (x) => when(x.expires_at), sort: (x) => x.expires_at || '' },
        { label: 'Last used', get: (x) => when(x.last_used_at), sort: (x) => x.last_used_at || '' },
        { label: 'Actions', get: (x) => h('button', { type: 'button', class: 'danger', onclick: (e) => act(e.currentTarget, () => api('DELETE', `/api/v1/tokens/${x.id}`), `Token ${x.name} revoked.`) }, 'Revoke') },
      ], t.tokens, { label: 'API tokens' }), tokenForm());
    }
    const accessText = (access) => access.map((set) => set.filters.map((f) => `${f.tag}=${f.value}`).join(' AND ')).join('  OR  ') || '—';
    // Which instances a role's filter sets cover, by the instance tags and the built-in ones.
    function matching(access) {
      return instances.filter((i) => {
        const tags = new Map([['name', i.name], ['server', i.host], ['pg_instance', `${i.host}@${i.name}`]]);
        for (const part of (i.tags || '').split(',')) { const [k, v] = part.split('='); if (k && v !== undefined) tags.set(k.trim(), v.trim()); }
        return access.some((set) => set.filters.every((f) => tags.get(f.tag) === f.value));
      }).map((i) => i.name);
    }
    const parseAccess = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => ({
      filters: line.split(/\s+AND\s+|,/i).map((p) => p.trim()).filter(Boolean).map((p) => {
        const [tag, ...rest] = p.split('=');
        if (!rest.length) throw new Error(`"${p}" is not tag=value`);
        return { tag: tag.trim(), value: rest.join('=').trim() };
      }) }));
    function roleForm() {
      const name = h('input', { id: 'role-name', required: true });
      const access = h('textarea', { id: 'role-access', rows: 3, placeholder: 'environment=production AND team=payments' });
      const preview = h('p', { class: 'hint', id: 'role-preview', 'aria-live': 'polite' }, 'Matches: —');
      access.addEventListener('input', () => {
        try { preview.textContent = `Matches: ${matching(parseAccess(access.value)).join(', ') || 'no instance'}`; } catch (e) { preview.textContent = e.message; }
      });
      const form = h('form', { class: 'stack' }, h('h3', null, 'New role'), field('Name', name), field('Access', access, 'one filter set per line; tags ANDed within a line'), preview,
        h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Create role')));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        let body;
        try { body = { name: name.value, access: parseAccess(access.value) }; } catch (err) { say(err.message, 'error'); return; }
        act(e.submitter, () => api('POST', '/api/v1/roles', body), `Role ${name.value} created.`);
      });
      return form;
    }
    function userForm(roleList) {
      const login = h('input', { id: 'user-login', required: true, autocomplete: 'off' });
      const password = h('input', { id: 'user-password', type: 'password', required: true, autocomplete: 'new-password' });
      const privilege = h('select', { id: 'user-privilege' }, ['read', 'write', 'admin'].map((p) => h('option', { value: p }, p)));
      const picked = checks('Roles (none: every instance)', roleList.map((r) => r.name), []);
      const form = h('form', { class: 'stack' }, h('h3', null, 'New user'), field('Login', login), field('Password', password), field('Privilege', privilege), picked.node,
        h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Create user')));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act(e.submitter, () => api('POST', '/api/v1/users', { login: login.value, password: password.value, privilege: privilege.value, roles: picked.value() }), `User ${login.value} created.`);
      });
      return form;
    }
    function tokenForm() {
      const name = h('input', { id: 'token-name', required: true });
      // `admin` implies every tenant scope (auth/scopes.rs), so an admin may pick any of them.
      const mine = [...new Set(scopes.has('admin') ? [...TENANT_SCOPES, ...scopes] : scopes)];
      const picked = checks('Scopes (only those you hold)', mine, ['monitoring:read']);
      const expires = h('input', { id: 'token-expires', type: 'date' });
      const again = h('input', { id: 'token-password', type: 'password', autocomplete: 'current-password' });
      const shown = h('div', { id: 'token-shown', 'aria-live': 'polite' });
      const form = h('form', { class: 'stack' }, h('h3', null, 'New API token'), field('Name', name, 'what it is for'), picked.node, field('Expires', expires, 'empty: the longest allowed'),
        field('Your password', again, 'needed when you signed in more than 15 minutes ago'),
        h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Create token')), shown);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const body = { name: name.value, scopes: picked.value(), expires_at: expires.value ? new Date(`${expires.value}T23:59:59Z`).toISOString() : undefined, password: again.value || undefined };
        act(e.submitter, async () => {
          const made = await api('POST', '/api/v1/tokens', body);
          setTimeout(() => document.getElementById('tokens').prepend(h('div', { class: 'secret-once', id: 'new-token' },
            h('strong', null, `Token ${made.name} — copy it now, it is shown this once:`), h('code', null, made.token))), 0);
        }, `Token ${body.name} created.`);
      });
      return form;
    }
    reload = refresh;
    await refresh();
  }

  const screens = { overview, instance, alerts, notifications, plugins, admin };
  const run = screens[main.dataset.screen];
  if (run) run().catch((e) => { content.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message)); });
})();
