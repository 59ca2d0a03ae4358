// Exchanges: the list, the declare form, and an exchange's page with its
// rates, bindings (both ways), bind, publish and delete.

import * as api from '../api.js';
import {h, fill} from '../dom.js';
import * as fmt from '../fmt.js';
import {pageHeader, section, Table, Pager, pagedList, form, field, input, select, argsEditor, features, badge, toast, kv, link} from '../ui.js';
import {liveCharts} from '../live.js';
import {EXCHANGE_RATE_SERIES} from '../stats.js';
import {href, go} from '../app.js';
import {bindingsTable, bindForm, publishForm, vhostSelect, argsText, dangerButton, exchangeLabel} from './common.js';

const TYPES = ['direct', 'fanout', 'topic', 'headers'];

export async function list(ctx, root) {
  const saved = JSON.parse(sessionStorage.getItem('warren.sort.exchanges') || '{}');
  let sort = saved.sort || 'name', reverse = !!saved.reverse;
  let task;
  const pager = new Pager({id: 'exchanges', onChange: () => task.run()});
  const cols = [];
  if (!ctx.vhost) cols.push({key: 'vhost', label: 'Virtual host', sort: 'vhost'});
  cols.push(
    {key: 'name', label: 'Name', sort: 'name', cls: 'name', render: e => h('a', {href: href('exchanges', e.vhost, e.name === '' ? 'amq.default' : e.name)}, exchangeLabel(e.name))},
    {key: 'type', label: 'Type', sort: 'type'},
    {key: 'features', label: 'Features', render: e => features(e)},
    {key: 'in', label: 'Message rate in', num: true, sort: 'message_stats.publish_in_details.rate', render: e => fmt.rate(fmt.get(e, 'message_stats.publish_in_details.rate') ?? 0)},
    {key: 'out', label: 'Message rate out', num: true, sort: 'message_stats.publish_out_details.rate', render: e => fmt.rate(fmt.get(e, 'message_stats.publish_out_details.rate') ?? 0)},
  );
  const table = new Table({
    columns: cols, rowKey: e => e.vhost + '/' + e.name, sortKey: sort, reverse,
    onSort: (k, r) => { sort = k; reverse = r; sessionStorage.setItem('warren.sort.exchanges', JSON.stringify({sort, reverse})); task.run(); },
    empty: 'No exchanges.',
  });
  const count = h('span');
  root.append(
    pageHeader('Exchanges', count),
    h('div', {class: 'card list-card', id: 'exchanges-list'}, pager.el, table.el),
    section('Add a new exchange', declareExchangeForm(() => task.run()), {open: false, id: 'add-exchange'}));
  task = ctx.every(async () => {
    const base = ctx.vhost ? `api/exchanges/${api.enc(ctx.vhost)}` : 'api/exchanges';
    const res = await api.get(base, {...pager.params(), sort, sort_reverse: reverse ? 'true' : 'false'}, {signal: ctx.signal});
    const p = pagedList(res, pager);
    pager.update(p);
    table.update(p.items || []);
    fill(count, `${fmt.num(p.total_count ?? p.filtered_count)} exchanges` + (ctx.vhost ? ` in ${ctx.vhost}` : ' in all virtual hosts'));
  });
}

function declareExchangeForm(done) {
  const vh = vhostSelect();
  const name = input('name', {placeholder: 'exchange name', required: true, id: 'exchange-name'});
  const type = select('type', TYPES.map(t => [t, t]), 'direct');
  const dur = select('durable', [['true', 'Durable'], ['false', 'Transient']], 'true');
  const ad = select('auto_delete', [['false', 'No'], ['true', 'Yes']], 'false');
  const internal = select('internal', [['false', 'No'], ['true', 'Yes']], 'false');
  const args = argsEditor({quick: [['alternate-exchange', 'string']]});
  return form({submit: 'Add exchange', id: 'declare-exchange', onSubmit: async () => {
    const n = name.value.trim();
    if (!n) throw new Error('The exchange needs a name.');
    await api.put(`api/exchanges/${api.enc(vh.value)}/${api.enc(n)}`, {
      type: type.value, durable: dur.value === 'true', auto_delete: ad.value === 'true', internal: internal.value === 'true', arguments: args.value(),
    });
    toast(`Exchange ${n} declared`);
    name.value = '';
    args.reset();
    done();
  }},
  h('div', {class: 'form-row'}, field('Virtual host', vh), field('Name', name), field('Type', type)),
  h('div', {class: 'form-row'}, field('Durability', dur), field('Auto delete', ad), field('Internal', internal)),
  field('Arguments', args));
}

export async function detail(ctx, root) {
  const [vhost, urlName] = ctx.params;
  const name = urlName === 'amq.default' ? '' : urlName;
  const base = `api/exchanges/${api.enc(vhost)}/${api.encExchange(name)}`;
  const sub = h('div', {class: 'page-sub'});
  const live = liveCharts({id: `exchange:${vhost}:${name}`, rateSeries: EXCHANGE_RATE_SERIES, domId: 'exchange', height: 170});
  ctx.onLeave(live.destroy);
  const info = h('div');
  const src = bindingsTable(vhost, 'source', () => bindTask.run());
  const dst = bindingsTable(vhost, 'destination', () => bindTask.run());
  const builtin = name === '' || name.startsWith('amq.');
  const del = builtin ? null : dangerButton('Delete', 'Delete exchange?', `${name} and its bindings will be deleted.`, async () => {
    await api.del(base);
    toast(`Exchange ${name} deleted`);
    go('#/exchanges');
  });
  if (del) del.id = 'delete-exchange';

  root.append(
    h('div', {class: 'crumb'}, link('#/exchanges', 'Exchanges'), '›', 'virtual host', h('code', {}, vhost)),
    pageHeader(exchangeLabel(name), sub, del),
    h('div', {class: 'grid-2'}, live.cards, section('Details', info, {id: 'exchange-details'})),
    section('Publish message', publishForm({vhost, exchange: name}), {id: 'publish-message'}),
    name === '' ? section('Bindings', h('p', {class: 'muted'}, 'The default exchange is implicitly bound to every queue, with a routing key equal to the queue name. It is not possible to bind to or unbind from it.')) :
      section('Bindings', h('div', {},
        h('h3', {class: 'sub-h'}, 'From this exchange'), src.el,
        h('h3', {class: 'sub-h'}, 'To this exchange'), dst.el,
        h('h3', {class: 'sub-h'}, 'Add binding from this exchange'),
        bindForm({vhost, source: name}, () => bindTask.run())), {id: 'exchange-bindings'}));

  ctx.every(async () => {
    const e = await api.get(base, null, {signal: ctx.signal});
    live.update(e);
    fill(sub, badge(e.type), ' ', features(e));
    fill(info, kv([
      ['Virtual host', e.vhost],
      ['Type', e.type],
      ['Durable', e.durable ? 'yes' : 'no'],
      ['Auto delete', e.auto_delete ? 'yes' : 'no'],
      ['Internal', e.internal ? 'yes' : 'no'],
      ['Arguments', argsText(e.arguments) || '–'],
      ['Policy', e.policy || '–'],
      ['Rate in', fmt.rate(fmt.get(e, 'message_stats.publish_in_details.rate') ?? 0)],
      ['Rate out', fmt.rate(fmt.get(e, 'message_stats.publish_out_details.rate') ?? 0)],
    ]));
  });
  const bindTask = name === '' ? null : ctx.every(async () => {
    const [s, d] = await Promise.all([
      api.get(base + '/bindings/source', null, {signal: ctx.signal}),
      api.get(base + '/bindings/destination', null, {signal: ctx.signal}),
    ]);
    src.update(s || []);
    dst.update(d || []);
  });
}
