// The web view's entry: the top bar, client-side routing (history.pushState), the token prompt.
import { el, clear } from './dom.js';
import { setUnauthorizedHandler, setToken, token } from './api.js';

performance.mark('lume:app-start');
window.lume = { graph: null };

const routes = [
  { path: /^\/(runs\/?)?$/, page: () => import('./runs.js'), nav: '/' },
  { path: /^\/runs\/([^/]+)\/?$/, page: () => import('./run.js'), nav: '/' },
  { path: /^\/flows\/?$/, page: () => import('./flows.js'), nav: '/flows' },
  { path: /^\/results\/?$/, page: () => import('./results.js'), nav: '/results' },
];

const app = document.getElementById('app');
clear(app);
const navLinks = [['/', 'Runs'], ['/flows', 'Flows'], ['/results', 'Results']]
  .map(([href, text]) => el('a', { href, class: 'nav-link' }, text));
const tokenArea = el('div', { id: 'token-area' });
const main = el('div', { id: 'page' });
document.body.insertBefore(
  el('header', { class: 'topbar' },
    el('a', { href: '/', class: 'brand' }, 'Lume'),
    el('nav', null, navLinks),
    el('span', { class: 'spacer' }),
    el('button', { type: 'button', class: 'link-button', id: 'change-token', onclick: () => showTokenForm(null) }, 'Token')),
  app);
app.append(tokenArea, main);

let cleanup = null;
let generation = 0;

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href); else history.pushState(null, '', href);
  route();
}

async function route() {
  const mine = ++generation;
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  window.lume.graph = null;
  const path = location.pathname;
  const found = routes.find((r) => r.path.test(path));
  for (const a of navLinks) a.classList.toggle('active', found !== undefined && a.getAttribute('href') === found.nav);
  clear(main);
  if (!found) {
    main.append(el('div', { class: 'card' }, el('h1', null, 'Not found'), el('p', null, 'No page at ', path)));
    return;
  }
  const module = await found.page();
  if (mine !== generation) return;
  const params = found.path.exec(path).slice(1).map((p) => (p === undefined ? p : decodeURIComponent(p)));
  document.title = 'Lume';
  cleanup = module.mount(main, { params, query: new URLSearchParams(location.search), navigate }) || null;
}

function showTokenForm(error) {
  clear(tokenArea);
  const input = el('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: 'API token', value: token() });
  const form = el('form', { id: 'token-form', class: 'card token-card' },
    el('label', { for: 'token' }, error ? 'The API asks for a token (401). Token: ' : 'API token: '),
    input,
    el('button', { type: 'submit' }, 'Use token'),
    el('button', { type: 'button', class: 'secondary', onclick: () => clear(tokenArea) }, 'Close'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    clear(tokenArea);
    route();
  });
  tokenArea.append(form);
  input.focus();
}

setUnauthorizedHandler((error) => {
  if (!document.getElementById('token-form')) showTokenForm(error);
});

// In-app links change the page without a reload.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/assets/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', route);
route();
