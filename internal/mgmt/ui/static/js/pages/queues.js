// Queues: the server-paged list (fast with many thousands of queues), the
// declare form, and a queue's page with live charts, consumers, bindings,
// publish, get, purge and delete.

import * as api from '../api.js';
import {h, fill} from '../dom.js';
import * as fmt from '../fmt.js';
import {pageHeader, section, statCards, Table, Pager, pagedList, form, field, input, select, argsEditor, features, badge, toast, kv, link} from '../ui.js';
import {liveCharts} from '../live.js';
import {QUEUE_RATE_SERIES, lengthSeries, samplesQuery, chartWindow} from '../stats.js';
import {href, state, go} from '../app.js';
import {bindingsTable, bindForm, publishForm, vhostSelect, argsText, dangerButton, exchangeLink} from './common.js';

const LIST_COLUMNS = 'name,vhost,type,durable,auto_delete,exclusive,arguments,policy,state,consumers,messages_ready,messages_unacknowledged,messages,message_stats';

function stateBadge(q) {
  const st = q.state || 'running';
  return badge(st, st === 'running' ? 'ok' : st === 'idle' ? '' : 'warn');
}

function queueType(q) { return q.type || (q.arguments && q.arguments['x-queue-type']) || 'classic'; }

export async function list(ctx, root) {
  const saved = JSON.parse(sessionStorage.getItem('warren.sort.queues') || '{}');
  let sort = saved.sort || 'name', reverse = !!saved.reverse;
  let task;
  const pager = new Pager({id: 'queues', onChange: () => task.run()});
  const cols = [];
  if (!ctx.vhost) cols.push({key: 'vhost', label: 'Virtual host', sort: 'vhost'});
  cols.push(
    {key: 'name', label: 'Name', sort: 'name', cls: 'name', render: q => h('a', {href: href('queues', q.vhost, q.name)}, q.name)},
    {key: 'type', label: 'Type', render: q => queueType(q)},
    {key: 'features', label: 'Features', render: q => features(q)},
    {key: 'state', label: 'State', render: stateBadge},
    {key: 'consumers', label: 'Consumers', num: true, sort: 'consumers'},
    {key: 'messages_ready', label: 'Ready', num: true, sort: 'messages_ready'},
    {key: 'messages_unacknowledged', label: 'Unacked', num: true, sort: 'messages_unacknowledged'},
    {key: 'messages', label: 'Total', num: true, sort: 'messages'},
    {key: 'in', label: 'Incoming', num: true, sort: 'message_stats.publish_details.rate', render: q => fmt.rate(fmt.get(q, 'message_stats.publish_details.rate') ?? 0)},
    {key: 'out', label: 'Deliver / get', num: true, sort: 'message_stats.deliver_get_details.rate', render: q => fmt.rate(fmt.get(q, 'message_stats.deliver_get_details.rate') ?? 0)},
    {key: 'ack', label: 'Ack', num: true, sort: 'message_stats.ack_details.rate', render: q => fmt.rate(fmt.get(q, 'message_stats.ack_details.rate') ?? 0)},
  );
  const table = new Table({
    columns: cols, rowKey: q => q.vhost + '/' + q.name, sortKey: sort, reverse,
    onSort: (k, r) => { sort = k; reverse = r; sessionStorage.setItem('warren.sort.queues', JSON.stringify({sort, reverse})); task.run(); },
    empty: 'No queues.', class: 'queues-table',
  });
  const count = h('span');
  root.append(
    pageHeader('Queues', count),
    h('div', {class: 'card list-card', id: 'queues-list'}, pager.el, table.el),
    section('Add a new queue', declareQueueForm(() => task.run()), {open: false, id: 'add-queue'}));
  task = ctx.every(async () => {
    const base = ctx.vhost ? `api/queues/${api.enc(ctx.vhost)}` : 'api/queues';
    const t0 = performance.now();
    const res = await api.get(base, {...pager.params(), sort, sort_reverse: reverse ? 'true' : 'false', columns: LIST_COLUMNS}, {signal: ctx.signal});
    const p = pagedList(res, pager);
    pager.update(p);
    table.update(p.items || []);
    delete table.tbody.dataset.stale;
    const ms = performance.now() - t0;
    root.dataset.loadMs = ms.toFixed(0);
    fill(count, `${fmt.num(p.total_count ?? p.filtered_count)} queue${p.total_count === 1 ? '' : 's'}` + (ctx.vhost ? ` in ${ctx.vhost}` : ' in all virtual hosts'),
      h('span', {class: 'muted', title: 'Time to fetch and draw this page'}, ` · ${ms.toFixed(0)} ms`));
  });
}

function declareQueueForm(done) {
  const vh = vhostSelect();
  const type = select('type', [['classic', 'Classic'], ['quorum', 'Quorum'], ['stream', 'Stream']], 'classic');
  const name = input('name', {placeholder: 'queue name', required: true, id: 'queue-name'});
  const dur = select('durable', [['true', 'Durable'], ['false', 'Transient']], 'true');
  const ad = select('auto_delete', [['false', 'No'], ['true', 'Yes']], 'false');
  const args = argsEditor({quick: [
    ['x-message-ttl', 'number'], ['x-expires', 'number'], ['x-max-length', 'number'], ['x-max-length-bytes', 'number'],
    ['x-overflow', 'string', 'reject-publish'], ['x-dead-letter-exchange', 'string'], ['x-dead-letter-routing-key', 'string'],
    ['x-single-active-consumer', 'boolean', 'true'], ['x-max-priority', 'number'], ['x-queue-mode', 'string', 'lazy'],
  ]});
  const f = form({submit: 'Add queue', id: 'declare-queue', onSubmit: async () => {
    const n = name.value.trim();
    if (!n) throw new Error('The queue needs a name.');
    const a = args.value();
    a['x-queue-type'] = type.value;
    await api.put(`api/queues/${api.enc(vh.value)}/${api.enc(n)}`, {durable: dur.value === 'true', auto_delete: ad.value === 'true', arguments: a});
    toast(`Queue ${n} declared`);
    name.value = '';
    args.reset();
    done();
  }},
  h('div', {class: 'form-row'}, field('Virtual host', vh), field('Type', type), field('Name', name)),
  h('div', {class: 'form-row'}, field('Durability', dur), field('Auto delete', ad)),
  field('Arguments', args));
  return f;
}

export async function detail(ctx, root) {
  const [vhost, name] = ctx.params;
  const base = `api/queues/${api.enc(vhost)}/${api.enc(name)}`;
  const sub = h('div', {class: 'page-sub'});
  const statsBox = h('div');
  const live = liveCharts({id: `queue:${vhost}:${name}`, rateSeries: QUEUE_RATE_SERIES, lengthSeries: lengthSeries(), domId: 'queue', height: 180});
  ctx.onLeave(live.destroy);
  const info = h('div');
  const consumers = new Table({
    rowKey: c => c.consumer_tag + (c.channel_details?.name || ''),
    columns: [
      {key: 'channel', label: 'Channel', render: c => c.channel_details ? h('a', {href: href('channels', c.channel_details.name)}, c.channel_details.name) : ''},
      {key: 'consumer_tag', label: 'Consumer tag', cls: 'name'},
      {key: 'ack_required', label: 'Ack required', render: c => c.ack_required ? 'yes' : 'no'},
      {key: 'exclusive', label: 'Exclusive', render: c => c.exclusive ? 'yes' : 'no'},
      {key: 'prefetch_count', label: 'Prefetch', num: true},
      {key: 'active', label: 'Active', render: c => c.active === false ? badge('waiting', 'warn') : badge('active', 'ok')},
      {key: 'arguments', label: 'Arguments', render: c => argsText(c.arguments)},
    ],
    empty: 'No consumers.',
  });
  const bindings = bindingsTable(vhost, 'destination', () => bindTask.run());
  const got = h('div', {class: 'messages', id: 'get-result'});

  const purge = dangerButton('Purge', 'Purge queue?', `All ready messages in ${name} will be deleted.`, async () => {
    await api.del(base + '/contents');
    toast('Queue purged');
    ctx.refresh();
  });
  purge.id = 'purge-queue';
  const del = dangerButton('Delete', 'Delete queue?', `${name} and all its messages will be deleted.`, async () => {
    await api.del(base);
    toast(`Queue ${name} deleted`);
    go('#/queues');
  });
  del.id = 'delete-queue';

  root.append(
    h('div', {class: 'crumb'}, link('#/queues', 'Queues'), '›', 'virtual host', h('code', {}, vhost)),
    pageHeader(name, sub, purge, del),
    statsBox,
    h('div', {class: 'grid-2'}, live.cards),
    h('div', {class: 'grid-2'},
      section('Details', info, {id: 'queue-details'}),
      section('Consumers', consumers.el, {id: 'queue-consumers'})),
    section('Get messages', getForm(vhost, name, got), {id: 'get-messages'}),
    section('Publish message', publishForm({vhost, exchange: '', routingKey: name}), {open: false, id: 'publish-message'}),
    section('Bindings', h('div', {}, bindings.el, h('h3', {class: 'sub-h'}, 'Add binding to this queue'),
      bindForm({vhost, destination: name, destination_type: 'q'}, () => bindTask.run())), {id: 'queue-bindings'}));

  let first = true;
  ctx.every(async () => {
    const params = {};
    if (first && live.wantsSeed) Object.assign(params, samplesQuery(chartWindow(), state.refreshMs || 5000));
    first = false;
    const q = await api.get(base, params, {signal: ctx.signal});
    live.update(q);
    fill(sub, badge(queueType(q)), ' ', features(q), ' ', stateBadge(q));
    fill(statsBox, statCards([
      {key: 'ready', label: 'Ready', value: fmt.num(q.messages_ready ?? 0), kind: 'ready'},
      {key: 'unacked', label: 'Unacked', value: fmt.num(q.messages_unacknowledged ?? 0), kind: 'unacked'},
      {key: 'total', label: 'Total', value: fmt.num(q.messages ?? 0), kind: 'total', sub: typeof q.message_bytes === 'number' ? fmt.bytes(q.message_bytes) : null},
      {key: 'consumers', label: 'Consumers', value: fmt.num(q.consumers ?? 0), sub: typeof q.consumer_utilisation === 'number' ? 'utilisation ' + fmt.pct(q.consumer_utilisation) : null},
      {key: 'in', label: 'Incoming', value: fmt.rate(fmt.get(q, 'message_stats.publish_details.rate') ?? 0)},
      {key: 'out', label: 'Deliver / get', value: fmt.rate(fmt.get(q, 'message_stats.deliver_get_details.rate') ?? 0)},
    ]));
    fill(info, kv([
      ['Virtual host', q.vhost],
      ['Type', queueType(q)],
      ['Durable', q.durable ? 'yes' : 'no'],
      ['Auto delete', q.auto_delete ? 'yes' : 'no'],
      ['Exclusive', q.exclusive ? 'yes' + (q.owner_pid_details?.name ? ` (${q.owner_pid_details.name})` : '') : 'no'],
      ['Arguments', argsText(Object.fromEntries(Object.entries(q.arguments || {}))) || '–'],
      ['Policy', q.policy || '–'],
      // Older APIs have no operator policies: leave the row out there.
      'operator_policy' in q ? ['Operator policy', q.operator_policy || '–'] : null,
      q.effective_policy_definition && Object.keys(q.effective_policy_definition).length ? ['Effective policy', argsText(q.effective_policy_definition)] : null,
      ['Node', q.node],
      typeof q.memory === 'number' ? ['Memory', fmt.bytes(q.memory)] : null,
      q.idle_since ? ['Idle since', fmt.datetime(q.idle_since)] : null,
      q.dead_letter_exchange ? ['Dead letter exchange', exchangeLink(q.vhost, q.dead_letter_exchange)] : null,
    ]));
    consumers.update(q.consumer_details || []);
  });
  const bindTask = ctx.every(async () => {
    bindings.update(await api.get(base + '/bindings', null, {signal: ctx.signal}) || []);
  });
}

function getForm(vhost, name, out) {
  const ackmode = select('ackmode', [
    ['ack_requeue_true', 'Nack message, requeue (keep it)'],
    ['ack_requeue_false', 'Automatic ack (remove it)'],
    ['reject_requeue_true', 'Reject, requeue'],
    ['reject_requeue_false', 'Reject, do not requeue'],
  ], 'ack_requeue_true');
  const encoding = select('encoding', [['auto', 'Auto string / base64'], ['base64', 'Base64']], 'auto');
  const count = input('count', {type: 'number', min: 1, max: 1000, value: '1'});
  const truncate = input('truncate', {type: 'number', min: 1, value: '50000'});
  const f = form({submit: 'Get message(s)', id: 'get-form', onSubmit: async () => {
    const n = Number(count.value);
    if (!(n >= 1)) throw new Error('Messages: enter a number of at least 1');
    const body = {count: n, ackmode: ackmode.value, encoding: encoding.value};
    if (truncate.value) body.truncate = Number(truncate.value);
    const msgs = await api.post(`api/queues/${api.enc(vhost)}/${api.enc(name)}/get`, body);
    if (!msgs || !msgs.length) {
      fill(out, h('div', {class: 'notice warn'}, 'Queue is empty.'));
      return;
    }
    fill(out, msgs.map((m, i) => renderMessage(m, i + 1)));
  }},
  h('div', {class: 'form-row'}, field('Ack mode', ackmode), field('Encoding', encoding), field('Messages', count), field('Truncate at (bytes)', truncate)),
  h('p', {class: 'field-hint'}, 'Nack and reject with requeue put messages back with the redelivered flag set: use this to inspect a queue, not to consume from it.'));
  return h('div', {}, f, out);
}

function renderMessage(m, i) {
  const props = {...(m.properties || {})};
  const headers = props.headers;
  delete props.headers;
  return h('div', {class: 'message'},
    h('div', {class: 'message-head'},
      h('b', {}, `Message ${i}`),
      h('span', {}, 'Exchange ', h('b', {}, m.exchange === '' ? '(AMQP default)' : m.exchange)),
      h('span', {}, 'Routing key ', h('b', {}, m.routing_key)),
      m.redelivered ? badge('redelivered', 'warn') : null,
      h('span', {class: 'muted'}, `${fmt.num(m.message_count)} left in queue`)),
    Object.keys(props).length || headers ? kv([
      ...Object.entries(props).map(([k, v]) => [k, fmt.value(v)]),
      headers && Object.keys(headers).length ? ['headers', argsText(headers)] : null,
    ]) : null,
    h('div', {class: 'message-head'}, h('span', {}, 'Payload'), h('span', {class: 'muted'}, `${fmt.num(m.payload_bytes)} bytes · encoding ${m.payload_encoding}`)),
    h('pre', {class: 'payload'}, m.payload));
}
