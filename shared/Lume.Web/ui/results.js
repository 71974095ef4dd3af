// The results page: the stored results (db-dicts) of a flow.
import { el, clear, time, errorBanner } from './dom.js';
import { api } from './api.js';

export function mount(root, { query }) {
  const list = el('datalist', { id: 'flow-names' });
  const flowInput = el('input', { id: 'results-flow', list: 'flow-names', placeholder: 'flow name', value: query.get('flow') || '' });
  const projectInput = el('input', { id: 'results-project', placeholder: 'project (optional)', value: query.get('project') || '' });
  const button = el('button', { id: 'results-search', type: 'submit' }, 'Search');
  const banner = el('div', { class: 'banner-area' });
  const results = el('div', { id: 'results-list' });
  const summary = el('p', { class: 'muted' });
  const form = el('form', { class: 'card filters' }, el('label', null, 'Flow ', flowInput), list,
    el('label', null, 'Project ', projectInput), button);
  root.append(el('div', { class: 'page-head' }, el('h1', null, 'Results')), form, banner, summary, results);
  let stopped = false;

  api('/api/flows').then((flows) => {
    for (const name of [...new Set(flows.map((f) => f.name))].sort()) list.append(el('option', { value: name }));
  }).catch(() => { /* searching shows its own error */ });

  const search = async () => {
    clear(banner); clear(results); summary.textContent = 'Searching…';
    const params = new URLSearchParams();
    if (flowInput.value.trim()) params.set('flow_id', flowInput.value.trim());
    if (projectInput.value.trim()) params.set('project', projectInput.value.trim());
    const shown = new URLSearchParams();
    if (flowInput.value.trim()) shown.set('flow', flowInput.value.trim());
    if (projectInput.value.trim()) shown.set('project', projectInput.value.trim());
    history.replaceState(null, '', shown.toString() ? `/results?${shown}` : '/results');
    try {
      const answer = await api(`/api/results?${params}`);
      if (stopped) return;
      const items = answer.results || [];
      summary.textContent = `${items.length} result${items.length === 1 ? '' : 's'}${answer.project ? ` in project ${answer.project}` : ''}${answer.flowId ? ` of ${answer.flowId}` : ''}`;
      for (const item of items) {
        const title = item && typeof item === 'object'
          ? [item.result_type_string, item.flow_id, item.date_modified ? time(item.date_modified) : null].filter(Boolean).join(' · ')
          : '';
        results.append(el('div', { class: 'card result' }, title ? el('h3', null, title) : null, el('pre', null, JSON.stringify(item, null, 2))));
      }
    } catch (error) {
      summary.textContent = '';
      if (!stopped) banner.append(errorBanner(error));
    }
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); search(); });
  if (flowInput.value) search();
  return () => { stopped = true; };
}
