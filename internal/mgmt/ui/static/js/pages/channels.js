// Channels: the list and a channel's page. A channel is closed by closing
// its connection, as in RabbitMQ.

import * as api from '../api.js';
import {h, fill, icon} from '../dom.js';
import * as fmt from '../fmt.js';
import {pageHeader, section, Table, Pager, pagedList, badge, kv, link, statCards} from '../ui.js';
import {href, go} from '../app.js';
import {closeConnection} from './connections.js';
import {argsText, queueLink} from './common.js';

function mode(c) {
  const out = [];
  if (c.confirm) out.push(badge('confirm', 'feat'));
  if (c.transactional) out.push(badge('tx', 'feat'));
  return out;
}

function connName(c) { return c.connection_details?.name; }

export async function list(ctx, root) {
  const saved = JSON.parse(sessionStorage.getItem('warren.sort.channels') || '{}');
  let sort = saved.sort || '', reverse = !!saved.reverse;
  let task;
  const pager = new Pager({id: 'channels', onChange: () => task.run()});
  const cols = [];
  if (!ctx.vhost) cols.push({key: 'vhost', label: 'Virtual host', sort: 'vhost'});
  cols.push(
    {key: 'name', label: 'Channel', sort: 'name', cls: 'name', render: c => h('a', {href: href('channels', c.name)}, c.name)},
    {key: 'user', label: 'User', sort: 'user'},
    {key: 'mode', label: 'Mode', render: mode},
    {key: 'state', label: 'State', render: c => badge(c.state || 'running', !c.state || c.state === 'running' ? 'ok' : 'warn')},
    {key: 'consumer_count', label: 'Consumers', num: true, sort: 'consumer_count'},
    {key: 'prefetch_count', label: 'Prefetch', num: true},
    {key: 'messages_unacknowledged', label: 'Unacked', num: true, sort: 'messages_unacknowledged'},
    {key: 'messages_unconfirmed', label: 'Unconfirmed', num: true},
    {key: 'publish', label: 'Publish', num: true, sort: 'message_stats.publish_details.rate', render: c => fmt.rate(fmt.get(c, 'message_stats.publish_details.rate') ?? 0)},
    {key: 'deliver', label: 'Deliver / get', num: true, sort: 'message_stats.deliver_get_details.rate', render: c => fmt.rate(fmt.get(c, 'message_stats.deliver_get_details.rate') ?? 0)},
    {key: 'ack', label: 'Ack', num: true, sort: 'message_stats.ack_details.rate', render: c => fmt.rate(fmt.get(c, 'message_stats.ack_details.rate') ?? 0)},
    {key: 'actions', label: '', cls: 'actions', render: c => connName(c) ? h('button', {type: 'button', class: 'btn small danger', title: 'Close the connection of this channel', onclick: () => closeConnection(connName(c), () => task.run())}, 'Close') : ''},
  );
  const table = new Table({
    columns: cols, rowKey: c => c.name, sortKey: sort || null, reverse,
    onSort: (k, r) => { sort = k; reverse = r; sessionStorage.setItem('warren.sort.channels', JSON.stringify({sort, reverse})); task.run(); },
    empty: 'No channels.',
  });
  const count = h('span');
  root.append(pageHeader('Channels', count), h('div', {class: 'card list-card', id: 'channels-list'}, pager.el, table.el));
  task = ctx.every(async () => {
    const base = ctx.vhost ? `api/vhosts/${api.enc(ctx.vhost)}/channels` : 'api/channels';
    const res = await api.get(base, {...pager.params(), sort, sort_reverse: sort ? (reverse ? 'true' : 'false') : ''}, {signal: ctx.signal});
    const p = pagedList(res, pager);
    pager.update(p);
    table.update(p.items || []);
    fill(count, `${fmt.num(p.total_count ?? p.filtered_count)} open channel${p.total_count === 1 ? '' : 's'}`);
  });
}

export async function detail(ctx, root) {
  const [name] = ctx.params;
  const sub = h('div', {class: 'page-sub'});
  const stats = h('div');
  const info = h('div');
  const consumers = new Table({
    rowKey: c => c.consumer_tag,
    columns: [
      {key: 'consumer_tag', label: 'Consumer tag', cls: 'name'},
      {key: 'queue', label: 'Queue', render: c => c.queue ? queueLink(c.queue.vhost, c.queue.name) : ''},
      {key: 'ack_required', label: 'Ack required', render: c => c.ack_required ? 'yes' : 'no'},
      {key: 'exclusive', label: 'Exclusive', render: c => c.exclusive ? 'yes' : 'no'},
      {key: 'prefetch_count', label: 'Prefetch', num: true},
      {key: 'arguments', label: 'Arguments', render: c => argsText(c.arguments)},
    ],
    empty: 'No consumers.',
  });
  let conn = null;
  const close = h('button', {type: 'button', class: 'btn danger', onclick: () => conn && closeConnection(conn, () => go('#/channels'))}, icon('close'), 'Close connection');
  root.append(
    h('div', {class: 'crumb'}, link('#/channels', 'Channels')),
    pageHeader(name, sub, close),
    stats,
    section('Details', info),
    section('Consumers', consumers.el));
  ctx.every(async () => {
    const c = await api.get(`api/channels/${api.enc(name)}`, null, {signal: ctx.signal});
    conn = connName(c);
    fill(sub, badge('vhost ' + c.vhost), ' ', mode(c), ' ', badge(c.state || 'running', 'ok'));
    fill(stats, statCards([
      {key: 'consumers', label: 'Consumers', value: fmt.num(c.consumer_count ?? 0)},
      {key: 'unacked', label: 'Unacked', value: fmt.num(c.messages_unacknowledged ?? 0), kind: 'unacked'},
      {key: 'publish', label: 'Publish', value: fmt.rate(fmt.get(c, 'message_stats.publish_details.rate') ?? 0)},
      {key: 'deliver', label: 'Deliver / get', value: fmt.rate(fmt.get(c, 'message_stats.deliver_get_details.rate') ?? 0)},
      {key: 'ack', label: 'Ack', value: fmt.rate(fmt.get(c, 'message_stats.ack_details.rate') ?? 0)},
    ]));
    fill(info, kv([
      ['Connection', conn ? h('a', {href: href('connections', conn)}, conn) : '–'],
      ['Number', c.number], ['User', c.user], ['Node', c.node],
      ['Prefetch (per consumer)', c.prefetch_count], ['Prefetch (global)', c.global_prefetch_count],
      ['Unconfirmed', c.messages_unconfirmed], ['Uncommitted', c.messages_uncommitted], ['Acks uncommitted', c.acks_uncommitted],
    ].filter(([, v]) => v !== undefined && v !== null)));
    consumers.update(c.consumer_details || []);
  });
}
