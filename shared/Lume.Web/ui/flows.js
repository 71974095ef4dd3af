// The flows page: each flow the Scheduler serves, with a form that starts a run of it.
import { el, clear, errorBanner } from './dom.js';
import { api } from './api.js';

export function mount(root, { navigate }) {
  const banner = el('div', { class: 'banner-area' });
  const list = el('div', { class: 'flows' }, el('p', { class: 'muted' }, 'Loading…'));
  root.append(el('div', { class: 'page-head' }, el('h1', null, 'Flows')), banner, list);
  let stopped = false;
  api('/api/flows').then((flows) => {
    if (stopped) return;
    clear(list);
    if (!flows.length) list.append(el('p', { class: 'muted' }, 'The Scheduler serves no flows.'));
    const sorted = [...flows].sort((a, b) => a.name.localeCompare(b.name) || String(a.version).localeCompare(String(b.version)));
    for (const flow of sorted) list.append(section(flow, navigate));
  }).catch((error) => { if (!stopped) { clear(list); banner.append(errorBanner(error)); } });
  return () => { stopped = true; };
}

function section(flow, navigate) {
  const params = flow.parameters || [];
  const fields = params.map((p) => {
    const prefill = p.required && (p.default === null || p.default === undefined) ? '' : JSON.stringify(p.default ?? null, null, 0);
    const area = el('textarea', { dataset: { param: p.name }, rows: 1, spellcheck: 'false', placeholder: p.required ? 'required: a JSON value, e.g. "text" or 3' : 'JSON' });
    area.value = prefill;
    const error = el('div', { class: 'param-error-area' });
    return { p, area, error, row: el('div', { class: 'param' },
      el('label', null, el('span', { class: 'param-name mono' }, p.name), p.required ? el('span', { class: 'required' }, ' required') : null),
      area, error) };
  });
  const outcome = el('div', { class: 'outcome' });
  const submit = el('button', { type: 'submit' }, 'Start run');
  const form = el('form', { class: 'start-run' },
    fields.length ? fields.map((f) => f.row) : el('p', { class: 'muted' }, 'No parameters.'),
    el('div', { class: 'form-actions' }, submit), outcome);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(outcome);
    const parameters = {};
    let bad = false;
    for (const f of fields) {
      clear(f.error);
      f.area.classList.remove('invalid');
      const text = f.area.value.trim();
      if (text === '') continue; // left out: the Scheduler's default, or its error for a required one
      try {
        parameters[f.p.name] = JSON.parse(text);
      } catch (e) {
        bad = true;
        f.area.classList.add('invalid');
        f.error.append(el('div', { class: 'param-error', dataset: { param: f.p.name } }, `Not valid JSON (${e.message}). Strings need quotes: "text".`));
      }
    }
    if (bad) return;
    submit.disabled = true;
    try {
      const started = await api('/api/runs', { method: 'POST', body: { flow: flow.name, version: flow.version, parameters } });
      navigate(`/runs/${started.runId}`);
    } catch (error) {
      submit.disabled = false;
      const banner = el('div', { class: 'error-banner', role: 'alert' }, el('strong', null, error.title || 'Error'), error.detail ? ` ${error.detail}` : '');
      outcome.append(banner);
      if (error.errors) {
        outcome.append(el('ul', { class: 'errors' }, Object.entries(error.errors).map(([field, messages]) =>
          el('li', { dataset: { field } }, `${field}: ${[].concat(messages).join('; ')}`))));
        for (const f of fields) {
          const mine = error.errors[`parameters.${f.p.name}`];
          if (mine) f.error.append(el('div', { class: 'field-error' }, [].concat(mine).join('; ')));
        }
      }
    }
  });
  return el('section', { class: 'card flow', dataset: { flow: flow.name } },
    el('div', { class: 'flow-head' },
      el('h2', null, flow.name),
      el('span', { class: 'flow-version' }, `v${flow.version}`),
      el('span', { class: 'flow-pool' }, `pool ${flow.pool}`, el('span', { class: flow.poolAlive ? 'alive' : 'dead', title: flow.poolAlive ? 'a worker of the pool is alive' : 'no live worker in the pool' }, flow.poolAlive ? ' ●' : ' ○')),
      el('span', { class: 'spacer' }),
      el('a', { href: `/?flow=${encodeURIComponent(flow.name)}`, class: 'muted' }, 'runs')),
    el('div', { class: 'flow-tasks muted' }, `${(flow.tasks || []).length} tasks: `, (flow.tasks || []).slice(0, 12).join(', '), (flow.tasks || []).length > 12 ? ', …' : ''),
    form);
}
