// Pieces shared by the exchange and queue pages: bindings, the publish
// form and declaring forms' vhost selector.

import * as api from '../api.js';
import {h, fill, icon} from '../dom.js';
import * as fmt from '../fmt.js';
import {Table, form, field, input, select, argsEditor, toast, confirmDialog, errorText} from '../ui.js';
import {href, state} from '../app.js';

export function exchangeLabel(name) { return name === '' ? '(AMQP default)' : name; }

export function exchangeLink(vhost, name) {
  return h('a', {href: href('exchanges', vhost, name === '' ? 'amq.default' : name)}, exchangeLabel(name));
}

export function queueLink(vhost, name) {
  return h('a', {href: href('queues', vhost, name)}, name);
}

export function vhostSelect(name = 'vhost') {
  const vs = state.vhosts.length ? state.vhosts : ['/'];
  const cur = state.vhost && vs.includes(state.vhost) ? state.vhost : vs.includes('/') ? '/' : vs[0];
  const sel = select(name, vs, cur);
  return sel;
}

export function argsText(a) {
  if (!a || !Object.keys(a).length) return '';
  return h('span', {class: 'mono'}, Object.entries(a).map(([k, v]) => `${k}: ${fmt.value(v)}`).join(', '));
}

// bindingsTable lists bindings with an Unbind button; side is 'source'
// (show the destination) or 'destination' (show the source).
export function bindingsTable(vhost, side, reload) {
  const cols = [];
  if (side === 'source') {
    cols.push({key: 'destination', label: 'To', cls: 'name', render: b => b.destination_type === 'queue' ? queueLink(b.vhost, b.destination) : exchangeLink(b.vhost, b.destination)});
    cols.push({key: 'destination_type', label: 'Type'});
  } else {
    cols.push({key: 'source', label: 'From', cls: 'name', render: b => b.source === '' ? h('span', {class: 'muted'}, '(default exchange binding)') : exchangeLink(b.vhost, b.source)});
  }
  cols.push({key: 'routing_key', label: 'Routing key', render: b => h('code', {}, b.routing_key)});
  cols.push({key: 'arguments', label: 'Arguments', render: b => argsText(b.arguments)});
  cols.push({key: 'actions', label: '', cls: 'actions', render: b => b.source === '' ? '' : h('button', {type: 'button', class: 'btn small danger', onclick: async () => {
    const ok = await confirmDialog('Remove binding?', `${exchangeLabel(b.source)} → ${b.destination} (${b.routing_key || 'no routing key'})`, 'Unbind');
    if (!ok) return;
    try {
      await api.del(`api/bindings/${api.enc(b.vhost)}/e/${api.encExchange(b.source)}/${b.destination_type === 'queue' ? 'q' : 'e'}/${api.enc(b.destination)}/${api.enc(b.properties_key ?? '~')}`);
      toast('Binding removed');
      reload();
    } catch (e) { toast(errorText(e), 'error'); }
  }}, 'Unbind')});
  return new Table({columns: cols, rowKey: b => `${b.source}|${b.destination_type}|${b.destination}|${b.properties_key}`, empty: 'No bindings.'});
}

// bindForm adds a binding. fixed: {vhost, source} or {vhost, destination,
// destination_type}.
export function bindForm(fixed, done) {
  const other = input('other', {placeholder: fixed.source !== undefined ? 'queue or exchange name' : 'exchange name', required: true});
  const destType = select('dest_type', [['q', 'To queue'], ['e', 'To exchange']], 'q');
  const rk = input('routing_key', {placeholder: 'routing key'});
  const args = argsEditor({quick: [['x-match', 'string', 'all']]});
  const f = form({submit: 'Bind', class: 'bind-form', onSubmit: async () => {
    const name = other.value.trim();
    if (!name) throw new Error('Name is required');
    const body = {routing_key: rk.value, arguments: args.value()};
    let path;
    if (fixed.source !== undefined) {
      path = `api/bindings/${api.enc(fixed.vhost)}/e/${api.encExchange(fixed.source)}/${destType.value}/${api.enc(name)}`;
    } else {
      path = `api/bindings/${api.enc(fixed.vhost)}/e/${api.encExchange(name)}/${fixed.destination_type}/${api.enc(fixed.destination)}`;
    }
    await api.post(path, body);
    toast('Binding added');
    other.value = ''; rk.value = ''; args.reset();
    done();
  }},
  h('div', {class: 'form-row'},
    fixed.source !== undefined ? field('Destination type', destType) : null,
    field(fixed.source !== undefined ? 'Destination' : 'From exchange', other),
    field('Routing key', rk)),
  field('Arguments', args));
  return f;
}

const PROPERTY_KEYS = [
  ['content_type', 'string', 'text/plain'], ['content_encoding', 'string'], ['priority', 'number'], ['correlation_id', 'string'],
  ['reply_to', 'string'], ['expiration', 'string'], ['message_id', 'string'], ['timestamp', 'number'],
  ['type', 'string'], ['user_id', 'string'], ['app_id', 'string'],
];

// publishForm publishes to an exchange (routing key field shown) or, for
// a queue page, to the default exchange with the queue's name as key.
export function publishForm({vhost, exchange, routingKey}) {
  const rk = input('routing_key', {placeholder: 'routing key', value: routingKey ?? ''});
  const mode = select('delivery_mode', [['1', '1 – Non-persistent'], ['2', '2 – Persistent']], '2');
  const headers = argsEditor({keyPlaceholder: 'header'});
  const props = argsEditor({keyPlaceholder: 'property', quick: PROPERTY_KEYS});
  const payload = h('textarea', {name: 'payload', rows: 5, placeholder: 'Message body', spellcheck: 'false'});
  const enc = select('payload_encoding', [['string', 'String'], ['base64', 'Base64']], 'string');
  const result = h('div', {class: 'form-result', 'aria-live': 'polite'});
  const f = form({submit: 'Publish message', id: 'publish-form', onSubmit: async () => {
    result.replaceChildren();
    const properties = {delivery_mode: Number(mode.value), ...props.value()};
    const hd = headers.value();
    if (Object.keys(hd).length) properties.headers = hd;
    const body = {properties, routing_key: routingKey !== undefined && exchange === '' ? routingKey : rk.value, payload: payload.value, payload_encoding: enc.value};
    const res = await api.post(`api/exchanges/${api.enc(vhost)}/${api.encExchange(exchange)}/publish`, body);
    const routed = res && res.routed;
    fill(result, h('div', {class: ['notice', routed ? '' : 'warn'], id: 'publish-result'}, routed ? '✓ Message published.' : 'Message published, but not routed to any queue.'));
    toast(routed ? 'Message published' : 'Message published but not routed', routed ? 'ok' : 'error');
  }},
  routingKey !== undefined && exchange === ''
    ? h('p', {class: 'muted'}, 'Published to the default exchange with routing key ', h('code', {}, routingKey), ', which routes it to this queue.')
    : h('div', {class: 'form-row'}, field('Routing key', rk), field('Delivery mode', mode)),
  routingKey !== undefined && exchange === '' ? field('Delivery mode', mode) : null,
  field('Headers', headers),
  field('Properties', props),
  field('Payload', payload),
  h('div', {class: 'form-row'}, field('Payload encoding', enc)));
  return h('div', {}, f, result);
}

// deleteButton confirms and runs del(); then navigates to after.
export function dangerButton(label, title, text, action) {
  return h('button', {type: 'button', class: 'btn danger', onclick: async () => {
    if (!await confirmDialog(title, text, label)) return;
    try { await action(); } catch (e) { toast(errorText(e), 'error'); }
  }}, icon(label === 'Purge' ? 'close' : 'trash'), label);
}
