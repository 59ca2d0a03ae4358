// Overview: totals, live charts, nodes (health, alarms, resources) and
// listeners.

import * as api from '../api.js';
import {h, fill} from '../dom.js';
import * as fmt from '../fmt.js';
import {pageHeader, section, statCards, Table, badge, empty} from '../ui.js';
import {liveCharts} from '../live.js';
import {RATE_SERIES, lengthSeries, samplesQuery, chartWindow} from '../stats.js';
import {canMonitor, state} from '../app.js';

function meter(used, limit, {fmtv = fmt.bytes, invert = false} = {}) {
  if (typeof used !== 'number') return '–';
  const hasLimit = typeof limit === 'number' && limit > 0;
  const ratio = hasLimit ? used / limit : 0;
  const fillEl = h('div', {class: 'meter-fill'});
  // invert: for disk, "used" is free space and limit is the minimum.
  let cls = '';
  if (invert) cls = used < limit ? 'bad' : used < limit * 2 ? 'warn' : '';
  else cls = ratio >= 1 ? 'bad' : ratio > .8 ? 'warn' : '';
  if (cls) fillEl.classList.add(cls);
  fillEl.style.width = invert ? '100%' : Math.min(100, Math.max(2, ratio * 100)).toFixed(1) + '%';
  const text = invert ? `${fmtv(used)} free · limit ${fmtv(limit)}` : hasLimit ? `${fmtv(used)} of ${fmtv(limit)}` : fmtv(used);
  return h('div', {class: 'meter'}, hasLimit ? h('div', {class: 'meter-bar'}, fillEl) : null, h('div', {class: 'meter-text'}, text));
}

function alarmsOf(n) {
  const out = [];
  if (n.mem_alarm) out.push('memory');
  if (n.disk_free_alarm) out.push('disk');
  return out;
}

export async function overview(ctx, root) {
  const statsBox = h('div', {id: 'overview-stats'});
  const sub = h('span');
  const live = liveCharts({id: 'overview', rateSeries: RATE_SERIES, lengthSeries: lengthSeries('queue_totals.'), domId: 'overview'});
  ctx.onLeave(live.destroy);

  const nodesTable = new Table({
    rowKey: n => n.name,
    columns: [
      {key: 'name', label: 'Node', cls: 'name nowrap'},
      {key: 'health', label: 'Health', render: n => {
        const al = alarmsOf(n);
        if (n.running === false) return h('span', {class: 'health'}, h('span', {class: 'dot bad'}), 'Not running');
        return al.length ? h('span', {class: 'health'}, h('span', {class: 'dot bad'}), 'Alarm: ' + al.join(', ')) :
          h('span', {class: 'health'}, h('span', {class: 'dot'}), 'Healthy');
      }},
      {key: 'uptime', label: 'Uptime', render: n => fmt.duration(n.uptime)},
      {key: 'mem', label: 'Memory', render: n => meter(n.mem_used, n.mem_limit)},
      {key: 'disk', label: 'Disk', render: n => meter(n.disk_free, n.disk_free_limit, {invert: true})},
      {key: 'fd', label: 'File descriptors', render: n => meter(n.fd_used, n.fd_total, {fmtv: fmt.num})},
      {key: 'sockets', label: 'Sockets', render: n => n.sockets_total ? meter(n.sockets_used, n.sockets_total, {fmtv: fmt.num}) : fmt.num(n.sockets_used)},
      {key: 'type', label: 'Type', render: n => n.type || 'disc'},
    ],
    empty: 'No node information.',
  });
  const alarmsBox = h('div', {id: 'alarms'});
  const listenersTable = new Table({
    rowKey: l => l.protocol + l.port,
    columns: [
      {key: 'protocol', label: 'Protocol', render: l => h('b', {}, l.protocol)},
      {key: 'ip_address', label: 'Bound to', render: l => h('code', {}, l.ip_address)},
      {key: 'port', label: 'Port', num: true, render: l => String(l.port)},
      {key: 'node', label: 'Node'},
    ],
    empty: 'No listeners reported.',
  });
  const aboutBox = h('div');

  root.append(
    pageHeader('Overview', sub),
    statsBox,
    h('div', {class: 'grid-2'}, live.cards),
    section('Nodes', h('div', {class: 'table-wrap'}, nodesTable.el), {id: 'nodes'}),
    h('div', {class: 'grid-2'},
      section('Alarms', alarmsBox, {id: 'alarms-card'}),
      section('Listeners', listenersTable.el, {id: 'listeners'})),
    section('About', aboutBox, {id: 'about'}));

  let first = true;
  ctx.every(async () => {
    const params = {};
    if (first && live.wantsSeed) Object.assign(params, samplesQuery(chartWindow(), state.refreshMs || 5000));
    first = false;
    const o = await api.get('api/overview', params, {signal: ctx.signal});
    state.overview = o;
    live.update(o);
    const ot = o.object_totals || {}, qt = o.queue_totals || {};
    fill(sub, [o.cluster_name ? h('span', {}, 'Cluster ', h('b', {}, o.cluster_name)) : null,
      o.node ? h('span', {class: 'muted'}, ' · node ' + o.node) : null]);
    fill(statsBox, statCards([
      {key: 'connections', label: 'Connections', value: fmt.num(ot.connections ?? 0), href: '#/connections'},
      {key: 'channels', label: 'Channels', value: fmt.num(ot.channels ?? 0), href: '#/channels'},
      {key: 'exchanges', label: 'Exchanges', value: fmt.num(ot.exchanges ?? 0), href: '#/exchanges'},
      {key: 'queues', label: 'Queues', value: fmt.num(ot.queues ?? 0), href: '#/queues'},
      {key: 'consumers', label: 'Consumers', value: fmt.num(ot.consumers ?? 0)},
      {key: 'ready', label: 'Ready', value: fmt.num(qt.messages_ready ?? 0), kind: 'ready'},
      {key: 'unacked', label: 'Unacked', value: fmt.num(qt.messages_unacknowledged ?? 0), kind: 'unacked'},
      {key: 'total', label: 'Total messages', value: fmt.num(qt.messages ?? 0), kind: 'total'},
    ]));
    listenersTable.update(o.listeners || []);
    fill(aboutBox, h('dl', {class: 'kv'},
      [['Product', `${o.product_name || 'Warren'} ${o.product_version || ''}`.trim()],
        ['RabbitMQ compatibility', o.rabbitmq_version],
        ['Management API', o.management_version],
        ['Runtime', o.erlang_full_version || o.erlang_version],
        ['Statistics', o.statistics_db_event_queue !== undefined ? 'event queue ' + o.statistics_db_event_queue : o.rates_mode ? 'rates mode ' + o.rates_mode : null],
      ].filter(([, v]) => v).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
    if (!canMonitor()) {
      // Only monitoring users may read /api/nodes; show what the overview says.
      nodesTable.update(o.node ? [{name: o.node, running: true}] : []);
      fill(alarmsBox, empty('Node alarms are visible to monitoring and administrator users.'));
    }
  });

  if (canMonitor()) {
    ctx.every(async () => {
      const nodes = await api.get('api/nodes', null, {signal: ctx.signal});
      nodesTable.update(nodes || []);
      const active = [];
      for (const n of nodes || []) {
        for (const a of alarmsOf(n)) active.push([n.name, a]);
        if (n.running === false) active.push([n.name, 'node down']);
      }
      fill(alarmsBox, active.length
        ? h('div', {class: 'alarm-list'}, active.map(([n, a]) => h('div', {class: 'banner'}, badge(a, 'bad'), ' ', h('span', {}, a === 'node down' ? `Node ${n} is not running.` : `${a === 'memory' ? 'Memory' : 'Disk space'} alarm on ${n}: publishers are blocked.`))))
        : h('div', {class: 'notice', id: 'no-alarms'}, '✓ No alarms: memory and disk are within their limits on every node.'));
    });
  }
}
