// The page's client for the JSON API (docs/web-api.md): same-origin fetch with the session cookie and
// the CSRF token on every change. A 401 anywhere means the session ended: the page shows the login.
let csrf = '';
let onLoggedOut = () => {};

export function setCsrf(token) { csrf = token; }
export function onLogout(fn) { onLoggedOut = fn; }

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.kind = body?.error?.kind ?? 'Internal';
    this.details = body?.error?.details ?? [];
  }
}

export async function call(method, url, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (res.status === 401 && !url.startsWith('/api/login')) onLoggedOut();
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const q = (path) => encodeURIComponent(path);
export const api = {
  session: () => call('GET', '/api/session'),
  login: (password) => call('POST', '/api/login', { password }),
  logout: () => call('POST', '/api/logout'),
  tree: (path) => call('GET', `/api/tree?path=${q(path)}`),
  object: (path) => call('GET', `/api/object?path=${q(path)}`),
  search: (text) => call('GET', `/api/search?q=${q(text)}&limit=100`),
  setValues: (values) => call('PUT', '/api/values', { values }),
  addInstance: (table) => call('POST', '/api/instances', { table }),
  deleteInstance: (path) => call('DELETE', `/api/instances?path=${q(path)}`),
  setNotification: (path, notification) => call('PUT', '/api/attributes', { path, notification }),
  status: () => call('GET', '/api/status'),
};

/** Creates an element with text content only (values are always text, never HTML). */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e && typeof e[k] !== 'function' && !k.startsWith('aria') && k !== 'role') e[k] = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** A DOM id derived from a data-model path (paths hold only letters, digits, "_", "-" and "."). */
export function idFor(prefix, path) {
  return `${prefix}-${path.replace(/[^A-Za-z0-9_-]/g, (c) => (c === '.' ? '_' : `-${c.charCodeAt(0)}-`))}`;
}

/**
 * Text with line-break opportunities at word boundaries only: after each "." of a path and before each
 * capital that starts a word of a CamelCase name ("Endpoint|Assignment|Precedence"), so a narrow screen
 * wraps between words, never inside one.
 */
export function breakable(text) {
  const frag = document.createDocumentFragment();
  for (const part of String(text).split(/(?<=\.)|(?<=[a-z0-9])(?=[A-Z])/)) {
    if (frag.childNodes.length) frag.append(document.createElement('wbr'));
    frag.append(part);
  }
  return frag;
}

/**
 * An address shown whole on one line (split across lines it reads as two addresses): its box is a size
 * container and the text's font shrinks to fit a narrow box (app.css .addr) instead of wrapping or scrolling.
 * Returns [box, text span]; set the span's text with setAddress.
 */
export function address(text, cls = '') {
  const span = el('span', { class: 'addr' });
  setAddress(span, text);
  return [el('span', { class: `addr-box ${cls}`.trim() }, span), span];
}

export function setAddress(span, text) {
  span.textContent = text;
  span.style.setProperty('--chars', String(Math.max(String(text).length, 1)));
}

/** Data types shown whole on one line (an address split across lines reads as two). */
export const ADDRESS_TYPES = new Set(['IPAddress', 'IPv4Address', 'IPv6Address', 'IPPrefix', 'IPv4Prefix', 'IPv6Prefix', 'MACAddress']);

/** "1 switch", "2 switches". */
export const plural = (n, one, many = `${one}s`) => `${n} ${Number(n) === 1 ? one : many}`;
