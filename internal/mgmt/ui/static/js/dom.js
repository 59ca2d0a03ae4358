// Small DOM helpers: build elements from data, never from HTML strings,
// so names and payloads from the broker are always shown as text.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'multiple') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

function isAttrs(a) {
  return a && typeof a === 'object' && !Array.isArray(a) && !(a instanceof Node);
}

// h('div', {class: 'x', onclick: fn}, 'text', child, [more]) builds an element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (isAttrs(attrs)) apply(el, attrs);
  else children.unshift(attrs);
  append(el, children);
  return el;
}

// s('path', {d: ...}) builds an SVG element.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  if (isAttrs(attrs)) apply(el, attrs);
  else children.unshift(attrs);
  append(el, children);
  return el;
}

// fill replaces el's children.
export function fill(el, ...children) {
  const frag = document.createDocumentFragment();
  append(frag, children);
  el.replaceChildren(frag);
  return el;
}

export function $(sel, root = document) { return root.querySelector(sel); }
export function $$(sel, root = document) { return [...root.querySelectorAll(sel)]; }

// icon returns a small inline SVG icon by name.
const ICONS = {
  overview: 'M3 13h8V3H3zm0 8h8v-6H3zm10 0h8V11h-8zm0-18v6h8V3z',
  connections: 'M7 7h4v2H7a3 3 0 0 0 0 6h4v2H7A5 5 0 0 1 7 7zm6 0h4a5 5 0 0 1 0 10h-4v-2h4a3 3 0 0 0 0-6h-4zm-5 4h8v2H8z',
  channels: 'M4 5h16v3H4zm0 5.5h16v3H4zM4 16h16v3H4z',
  exchanges: 'M7 4 3 8l4 4V9h7V7H7zm10 8v3h-7v2h7v3l4-4z',
  queues: 'M3 6h2v12H3zm4 0h2v12H7zm4 0h2v12h-2zm5 0h5v12h-5z',
  admin: 'M12 2 4 5v6c0 5 3.4 9.7 8 11 4.6-1.3 8-6 8-11V5zm0 5a3 3 0 1 1 0 6 3 3 0 0 1 0-6zm0 13c-2-.7-3.7-2-4.8-3.8.9-1.4 2.9-2.2 4.8-2.2s3.9.8 4.8 2.2A8.6 8.6 0 0 1 12 20z',
  logout: 'M10 17v-3H3v-4h7V7l5 5zm9-14H12v2h7v14h-7v2h7a2 2 0 0 0 2-2V5a2 2 0 0 0-2-2z',
  trash: 'M6 7h12l-1 14H7zm3-4h6l1 2h4v2H4V5h4z',
  close: 'M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7l-1.4-1.4L9.2 12 2.9 5.7l1.4-1.4 6.3 6.3 6.3-6.3z',
  plus: 'M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z',
  download: 'M11 3h2v9l3.5-3.5 1.4 1.4L12 15.8 6.1 9.9l1.4-1.4L11 12zM4 18h16v2H4z',
  upload: 'M11 16h2V7l3.5 3.5 1.4-1.4L12 3.2 6.1 9.1l1.4 1.4L11 7zM4 18h16v2H4z',
  search: 'M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10z',
  check: 'M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z',
  alert: 'M1 21h22L12 2zm12-3h-2v-2h2zm0-4h-2v-4h2z',
  chevron: 'M9 6l6 6-6 6-1.4-1.4L12.2 12 7.6 7.4z',
  loadtest: 'M13 2 4 14h7l-1 8 9-12h-7z',
  bolt: 'M13 2 4 14h7l-1 8 9-12h-7z',
};

export function icon(name, cls = 'icon') {
  return s('svg', {class: cls, viewBox: '0 0 24 24', 'aria-hidden': 'true'}, s('path', {d: ICONS[name] || ''}));
}

// debounce delays fn until calls stop for ms.
export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
