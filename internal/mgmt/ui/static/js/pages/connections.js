// Connections: the list and a connection's page, with close (DELETE with
// an X-Reason header, as RabbitMQ's UI does).

import * as api from '../api.js';
import {h, fill, icon} from '../dom.js';
import * as fmt from '../fmt.js';
import {pageHeader, section, Table, Pager, pagedList, badge, toast, kv, link, confirmDialog, errorText, statCards} from '../ui.js';
import {href, go} from '../app.js';

export async function closeConnection(name, after) {
  const reason = await confirmDialog('Close connection?', name, 'Close', {input: {value: 'Closed via management plugin', label: 'Reason', placeholder: 'Reason sent to the client'}});
  if (reason === false) return;
  try {
    await api.del(`api/connections/${api.enc(name)}`, {headers: {'X-Reason': reason || 'Closed via management plugin'}});
    toast('Connection closed');
    if (after) after();
  } catch (e) { toast(errorText(e), 'error'); }
}

function stateBadge(c) {
  const st = c.state || 'running';
  return badge(st, st === 'running' ? 'ok' : st === 'blocked' || st === 'blocking' || st === 'flow' ? 'warn' : '');
}

function client(c) {
  const cp = c.client_properties || {};
  const p = [cp.product, cp.version].filter(Boolean).join(' ');
  return p || '';
}

export async function list(ctx, root) {
  const saved = JSON.parse(sessionStorage.getItem('warren.sort.connections') || '{}');
  let sort = saved.sort || '', reverse = !!saved.reverse;
  let task;
  const pager = new Pager({id: 'connections', onChange: () => task.run()});
  const cols = [];
  if (!ctx.vhost) cols.push({key: 'vhost', label: 'Virtual host', sort: 'vhost'});
  cols.push(
    {key: 'name', label: 'Name', sort: 'name', cls: 'name', render: c => h('a', {href: href('connections', c.name)}, c.name)},
    {key: 'user', label: 'User', sort: 'user'},
    {key: 'state', label: 'State', render: stateBadge},
    {key: 'client', label: 'Client', render: client},
    {key: 'protocol', label: 'Protocol', render: c => [c.protocol, c.ssl ? badge('TLS', 'ok') : null]},
    {key: 'channels', label: 'Channels', num: true, sort: 'channels'},
    {key: 'recv', label: 'From client', num: true, sort: 'recv_oct_details.rate', render: c => fmt.byteRate(fmt.get(c, 'recv_oct_details.rate') ?? 0)},
    {key: 'send', label: 'To client', num: true, sort: 'send_oct_details.rate', render: c => fmt.byteRate(fmt.get(c, 'send_oct_details.rate') ?? 0)},
    {key: 'actions', label: '', cls: 'actions', render: c => h('button', {type: 'button', class: 'btn small danger', title: 'Close connection', onclick: () => closeConnection(c.name, () => task.run())}, 'Close')},
  );
  const table = new Table({
    columns: cols, rowKey: c => c.name, sortKey: sort || null, reverse,
    onSort: (k, r) => { sort = k; reverse = r; sessionStorage.setItem('warren.sort.connections', JSON.stringify({sort, reverse})); task.run(); },
    empty: 'No connections.',
  });
  const count = h('span');
  root.append(pageHeader('Connections', count), h('div', {class: 'card list-card', id: 'connections-list'}, pager.el, table.el));
  task = ctx.every(async () => {
    const base = ctx.vhost ? `api/vhosts/${api.enc(ctx.vhost)}/connections` : 'api/connections';
    const res = await api.get(base, {...pager.params(), sort, sort_reverse: sort ? (reverse ? 'true' : 'false') : ''}, {signal: ctx.signal});
    const p = pagedList(res, pager);
    pager.update(p);
    table.update(p.items || []);
    fill(count, `${fmt.num(p.total_count ?? p.filtered_count)} open connection${p.total_count === 1 ? '' : 's'}`);
  });
}

export async function detail(ctx, root) {
  const [name] = ctx.params;
  const base = `api/connections/${api.enc(name)}`;
  const sub = h('div', {class: 'page-sub'});
  const stats = h('div');
  const info = h('div');
  const cprops = h('div');
  const channels = new Table({
    rowKey: c => c.name,
    columns: [
      {key: 'name', label: 'Channel', cls: 'name', render: c => h('a', {href: href('channels', c.name)}, c.name)},
      {key: 'state', label: 'State', render: c => badge(c.state || 'running', c.state === 'running' || !c.state ? 'ok' : 'warn')},
      {key: 'consumer_count', label: 'Consumers', num: true},
      {key: 'prefetch_count', label: 'Prefetch', num: true},
      {key: 'messages_unacknowledged', label: 'Unacked', num: true},
      {key: 'messages_unconfirmed', label: 'Unconfirmed', num: true},
    ],
    empty: 'No channels.',
  });
  const close = h('button', {type: 'button', class: 'btn danger', id: 'close-connection', onclick: () => closeConnection(name, () => go('#/connections'))}, icon('close'), 'Close connection');
  root.append(
    h('div', {class: 'crumb'}, link('#/connections', 'Connections')),
    pageHeader(name, sub, close),
    stats,
    h('div', {class: 'grid-2'}, section('Details', info), section('Client properties', cprops)),
    section('Channels', channels.el));
  ctx.every(async () => {
    const c = await api.get(base, null, {signal: ctx.signal});
    fill(sub, badge('vhost ' + c.vhost), ' ', stateBadge(c), ' ', c.user ? badge('user ' + c.user) : null);
    fill(stats, statCards([
      {key: 'channels', label: 'Channels', value: fmt.num(c.channels ?? 0)},
      {key: 'recv', label: 'From client', value: fmt.byteRate(fmt.get(c, 'recv_oct_details.rate') ?? 0), sub: fmt.bytes(c.recv_oct)},
      {key: 'send', label: 'To client', value: fmt.byteRate(fmt.get(c, 'send_oct_details.rate') ?? 0), sub: fmt.bytes(c.send_oct)},
    ]));
    fill(info, kv([
      ['Protocol', c.protocol], ['Client address', c.peer_host !== undefined ? `${c.peer_host}:${c.peer_port}` : null],
      ['Server address', c.host !== undefined ? `${c.host}:${c.port}` : null], ['Node', c.node], ['User', c.user],
      ['Authentication', c.auth_mechanism], ['TLS', c.ssl ? `yes (${c.ssl_protocol || ''})` : 'no'],
      ['Heartbeat', c.timeout !== undefined ? c.timeout + ' s' : null], ['Frame max', c.frame_max !== undefined ? fmt.num(c.frame_max) + ' bytes' : null],
      ['Channel max', c.channel_max], ['Connected at', c.connected_at ? fmt.datetime(c.connected_at) : null],
    ].filter(([, v]) => v !== undefined && v !== null)));
    const cp = c.client_properties || {};
    fill(cprops, Object.keys(cp).length ? kv(Object.entries(cp).map(([k, v]) => [k, typeof v === 'object' ? h('code', {}, JSON.stringify(v)) : String(v)])) : h('div', {class: 'empty'}, 'None sent.'));
  });
  ctx.every(async () => {
    channels.update(await api.get(base + '/channels', null, {signal: ctx.signal}) || []);
  });
}
