// Warren management UI: login, the page shell, hash routing and the
// refresh loop. Pages live in pages/*.js and are loaded on first use.

import * as api from './api.js';
import {h, fill, icon} from './dom.js';
import * as fmt from './fmt.js';
import {errorText, select} from './ui.js';

// ---- state shared with pages -----------------------------------------------

export const state = {
  me: null,          // /api/whoami
  tags: [],
  vhosts: [],        // names
  vhost: sessionStorage.getItem('warren.vhost') || '', // '' = all
  overview: null,    // last /api/overview, for the header
  refreshMs: Number(localStorage.getItem('warren.refresh') || 5000),
};

export function isAdmin() { return state.tags.includes('administrator'); }
export function canMonitor() { return isAdmin() || state.tags.includes('monitoring'); }
export function canPolicy() { return isAdmin() || state.tags.includes('policymaker'); }

// ---- routing ----------------------------------------------------------------

const routes = [
  [/^(?:overview)?$/, 'overview', 'overview', 'overview'],
  [/^connections$/, 'connections', 'list', 'connections'],
  [/^connections\/([^/]+)$/, 'connections', 'detail', 'connections'],
  [/^channels$/, 'channels', 'list', 'channels'],
  [/^channels\/([^/]+)$/, 'channels', 'detail', 'channels'],
  [/^exchanges$/, 'exchanges', 'list', 'exchanges'],
  [/^exchanges\/([^/]+)\/([^/]*)$/, 'exchanges', 'detail', 'exchanges'],
  [/^queues$/, 'queues', 'list', 'queues'],
  [/^queues\/([^/]+)\/([^/]+)$/, 'queues', 'detail', 'queues'],
  [/^admin$/, 'admin', 'adminHome', 'admin'],
  [/^users$/, 'admin', 'users', 'admin', 'users'],
  [/^users\/([^/]+)$/, 'admin', 'user', 'admin', 'users'],
  [/^vhosts$/, 'admin', 'vhosts', 'admin', 'vhosts'],
  [/^vhosts\/([^/]+)$/, 'admin', 'vhost', 'admin', 'vhosts'],
  [/^permissions$/, 'admin', 'permissions', 'admin', 'permissions'],
  [/^policies$/, 'admin', 'policies', 'admin', 'policies'],
  [/^limits$/, 'admin', 'limits', 'admin', 'limits'],
  [/^definitions$/, 'admin', 'definitions', 'admin', 'definitions'],
  [/^load-test$/, 'loadtest', 'loadtest', 'loadtest'],
];

const NAV = [
  ['overview', 'Overview', '#/'],
  ['connections', 'Connections', '#/connections'],
  ['channels', 'Channels', '#/channels'],
  ['exchanges', 'Exchanges', '#/exchanges'],
  ['queues', 'Queues', '#/queues'],
  ['admin', 'Admin', '#/admin'],
  ['loadtest', 'Load test', '#/load-test', isAdmin], // Warren's /api/warren/load-tests
];

export const ADMIN_TABS = [
  ['users', 'Users', '#/users', isAdmin],
  ['vhosts', 'Virtual hosts', '#/vhosts', isAdmin],
  ['permissions', 'Permissions', '#/permissions', isAdmin],
  ['policies', 'Policies', '#/policies', canPolicy],
  ['limits', 'Limits', '#/limits', isAdmin],
  ['definitions', 'Definitions', '#/definitions', isAdmin],
];

// href builds a hash link from path segments, each URI-encoded.
export function href(...segs) { return '#/' + segs.map(s => encodeURIComponent(s)).join('/'); }

export function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

// ---- page context -----------------------------------------------------------

class PageContext {
  constructor(view, params) {
    this.view = view;
    this.params = params;
    this.ctrl = new AbortController();
    this.tasks = [];
    this.cleanups = [];
    this.left = false;
    this.banner = h('div', {class: 'banner', role: 'alert'});
    this.banner.hidden = true;
  }
  get signal() { return this.ctrl.signal; }
  get vhost() { return state.vhost; }

  // every runs fn now and on each refresh tick while the page is shown.
  every(fn, immediate = true) {
    const task = {fn, running: false, again: false};
    this.tasks.push(task);
    task.run = () => this.run(task);
    if (immediate) this.run(task);
    return task;
  }

  async run(task) {
    if (this.left) return;
    if (task.running) { task.again = true; return; }
    task.running = true;
    try {
      await task.fn();
      this.showError(null);
      setLive(true);
    } catch (e) {
      if (e.name === 'AbortError' || this.left) return;
      this.showError(e);
      setLive(false);
    } finally {
      task.running = false;
      if (task.again && !this.left) { task.again = false; this.run(task); }
    }
  }

  refresh() { return Promise.all(this.tasks.map(t => this.run(t))); }

  showError(e) {
    if (!e) { this.banner.hidden = true; return; }
    fill(this.banner, icon('alert'), h('span', {}, errorText(e)));
    this.banner.hidden = false;
  }

  onLeave(fn) { this.cleanups.push(fn); }

  leave() {
    this.left = true;
    this.ctrl.abort();
    for (const fn of this.cleanups) { try { fn(); } catch (e) { console.error(e); } }
  }
}

// ---- shell ------------------------------------------------------------------

let shell = null;
let ctx = null;
let routeSeq = 0;
let timer = null;

function logo(cls) {
  return h('img', {src: new URL('../logo.svg', import.meta.url).href, alt: '', class: cls, width: 28, height: 28});
}

function buildShell() {
  const navLinks = NAV.filter(n => !n[3] || n[3]()).map(([key, label, hash]) =>
    h('a', {href: hash, class: 'nav-link', dataset: {nav: key}}, icon(key), h('span', {}, label)));
  const vhostSel = h('select', {id: 'vhost-select', 'aria-label': 'Virtual host'});
  vhostSel.addEventListener('change', () => {
    state.vhost = vhostSel.value;
    sessionStorage.setItem('warren.vhost', state.vhost);
    route();
  });
  const refreshSel = select('refresh', [['2000', 'Every 2 s'], ['5000', 'Every 5 s'], ['10000', 'Every 10 s'], ['30000', 'Every 30 s'], ['0', 'Paused']], String(state.refreshMs));
  refreshSel.id = 'refresh-select';
  refreshSel.setAttribute('aria-label', 'Refresh interval');
  refreshSel.addEventListener('change', () => {
    state.refreshMs = Number(refreshSel.value);
    localStorage.setItem('warren.refresh', String(state.refreshMs));
    startTimer();
    if (ctx) ctx.refresh();
  });
  const live = h('span', {class: 'live', id: 'live', title: 'Live'});
  const user = h('span', {class: 'user-name', id: 'user-name'});
  const logout = h('button', {type: 'button', class: 'btn ghost', id: 'logout', title: 'Log out', onclick: doLogout}, icon('logout'), h('span', {class: 'hide-sm'}, 'Log out'));
  const subnav = h('nav', {class: 'subnav', 'aria-label': 'Admin'});
  const view = h('main', {id: 'view', class: 'view'});
  const el = h('div', {class: 'shell'},
    h('header', {class: 'topbar'},
      h('div', {class: 'topbar-inner'},
        h('a', {href: '#/', class: 'brand'}, logo('brand-logo'), h('span', {class: 'brand-name'}, 'Warren'), h('span', {class: 'brand-ver', id: 'brand-ver'})),
        h('nav', {class: 'nav', 'aria-label': 'Main'}, navLinks),
        h('div', {class: 'tools'},
          h('label', {class: 'tool'}, h('span', {class: 'tool-label'}, 'Virtual host'), vhostSel),
          h('label', {class: 'tool'}, h('span', {class: 'tool-label'}, 'Refresh'), h('span', {class: 'tool-row'}, live, refreshSel)),
          h('div', {class: 'user'}, user, logout)))),
    h('div', {class: 'content'}, subnav, view));
  return {el, view, vhostSel, navLinks, user, subnav, live};
}

function setLive(ok) {
  if (shell) {
    shell.live.classList.toggle('bad', !ok);
    shell.live.title = ok ? 'Live' : 'Refresh failing';
  }
}

export function updateVhostSelect() {
  const sel = shell.vhostSel;
  if (state.vhost && !state.vhosts.includes(state.vhost)) state.vhost = '';
  fill(sel, h('option', {value: ''}, 'All'), state.vhosts.map(v => h('option', {value: v}, v)));
  sel.value = state.vhost;
}

export async function loadVhosts() {
  try {
    const list = await api.get('api/vhosts', {columns: 'name'});
    state.vhosts = (list || []).map(v => v.name).sort();
  } catch (e) {
    if (e.status === 401) throw e;
    state.vhosts = [];
  }
  if (shell) updateVhostSelect();
}

function startTimer() {
  clearInterval(timer);
  timer = null;
  if (state.refreshMs > 0) {
    timer = setInterval(() => {
      if (!document.hidden && ctx) ctx.refresh();
    }, state.refreshMs);
  }
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && ctx && state.refreshMs > 0) ctx.refresh();
});

async function route() {
  if (!state.me) return;
  const seq = ++routeSeq;
  const path = decodeURI(location.hash.replace(/^#\/?/, '')).replace(/\/$/, '');
  const raw = location.hash.replace(/^#\/?/, '').replace(/\/$/, '');
  let match = null, m;
  for (const r of routes) {
    if ((m = raw.match(r[0]))) { match = r; break; }
  }
  if (ctx) { ctx.leave(); ctx = null; }
  for (const a of shell.navLinks) a.classList.toggle('active', !!match && a.dataset.nav === match[3]);
  renderSubnav(match && match[4]);
  const view = shell.view;
  if (!match) {
    fill(view, h('div', {class: 'card notfound'}, h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, '#/' + path)), h('a', {href: '#/'}, 'Go to the overview')));
    return;
  }
  const params = m.slice(1).map(x => { try { return decodeURIComponent(x); } catch { return x; } });
  const c = new PageContext(view, params);
  ctx = c;
  try {
    const mod = await import(`./pages/${match[1]}.js`);
    if (seq !== routeSeq) return;
    const pageName = match[2] === 'list' || match[2] === 'detail' ? `${match[1]}-${match[2]}` : match[2];
    const root = h('div', {class: 'page', dataset: {page: pageName}});
    fill(view, c.banner, root);
    c.root = root;
    await mod[match[2]](c, root);
    view.scrollTop = 0;
  } catch (e) {
    if (e.name === 'AbortError' || c.left) return;
    if (e.status === 401) return;
    console.error(e);
    c.showError(e);
  }
}

function renderSubnav(active) {
  const el = shell.subnav;
  if (!active) { el.hidden = true; el.replaceChildren(); return; }
  el.hidden = false;
  fill(el, h('div', {class: 'tabs'}, ADMIN_TABS.filter(t => t[3]()).map(([key, label, hash]) =>
    h('a', {href: hash, class: ['tab', key === active ? 'active' : ''], dataset: {tab: key}}, label))));
}

// ---- login ------------------------------------------------------------------

function showLogin(message) {
  state.me = null;
  if (ctx) { ctx.leave(); ctx = null; }
  clearInterval(timer);
  const err = h('div', {class: 'form-error', role: 'alert'});
  err.hidden = !message;
  if (message) fill(err, icon('alert'), h('span', {}, message));
  const user = h('input', {type: 'text', name: 'username', id: 'login-username', autocomplete: 'username', required: true, spellcheck: 'false', autocapitalize: 'none'});
  const pass = h('input', {name: 'password', id: 'login-password', type: 'password', autocomplete: 'current-password'});
  const btn = h('button', {type: 'submit', class: 'btn primary wide', id: 'login-submit'}, 'Log in');
  const f = h('form', {class: 'login-form', id: 'login-form'},
    h('label', {class: 'field'}, h('span', {class: 'field-label'}, 'Username'), user),
    h('label', {class: 'field'}, h('span', {class: 'field-label'}, 'Password'), pass),
    err, btn);
  f.addEventListener('submit', async ev => {
    ev.preventDefault();
    err.hidden = true;
    btn.disabled = true;
    btn.textContent = 'Logging in…';
    try {
      const me = await api.login(user.value, pass.value);
      await start(me);
    } catch (e) {
      fill(err, icon('alert'), h('span', {}, e.status === 401 ? 'Login failed: wrong username or password, or the user may not use the management UI.' : errorText(e)));
      err.hidden = false;
      btn.disabled = false;
      btn.textContent = 'Log in';
      pass.select();
    }
  });
  const page = h('div', {class: 'login-page'},
    h('div', {class: 'login-card card'},
      h('div', {class: 'login-brand'}, logo('login-logo'), h('div', {}, h('div', {class: 'login-title'}, 'Warren'), h('div', {class: 'login-sub'}, 'Message broker management'))),
      f),
    h('p', {class: 'login-foot'}, 'AMQP 0-9-1 · RabbitMQ-compatible'));
  fill(document.getElementById('app'), page);
  shell = null;
  user.focus();
}

function doLogout() {
  api.clearCredentials();
  state.me = null;
  showLogin('');
}

// A 401 can mean "wrong credentials" or, as RabbitMQ answers for a
// permission the user lacks, "not_authorised": only a failing whoami
// logs the user out.
let checkingAuth = false;
api.onUnauthorized(async () => {
  if (!state.me || checkingAuth) return;
  checkingAuth = true;
  try {
    await api.get('api/whoami', null, {quiet401: true});
  } catch (e) {
    if (e.status === 401 && state.me) {
      api.clearCredentials();
      showLogin('Your credentials were refused. Please log in again.');
    }
  } finally {
    checkingAuth = false;
  }
});

async function start(me) {
  state.me = me;
  state.tags = fmt.tags(me.tags);
  shell = buildShell();
  fill(document.getElementById('app'), shell.el);
  shell.user.textContent = me.name;
  shell.user.title = state.tags.length ? 'Tags: ' + state.tags.join(', ') : 'No tags';
  const adminLink = shell.navLinks.find(a => a.dataset.nav === 'admin');
  const firstAdmin = ADMIN_TABS.find(t => t[3]());
  adminLink.hidden = !firstAdmin;
  if (firstAdmin) adminLink.href = firstAdmin[2];
  // Load test is Warren's own API: shown once the overview says Warren.
  const ltLink = shell.navLinks.find(a => a.dataset.nav === 'loadtest');
  if (ltLink) ltLink.hidden = true;
  await loadVhosts();
  startTimer();
  api.get('api/overview', {columns: 'rabbitmq_version,product_version,product_name,cluster_name'}).then(o => {
    if (ltLink && o && o.product_name === 'Warren') ltLink.hidden = false;
    const v = o && (o.product_version || o.rabbitmq_version);
    if (v) document.getElementById('brand-ver').textContent = v;
    if (o && o.cluster_name) document.title = `Warren · ${o.cluster_name}`;
  }).catch(() => {});
  route();
}

window.addEventListener('hashchange', route);

async function boot() {
  if (api.hasCredentials()) {
    try {
      const me = await api.get('api/whoami', null, {quiet401: true});
      await start(me);
      return;
    } catch (e) {
      if (e.status === 401) api.clearCredentials();
      showLogin(e.status === 401 ? '' : errorText(e));
      return;
    }
  }
  showLogin('');
}

boot();
