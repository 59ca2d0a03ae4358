// The management API client: HTTP basic credentials from sessionStorage,
// JSON in and out, and RabbitMQ's {"error": ..., "reason": ...} bodies
// turned into ApiError.

const AUTH_KEY = 'warren.auth';
const USER_KEY = 'warren.user';

export class ApiError extends Error {
  constructor(status, error, reason) {
    super(reason || error || ('HTTP ' + status));
    this.status = status;
    this.error = error;
    this.reason = reason;
  }
  // describe is the text shown to the user.
  describe() {
    if (this.status === 0) return this.reason;
    const head = this.error ? this.error.replace(/_/g, ' ') : 'HTTP ' + this.status;
    if (this.reason && this.reason !== this.error) return `${head}: ${this.reason}`;
    return head;
  }
}

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function setCredentials(user, pass) {
  sessionStorage.setItem(AUTH_KEY, b64(user + ':' + pass));
  sessionStorage.setItem(USER_KEY, user);
}

export function clearCredentials() {
  sessionStorage.removeItem(AUTH_KEY);
  sessionStorage.removeItem(USER_KEY);
}

export function hasCredentials() { return !!sessionStorage.getItem(AUTH_KEY); }
export function currentUser() { return sessionStorage.getItem(USER_KEY) || ''; }

let unauthorizedHandler = () => {};
export function onUnauthorized(fn) { unauthorizedHandler = fn; }

// enc encodes one path segment; the nameless default exchange is
// "amq.default" in URLs, as in RabbitMQ.
export function enc(s) { return encodeURIComponent(s); }
export function encExchange(name) { return enc(name === '' ? 'amq.default' : name); }

// url builds a path below the page's base with query parameters.
export function url(path, params) {
  let u = path.replace(/^\//, '');
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const qs = q.toString();
    if (qs) u += '?' + qs;
  }
  return u;
}

// request calls the API. opts: {body, headers, signal, quiet401, raw}.
export async function request(method, path, opts = {}) {
  const headers = {'Accept': 'application/json', 'X-Requested-With': 'XMLHttpRequest'};
  const auth = opts.auth || sessionStorage.getItem(AUTH_KEY);
  if (auth) headers['Authorization'] = 'Basic ' + auth;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  Object.assign(headers, opts.headers || {});
  let res;
  try {
    res = await fetch(new URL(path.replace(/^\//, ''), document.baseURI), {
      method, headers, body, signal: opts.signal, cache: 'no-store', credentials: 'omit',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network_error', 'Cannot reach the server (' + e.message + ')');
  }
  if (!res.ok) {
    let error = '', reason = '';
    const text = await res.text().catch(() => '');
    try {
      const j = JSON.parse(text);
      error = j.error || '';
      reason = typeof j.reason === 'string' ? j.reason : (j.reason ? JSON.stringify(j.reason) : '');
    } catch {
      reason = text.trim().slice(0, 300);
    }
    const err = new ApiError(res.status, error || (res.status === 401 ? 'not_authorized' : ''), reason || res.statusText);
    if (res.status === 401 && !opts.quiet401) unauthorizedHandler(err);
    throw err;
  }
  if (opts.raw) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

export const get = (path, params, opts) => request('GET', url(path, params), opts);
export const put = (path, body, opts) => request('PUT', path, {...opts, body});
export const post = (path, body, opts) => request('POST', path, {...opts, body});
export const del = (path, opts) => request('DELETE', path, opts);

// login checks credentials with /api/whoami without storing them.
export async function login(user, pass) {
  const auth = b64(user + ':' + pass);
  const me = await request('GET', 'api/whoami', {auth, quiet401: true});
  setCredentials(user, pass);
  return me;
}
