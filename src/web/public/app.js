// Page start: show the login or the browser, then keep the page live through the event stream.
// index.html preloads every module and the first data (session, tree root, status) in one round, so the
// first render does not wait on a chain of requests.
import { api, breakable, onLogout, setCsrf } from './api.js';
import { Tree } from './tree.js';
import { Detail } from './detail.js';
import { StatusPanel } from './status.js';

const $ = (id) => document.getElementById(id);
let events = null;
let tree;
let detail;
let status;

function showLogin(message = '') {
  events?.close();
  events = null;
  $('app-view').hidden = true;
  $('logout').hidden = true;
  $('conn').textContent = '';
  $('login-view').hidden = false;
  $('login-error').textContent = message;
  $('password').focus();
}

async function showApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  tree = new Tree($('tree'), (path) => detail.open(path));
  detail = new Detail($('detail'), tree);
  status ??= new StatusPanel(document);
  await Promise.all([tree.load(), status.load()]);
  connect();
}

/** Server-Sent Events: the browser reconnects by itself; "expired" means the session ended. */
function connect() {
  events?.close();
  events = new EventSource('/api/events');
  events.addEventListener('hello', () => { $('conn').textContent = 'Live'; $('conn').className = 'conn live'; });
  events.addEventListener('change', (m) => {
    const ev = JSON.parse(m.data);
    status.changed(ev);
    detail.changed(ev);
    searchChanged(ev);
    if (ev.added.length || ev.deleted.length) tree.changed([...ev.added, ...ev.deleted]);
  });
  events.addEventListener('expired', () => showLogin('Your session ended. Please log in again.'));
  events.onerror = () => { $('conn').textContent = 'Reconnecting…'; $('conn').className = 'conn'; };
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    const r = await api.login($('password').value);
    $('password').value = '';
    setCsrf(r.csrfToken);
    await showApp();
  } catch (err) {
    $('login-error').textContent = err.message;
    $('password').setAttribute('aria-invalid', 'true');
  }
});

$('logout').addEventListener('click', async () => {
  await api.logout().catch(() => {});
  showLogin();
});

let searchTimer;
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 200);
});

async function runSearch() {
  const text = $('search').value.trim();
  const list = $('search-results');
  if (!text) return list.replaceChildren();
  const { hits, truncated } = await api.search(text);
  const items = hits.map((h) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'link';
    b.append(breakable(h.path));
    b.addEventListener('click', () => tree.reveal(h.path.slice(0, h.path.lastIndexOf('.') + 1)));
    const v = document.createElement('span');
    v.className = 'hit-value';
    v.dataset.path = h.path;
    v.textContent = h.value;
    li.append(b, ' = ', v);
    return li;
  });
  if (!hits.length) items.push(Object.assign(document.createElement('li'), { textContent: 'No match.' }));
  if (truncated) items.push(Object.assign(document.createElement('li'), { textContent: 'More matches not shown; refine the search.' }));
  list.replaceChildren(...items);
}

/** A shown hit keeps its value current (a save, the ACS, the failover), in place: no reordering under the pointer. */
function searchChanged(ev) {
  for (const c of ev.changes) {
    for (const v of $('search-results').querySelectorAll('.hit-value')) if (v.dataset.path === c.path) v.textContent = c.value;
  }
}

onLogout(() => showLogin('Please log in.'));
/**
 * Before login the preloaded first reads (index.html) answered 401: take them now, or the page's first reads
 * after login would be handed those stale answers.
 */
function dropPreloads() {
  for (const link of document.querySelectorAll('link[rel="preload"][as="fetch"]')) fetch(link.href, { credentials: 'same-origin' }).catch(() => {});
}

api.session().then((s) => { setCsrf(s.csrfToken); return showApp(); }, () => { dropPreloads(); showLogin(); });
