// Shared UI pieces: page headers, sections, stat cards, tables with
// sorting and paging, forms, argument editors, toasts and dialogs.

import {h, fill, icon, debounce} from './dom.js';
import {ApiError} from './api.js';
import * as fmt from './fmt.js';

export function pageHeader(title, sub, ...actions) {
  return h('div', {class: 'page-head'},
    h('div', {class: 'page-title'},
      h('h1', {}, title),
      sub ? h('div', {class: 'page-sub'}, sub) : null),
    h('div', {class: 'page-actions'}, actions));
}

// section is a card with a heading; opts.open=false makes it collapsible
// and closed, opts.id names it for tests and links.
export function section(title, body, opts = {}) {
  const head = [h('h2', {}, title), opts.extra ? h('div', {class: 'section-extra'}, opts.extra) : null];
  if (opts.collapsible || opts.open === false) {
    return h('details', {class: 'card section', open: opts.open !== false, id: opts.id},
      h('summary', {}, icon('chevron', 'icon chev'), ...head), h('div', {class: 'card-body'}, body));
  }
  return h('section', {class: 'card section', id: opts.id},
    h('div', {class: 'section-head'}, ...head), h('div', {class: 'card-body'}, body));
}

// statCards renders [{label, value, sub, kind, id}] as tiles.
export function statCards(items) {
  return h('div', {class: 'stats'}, items.map(it =>
    h(it.href ? 'a' : 'div', {class: ['stat', it.kind], href: it.href, id: it.id, dataset: {stat: it.key || it.label}},
      h('div', {class: 'stat-label'}, it.label),
      h('div', {class: 'stat-value'}, it.value),
      it.sub ? h('div', {class: 'stat-sub'}, it.sub) : null)));
}

export function kv(rows) {
  return h('dl', {class: 'kv'}, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '–')]));
}

export function badge(text, kind = '') {
  return h('span', {class: ['badge', kind]}, text);
}

export function link(href, text) { return h('a', {href}, text); }

export function empty(text) { return h('div', {class: 'empty'}, text); }

// features lists queue or exchange flags as compact badges.
export function features(o) {
  const out = [];
  if (o.durable) out.push(badge('D', 'feat', 'durable'));
  if (o.auto_delete) out.push(badge('AD', 'feat'));
  if (o.exclusive) out.push(badge('Excl', 'feat'));
  if (o.internal) out.push(badge('I', 'feat'));
  const args = o.arguments || {};
  for (const k of Object.keys(args)) {
    if (k === 'x-queue-type') continue;
    out.push(badge(k.replace(/^x-/, ''), 'arg'));
  }
  if (o.policy) out.push(badge(o.policy, 'policy'));
  out.forEach(b => {
    const titles = {D: 'durable', AD: 'auto-delete', Excl: 'exclusive', I: 'internal'};
    if (titles[b.textContent]) b.title = titles[b.textContent];
    else if (b.classList.contains('arg')) b.title = 'x-' + b.textContent + ': ' + fmt.value(args['x-' + b.textContent] ?? args[b.textContent]);
    else b.title = 'policy';
  });
  return h('span', {class: 'features'}, out);
}

// ---- toasts and dialogs -------------------------------------------------

let toastBox;
export function toast(text, kind = 'ok') {
  if (!toastBox) {
    toastBox = h('div', {class: 'toasts', 'aria-live': 'polite'});
    document.body.appendChild(toastBox);
  }
  const t = h('div', {class: ['toast', kind], role: kind === 'error' ? 'alert' : 'status'},
    icon(kind === 'error' ? 'alert' : 'check'), h('span', {}, text));
  toastBox.appendChild(t);
  setTimeout(() => t.classList.add('leaving'), kind === 'error' ? 6000 : 3000);
  setTimeout(() => t.remove(), kind === 'error' ? 6400 : 3400);
}

export function errorText(e) {
  return e instanceof ApiError ? e.describe() : (e && e.message) || String(e);
}

// confirmDialog asks a question in a modal <dialog>; resolves true on OK.
export function confirmDialog(title, text, ok = 'OK', opts = {}) {
  return new Promise(resolve => {
    let input;
    const d = h('dialog', {class: 'dialog'},
      h('form', {method: 'dialog'},
        h('h3', {}, title),
        text ? h('p', {}, text) : null,
        opts.input ? (input = h('input', {type: 'text', name: 'reason', value: opts.input.value || '', placeholder: opts.input.placeholder || '', 'aria-label': opts.input.label || 'value'})) : null,
        h('div', {class: 'dialog-actions'},
          h('button', {type: 'submit', value: 'cancel', class: 'btn'}, 'Cancel'),
          h('button', {type: 'submit', value: 'ok', class: ['btn', opts.danger === false ? 'primary' : 'danger'], id: 'dialog-ok'}, ok))));
    document.body.appendChild(d);
    d.addEventListener('close', () => {
      const v = d.returnValue === 'ok';
      d.remove();
      resolve(v ? (input ? input.value : true) : false);
    });
    d.showModal();
    (input || d.querySelector('#dialog-ok')).focus();
  });
}

// ---- forms --------------------------------------------------------------

export function field(label, control, hint) {
  return h('label', {class: 'field'},
    h('span', {class: 'field-label'}, label),
    control,
    hint ? h('span', {class: 'field-hint'}, hint) : null);
}

export function select(name, options, value) {
  return h('select', {name}, options.map(o => {
    const [v, l] = Array.isArray(o) ? o : [o, o];
    return h('option', {value: v, selected: v === value}, l);
  }));
}

export function input(name, attrs = {}) {
  return h('input', {name, type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs});
}

export function checkbox(name, label, checked) {
  return h('label', {class: 'check'}, h('input', {type: 'checkbox', name, checked}), h('span', {}, label));
}

// errorBox is a place for a form's API error.
export function errorBox() {
  const el = h('div', {class: 'form-error', role: 'alert'});
  el.hidden = true;
  el.show = e => { fill(el, icon('alert'), h('span', {}, errorText(e))); el.hidden = false; };
  el.clear = () => { el.hidden = true; el.replaceChildren(); };
  return el;
}

// form wraps fields with a submit button; onSubmit(form data, form)
// may throw: the error is shown above the button.
export function form(opts, ...children) {
  const err = errorBox();
  const btn = h('button', {type: 'submit', class: 'btn primary'}, opts.submit || 'Save');
  const f = h('form', {class: ['form', opts.class], id: opts.id, novalidate: opts.novalidate}, children, err,
    h('div', {class: 'form-actions'}, btn, opts.extraActions || null));
  f.addEventListener('submit', async ev => {
    ev.preventDefault();
    err.clear();
    btn.disabled = true;
    try {
      await opts.onSubmit(new FormData(f), f);
    } catch (e) {
      err.show(e);
    } finally {
      btn.disabled = false;
    }
  });
  f.errorBox = err;
  return f;
}

// ---- arguments editor ---------------------------------------------------

// argsEditor edits a table of key / value / type rows (queue and exchange
// arguments, message headers, policy definitions). quick: list of
// [key, type] the user can add with one click.
export function argsEditor(opts = {}) {
  const types = opts.types || [['string', 'String'], ['number', 'Number'], ['boolean', 'Boolean'], ['list', 'List (JSON)']];
  const rows = h('div', {class: 'args-rows'});
  const addRow = (k = '', v = '', type = opts.defaultType || 'string') => {
    const key = input('', {placeholder: opts.keyPlaceholder || 'key', 'aria-label': 'key', class: 'arg-key', value: k});
    const val = input('', {placeholder: 'value', 'aria-label': 'value', class: 'arg-value', value: v});
    const typ = select('', types, type);
    typ.classList.add('arg-type');
    typ.setAttribute('aria-label', 'type');
    const rm = h('button', {type: 'button', class: 'btn icon-btn', title: 'Remove', 'aria-label': 'Remove',
      onclick: () => { row.remove(); ensureBlank(); }}, icon('close'));
    const row = h('div', {class: 'args-row'}, key, h('span', {class: 'eq'}, '='), val, typ, rm);
    key.addEventListener('input', ensureBlank);
    rows.appendChild(row);
    return row;
  };
  const ensureBlank = () => {
    const all = [...rows.children];
    if (!all.length || all[all.length - 1].querySelector('.arg-key').value !== '') addRow();
  };
  ensureBlank();
  const quick = opts.quick ? h('div', {class: 'args-quick'}, h('span', {class: 'muted'}, 'Add: '),
    opts.quick.map(([k, type, dv]) => h('button', {type: 'button', class: 'chip', onclick: () => {
      const blank = [...rows.children].find(r => r.querySelector('.arg-key').value === '');
      if (blank) blank.remove();
      addRow(k, dv ?? '', type).querySelector('.arg-value').focus();
      ensureBlank();
    }}, k))) : null;
  const el = h('div', {class: 'args'}, rows, quick);
  el.value = () => {
    const out = {};
    for (const r of rows.children) {
      const k = r.querySelector('.arg-key').value.trim();
      if (!k) continue;
      const raw = r.querySelector('.arg-value').value;
      const t = r.querySelector('.arg-type').value;
      out[k] = convert(k, raw, t);
    }
    return out;
  };
  el.reset = () => { rows.replaceChildren(); ensureBlank(); };
  // set replaces the rows with the entries of obj, types guessed.
  el.set = obj => {
    rows.replaceChildren();
    for (const [k, v] of Object.entries(obj || {})) {
      const t = typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : typeof v === 'object' ? 'list' : 'string';
      addRow(k, typeof v === 'object' ? JSON.stringify(v) : String(v), t);
    }
    ensureBlank();
  };
  return el;
}

function convert(k, raw, t) {
  switch (t) {
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || isNaN(n)) throw new Error(`${k}: "${raw}" is not a number`);
      return n;
    }
    case 'boolean':
      if (/^(true|yes|1)$/i.test(raw.trim())) return true;
      if (/^(false|no|0)$/i.test(raw.trim())) return false;
      throw new Error(`${k}: "${raw}" is not true or false`);
    case 'list':
      try { return JSON.parse(raw); } catch { throw new Error(`${k}: not valid JSON`); }
    default:
      return raw;
  }
}

// ---- tables ---------------------------------------------------------------

// Table renders rows with columns [{key, label, render(row), num, sort}]
// where sort is the API's sort key (server-side) or true (client-side).
// onSort(key, reverse) is called for server-side sorting.
export class Table {
  constructor(opts) {
    this.columns = opts.columns;
    this.rowKey = opts.rowKey || (r => r.name);
    this.onSort = opts.onSort;
    this.sortKey = opts.sortKey || null;
    this.reverse = !!opts.reverse;
    this.emptyText = opts.empty || 'Nothing here yet.';
    this.rows = [];
    this.thead = h('thead', {}, h('tr', {}, this.columns.map(c => {
      const th = h('th', {class: [c.num ? 'num' : '', c.cls], scope: 'col'});
      if (c.sort) {
        const b = h('button', {type: 'button', class: 'sort', dataset: {sort: c.key}, onclick: () => this.sortBy(c)}, c.label, h('span', {class: 'sort-ind', 'aria-hidden': 'true'}));
        th.appendChild(b);
      } else th.textContent = c.label;
      c.th = th;
      return th;
    })));
    this.tbody = h('tbody');
    this.table = h('table', {class: ['table', opts.class]}, this.thead, this.tbody);
    this.el = h('div', {class: 'table-wrap'}, this.table);
    this.markSort();
  }

  sortField(c) { return typeof c.sort === 'string' ? c.sort : c.key; }

  sortBy(c) {
    const key = this.sortField(c);
    if (this.sortKey === key) this.reverse = !this.reverse;
    else { this.sortKey = key; this.reverse = !!c.num; }
    this.markSort();
    if (this.onSort) this.onSort(this.sortKey, this.reverse);
    else this.update(this.rows);
  }

  markSort() {
    for (const c of this.columns) {
      if (!c.th) continue;
      const on = c.sort && this.sortField(c) === this.sortKey;
      c.th.classList.toggle('sorted', !!on);
      c.th.setAttribute('aria-sort', on ? (this.reverse ? 'descending' : 'ascending') : 'none');
    }
  }

  update(rows) {
    this.rows = rows || [];
    let list = this.rows;
    if (!this.onSort && this.sortKey) {
      const key = this.sortKey;
      const col = this.columns.find(c => this.sortField(c) === key);
      const val = r => col && col.value ? col.value(r) : fmt.get(r, key);
      list = [...list].sort((a, b) => {
        const x = val(a), y = val(b);
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x ?? '').localeCompare(String(y ?? ''));
        return this.reverse ? -c : c;
      });
    }
    if (!list.length) {
      fill(this.tbody, h('tr', {class: 'empty-row'}, h('td', {colspan: this.columns.length}, this.emptyText)));
      return;
    }
    fill(this.tbody, list.map(r => h('tr', {dataset: {key: this.rowKey(r)}}, this.columns.map(c => {
      let v = c.render ? c.render(r) : fmt.get(r, c.key);
      if (v === undefined || v === null || v === '') v = c.num ? '–' : '';
      if (typeof v === 'number') v = fmt.num(v);
      return h('td', {class: [c.num ? 'num' : '', c.cls], dataset: {label: c.label}}, v);
    }))));
  }
}

// Pager is the filter / page-size / page control of a server-paged list.
// onChange() is called when the user changes anything.
export class Pager {
  constructor(opts) {
    const saved = JSON.parse(sessionStorage.getItem('warren.pager.' + opts.id) || '{}');
    this.id = opts.id;
    this.page = 1;
    this.pageSize = saved.pageSize || opts.pageSize || 100;
    this.name = saved.name || '';
    this.regex = !!saved.regex;
    this.onChange = opts.onChange;
    const changed = () => { this.save(); this.onChange(); };
    this.filter = h('input', {type: 'search', class: 'filter', placeholder: 'Filter by name' + (opts.noun ? ` (${opts.noun})` : ''), value: this.name,
      'aria-label': 'Filter by name', spellcheck: 'false', autocomplete: 'off'});
    this.filter.addEventListener('input', debounce(() => { this.name = this.filter.value; this.page = 1; changed(); }, 250));
    this.regexBox = h('input', {type: 'checkbox', checked: this.regex, onchange: () => { this.regex = this.regexBox.checked; this.page = 1; changed(); }});
    this.sizeSel = select('page_size', [20, 50, 100, 500].map(n => [String(n), n + ' per page']), String(this.pageSize));
    this.sizeSel.setAttribute('aria-label', 'Page size');
    this.sizeSel.addEventListener('change', () => { this.pageSize = Number(this.sizeSel.value); this.page = 1; changed(); });
    this.prev = h('button', {type: 'button', class: 'btn', 'aria-label': 'Previous page', onclick: () => { if (this.page > 1) { this.page--; changed(); } }}, '‹');
    this.next = h('button', {type: 'button', class: 'btn', 'aria-label': 'Next page', onclick: () => { if (this.page < this.pageCount) { this.page++; changed(); } }}, '›');
    this.info = h('span', {class: 'pager-info'});
    this.pageCount = 1;
    this.el = h('div', {class: 'pager'},
      h('div', {class: 'pager-filter'}, h('span', {class: 'filter-wrap'}, icon('search'), this.filter), h('label', {class: 'check small'}, this.regexBox, h('span', {}, 'Regex'))),
      h('div', {class: 'pager-nav'}, this.info, this.prev, this.next, this.sizeSel));
  }

  save() {
    sessionStorage.setItem('warren.pager.' + this.id, JSON.stringify({pageSize: this.pageSize, name: this.name, regex: this.regex}));
  }

  params() {
    return {page: this.page, page_size: this.pageSize, name: this.name, use_regex: this.regex ? 'true' : 'false', pagination: 'true'};
  }

  // update takes the API's paged response.
  update(res) {
    this.pageCount = Math.max(1, res.page_count || 1);
    if (this.page > this.pageCount) this.page = this.pageCount;
    const n = res.item_count ?? (res.items || []).length;
    const start = n ? (res.page - 1) * res.page_size + 1 : 0;
    const filtered = res.filtered_count ?? n;
    const total = res.total_count ?? filtered;
    const t = `${fmt.num(start)}–${fmt.num(start + n - (n ? 1 : 0))} of ${fmt.num(filtered)}` + (filtered !== total ? ` (${fmt.num(total)} total)` : '');
    this.info.textContent = n ? t : (total ? `No match among ${fmt.num(total)}` : 'None');
    this.prev.disabled = this.page <= 1;
    this.next.disabled = this.page >= this.pageCount;
  }
}

// pagedList normalises an API list response: RabbitMQ answers a plain
// array when pagination parameters are absent and an object with items
// otherwise.
export function pagedList(res, pager) {
  if (Array.isArray(res)) {
    // The server ignored pagination: page on the client.
    let items = res;
    const total = items.length;
    if (pager.name) {
      let re;
      try { re = pager.regex ? new RegExp(pager.name, 'i') : null; } catch { re = null; }
      items = items.filter(x => re ? re.test(x.name) : String(x.name).toLowerCase().includes(pager.name.toLowerCase()));
    }
    const filtered = items.length;
    const pageCount = Math.max(1, Math.ceil(filtered / pager.pageSize));
    const page = Math.min(pager.page, pageCount);
    items = items.slice((page - 1) * pager.pageSize, page * pager.pageSize);
    return {items, page, page_size: pager.pageSize, page_count: pageCount, item_count: items.length, filtered_count: filtered, total_count: total};
  }
  return res;
}
