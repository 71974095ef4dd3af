// Small DOM helpers. Data from the API only ever goes in through textContent / text nodes, never as markup.

/** el('a', {href: '/x', class: 'y', onclick: f, dataset: {slug: 's'}}, 'text', child, ...) */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key === 'style') Object.assign(node.style, value);
      else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') node[key] = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** 83.2 -> "1m 23s"; 0.42 -> "0.42s"; 4000 -> "1h 6m". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '';
  if (seconds < 0) seconds = 0;
  if (seconds < 1) return `${seconds.toFixed(2)}s`;
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const pad = (n) => String(n).padStart(2, '0');

/** An ISO time as local "2026-12-06 03:43:00". */
export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function seconds(fromIso, toIso) {
  if (!fromIso) return null;
  const to = toIso ? Date.parse(toIso) : Date.now();
  return (to - Date.parse(fromIso)) / 1000;
}

/** An API error as a visible banner: title and detail, and per-field errors. */
export function errorBanner(error) {
  const banner = el('div', { class: 'error-banner', role: 'alert' });
  if (error && error.title !== undefined) {
    banner.append(el('strong', null, error.title || `HTTP ${error.status}`));
    if (error.detail) banner.append(el('span', { class: 'detail' }, ' ', error.detail));
    if (error.errors && Object.keys(error.errors).length) {
      banner.append(el('ul', { class: 'errors' },
        Object.entries(error.errors).map(([field, messages]) =>
          el('li', { dataset: { field } }, `${field}: ${[].concat(messages).join('; ')}`))));
    }
  } else {
    banner.append(el('strong', null, String(error && error.message ? error.message : error)));
  }
  return banner;
}
