// Task and run states: their colours, the order they are listed in, and a mapped task's aggregate state.

export const COLORS = {
  completed: '#2e9d4f',
  cached: '#12a4a0',
  running: '#2f6fdb',
  checking: '#6c9be8',
  retrying: '#f08c00',
  ready: '#9aa0a6',
  pending: '#c6cacf',
  paused: '#8e44ad',
  failed: '#d93025',
  timed_out: '#b3261e',
  trigger_failed: '#e8584d',
  skipped: '#dde0e3',
  cancelled: '#e0a526',
  mapped: '#5b8def',
};

// Light fills take dark text.
const LIGHT = new Set(['pending', 'skipped', 'ready', 'cancelled']);

export const ORDER = ['running', 'retrying', 'checking', 'paused', 'ready', 'pending', 'mapped', 'failed', 'timed_out',
  'trigger_failed', 'cancelled', 'skipped', 'cached', 'completed'];

export const FINAL = new Set(['completed', 'cached', 'failed', 'timed_out', 'skipped', 'trigger_failed', 'cancelled']);

export const RUN_STATES = ['running', 'completed', 'failed', 'cancelled'];

export function color(state) { return COLORS[state] || '#9aa0a6'; }
export function textColor(state) { return LIGHT.has(state) ? '#1f2328' : '#ffffff'; }

// The aggregate of a mapped task's children: running if any runs, else failed if any failed, and so on.
const AGGREGATE = ['running', 'retrying', 'checking', 'failed', 'timed_out', 'trigger_failed', 'paused', 'ready', 'pending',
  'cancelled', 'skipped', 'cached', 'completed'];

export function aggregate(counts, own) {
  for (const state of AGGREGATE) if (counts[state]) return state;
  return own;
}

/** {"completed": 3, "failed": 1} -> "completed 3 · failed 1" (in a fixed order of states). */
export function countsText(counts) {
  if (!counts) return '';
  const keys = Object.keys(counts).filter((k) => counts[k]);
  keys.sort((a, b) => rank(a) - rank(b));
  return keys.map((k) => `${k} ${counts[k]}`).join(' · ');
}

function rank(state) {
  const i = ORDER.indexOf(state);
  return i < 0 ? ORDER.length : i;
}

export function badge(el, state) {
  const b = el('span', { class: `badge state-${state}` }, state);
  b.style.background = color(state);
  b.style.color = textColor(state);
  return b;
}
