// The runs page: filters by flow and state (kept in the address), the list, live from /api/events.
import { el, clear, duration, time, errorBanner } from './dom.js';
import { api, liveEvents } from './api.js';
import { RUN_STATES, countsText, badge } from './states.js';

export function mount(root, { query, navigate }) {
  let flow = query.get('flow') || '';
  let state = query.get('state') || '';
  const flowSelect = el('select', { id: 'filter-flow' }, el('option', { value: '' }, 'All flows'));
  const stateSelect = el('select', { id: 'filter-state' }, el('option', { value: '' }, 'All states'),
    RUN_STATES.map((s) => el('option', { value: s }, s)));
  const banner = el('div', { class: 'banner-area' });
  const tbody = el('tbody');
  const status = el('span', { class: 'live-status muted' }, 'connecting…');
  const summary = el('span', { class: 'muted' });

  root.append(
    el('div', { class: 'page-head' }, el('h1', null, 'Runs'), el('span', { class: 'spacer' }), summary, status),
    el('div', { class: 'card filters' },
      el('label', null, 'Flow ', flowSelect),
      el('label', null, 'State ', stateSelect)),
    banner,
    el('div', { class: 'card table-card' },
      el('table', { id: 'runs' },
        el('thead', null, el('tr', null, ['Run', 'Flow', 'State', 'Started', 'Duration', 'Tasks'].map((h) => el('th', null, h)))),
        tbody)));

  const ensureOption = (value) => {
    if (value && ![...flowSelect.options].some((o) => o.value === value)) flowSelect.append(el('option', { value }, value));
  };
  ensureOption(flow);
  flowSelect.value = flow;
  stateSelect.value = state;

  let stopped = false;
  let loading = null;
  let again = false;
  let last = 0;
  let timer = null;

  const load = async () => {
    if (loading) { again = true; return; }
    last = Date.now();
    const params = new URLSearchParams();
    if (flow) params.set('flow', flow);
    if (state) params.set('state', state);
    params.set('limit', '200');
    loading = api(`/api/runs?${params}`);
    try {
      const runs = await loading;
      if (stopped) return;
      clear(banner);
      render(runs);
    } catch (error) {
      if (!stopped) { clear(banner); banner.append(errorBanner(error)); }
    } finally {
      loading = null;
      if (again && !stopped) { again = false; schedule(); }
    }
  };

  // At most one list request a second, however many events arrive.
  const schedule = () => {
    if (timer || stopped) return;
    const wait = Math.max(0, 1000 - (Date.now() - last));
    timer = setTimeout(() => { timer = null; load(); }, wait);
  };

  // Rows are kept by run id and their cells updated in place: a click on a link is never lost to a refresh.
  const rows = new Map();
  const render = (runs) => {
    summary.textContent = `${runs.length} run${runs.length === 1 ? '' : 's'}`;
    if (runs.length === 0) {
      rows.clear();
      tbody.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 6 }, 'No runs.')));
      return;
    }
    const seen = new Set();
    const ordered = runs.map((run) => {
      seen.add(run.runId);
      let row = rows.get(run.runId);
      if (!row) {
        const href = `/runs/${run.runId}`;
        row = {
          tr: null,
          state: el('td', { class: 'state' }),
          duration: el('td', { class: 'duration' }),
          counts: el('td', { class: 'counts' }),
          last: '',
        };
        row.tr = el('tr', { dataset: { runId: run.runId } },
          el('td', { class: 'id mono' }, el('a', { href }, run.runId.slice(0, 8))),
          el('td', { class: 'flow' }, el('a', { href, title: run.version ? `version ${run.version}` : null }, run.flow)),
          row.state,
          el('td', { class: 'started' }, time(run.createdAt)),
          row.duration,
          row.counts);
        rows.set(run.runId, row);
      }
      if (row.last !== run.state) {
        row.last = run.state;
        row.tr.className = `run-row state-${run.state}`;
        row.state.replaceChildren(badge(el, run.state));
      }
      row.duration.textContent = duration(run.durationSeconds);
      row.counts.textContent = countsText(run.taskCounts);
      return row.tr;
    });
    for (const id of [...rows.keys()]) if (!seen.has(id)) rows.delete(id);
    const current = [...tbody.children];
    if (current.length !== ordered.length || current.some((tr, i) => tr !== ordered[i])) tbody.replaceChildren(...ordered);
  };

  const filtersChanged = () => {
    flow = flowSelect.value;
    state = stateSelect.value;
    const params = new URLSearchParams();
    if (flow) params.set('flow', flow);
    if (state) params.set('state', state);
    const qs = params.toString();
    history.replaceState(null, '', qs ? `/?${qs}` : '/');
    load();
  };
  flowSelect.addEventListener('change', filtersChanged);
  stateSelect.addEventListener('change', filtersChanged);

  api('/api/flows').then((flows) => {
    if (stopped) return;
    for (const name of [...new Set(flows.map((f) => f.name))].sort()) ensureOption(name);
    flowSelect.value = flow;
  }).catch(() => { /* the list shows its own error */ });

  load();
  const stop = liveEvents('/api/events', {
    onOpen: () => { status.textContent = '● live'; status.className = 'live-status live'; schedule(); },
    onEvent: (name) => { if (name === 'run') schedule(); },
    onError: (error) => {
      status.textContent = error.status === 401 || error.status === 404 ? 'not live' : 'reconnecting…';
      status.className = 'live-status muted';
    },
  });

  return () => { stopped = true; stop(); if (timer) clearTimeout(timer); };
}
