// Calls of the Lume API: the bearer token, problem+json errors, and text/event-stream read with fetch (EventSource
// cannot send an Authorization header).

const TOKEN_KEY = 'lume.token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || `HTTP ${status}`;
    this.detail = problem.detail || '';
    this.errors = problem.errors || null;
    this.problem = problem;
  }
}

export class Unauthorized extends ApiError {
  constructor(problem) { super(401, problem); }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(handler) { onUnauthorized = handler; }

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
}

export function headers(extra) {
  const h = Object.assign({}, extra);
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

async function problemOf(response) {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object') return parsed;
  } catch { /* not JSON */ }
  return { title: `${response.status} ${response.statusText}`.trim(), detail: text.slice(0, 500) };
}

/** fetch of an /api path; answers the parsed JSON (or null), throws ApiError / Unauthorized. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, signal, headers: headers({ Accept: 'application/json' }) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  return handle(response);
}

async function handle(response) {
  if (response.status === 401) {
    const error = new Unauthorized(await problemOf(response));
    onUnauthorized(error);
    throw error;
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** The raw response of an /api path (for files): throws like api() when it is not 2xx. */
export async function apiRaw(path, { signal } = {}) {
  const response = await fetch(path, { signal, headers: headers() });
  if (!response.ok) await handle(response);
  return response;
}

/**
 * Reads one text/event-stream response; calls onEvent(name, data) for each event (data JSON-parsed when it parses).
 * Resolves when the stream ends; throws ApiError when the answer is not a stream.
 */
export async function readEvents(path, { signal, onOpen, onEvent }) {
  const response = await fetch(path, { signal, headers: headers({ Accept: 'text/event-stream' }), cache: 'no-store' });
  if (!response.ok || !(response.headers.get('content-type') || '').includes('text/event-stream')) {
    if (response.ok) throw new ApiError(response.status, { title: 'Not an event stream', detail: path });
    await handle(response);
  }
  if (onOpen) onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let name = '';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer[newline] === '\r' && buffer[newline + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (data.length) {
          const text = data.join('\n');
          let parsed = text;
          try { parsed = JSON.parse(text); } catch { /* plain text data */ }
          onEvent(name || 'message', parsed);
        }
        name = '';
        data = [];
      } else if (line.startsWith(':')) {
        // a comment (keep-alive)
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'event') name = val;
        else if (field === 'data') data.push(val);
      }
    }
  }
}

/**
 * Keeps reading an event stream: reconnects with backoff (1 s doubling to 30 s) when it drops, until stop() is called
 * or onEvent returns 'stop'. onError(error) hears each failure (a 401 or 404 stops it).
 */
export function liveEvents(path, { onEvent, onOpen, onError }) {
  const controller = new AbortController();
  let stopped = false;
  let delay = 1000;
  const stop = () => { stopped = true; controller.abort(); };
  (async () => {
    while (!stopped) {
      try {
        await readEvents(path, {
          signal: controller.signal,
          onOpen: () => { delay = 1000; if (onOpen) onOpen(); },
          onEvent: (name, data) => { if (onEvent(name, data) === 'stop') stop(); },
        });
      } catch (error) {
        if (stopped || error.name === 'AbortError') return;
        if (onError) onError(error);
        if (error instanceof ApiError && (error.status === 401 || error.status === 404 || error.status === 400)) return;
      }
      if (stopped) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30000);
    }
  })();
  return stop;
}
