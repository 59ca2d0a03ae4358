// Admin: users and their tags, virtual hosts, permissions (and topic
// permissions), policies, limits, and definitions export and import.

import * as api from '../api.js';
import {h, fill, icon} from '../dom.js';
import * as fmt from '../fmt.js';
import {pageHeader, section, Table, form, field, input, select, argsEditor, badge, toast, kv, link, confirmDialog, errorText, empty} from '../ui.js';
import {href, go, state, loadVhosts, isAdmin, ADMIN_TABS} from '../app.js';
import {vhostSelect} from './common.js';

const TAGS = ['administrator', 'monitoring', 'policymaker', 'management', 'impersonator'];

export async function adminHome() {
  const first = ADMIN_TABS.find(t => t[3]());
  location.replace(first ? first[2] : '#/');
}

function tagBadges(t) {
  const list = fmt.tags(t);
  return list.length ? h('span', {class: 'tags'}, list.map(x => badge(x, 'tag'))) : h('span', {class: 'muted'}, 'none');
}

function delButton(label, title, text, action) {
  return h('button', {type: 'button', class: 'btn small danger', onclick: async () => {
    if (!await confirmDialog(title, text, label)) return;
    try { await action(); } catch (e) { toast(errorText(e), 'error'); }
  }}, label);
}

// tagsInput is a text field with one-click tag chips.
function tagsInput(initial = '') {
  const inp = input('tags', {placeholder: 'comma-separated, e.g. management', value: initial, id: 'user-tags'});
  const chips = h('div', {class: 'args-quick'}, h('span', {class: 'muted'}, 'Set: '), TAGS.map(t => h('button', {type: 'button', class: 'chip', dataset: {tag: t}, onclick: () => {
    const cur = fmt.tags(inp.value);
    inp.value = (cur.includes(t) ? cur.filter(x => x !== t) : [...cur, t]).join(', ');
    sync();
  }}, t)));
  const sync = () => {
    const cur = fmt.tags(inp.value);
    for (const b of chips.querySelectorAll('.chip')) b.classList.toggle('on', cur.includes(b.dataset.tag));
  };
  inp.addEventListener('input', sync);
  sync();
  const el = h('div', {class: 'args'}, inp, chips);
  el.value = () => fmt.tags(inp.value).join(',');
  el.input = inp;
  return el;
}

// ---- users --------------------------------------------------------------------

export async function users(ctx, root) {
  const perms = new Map();
  const table = new Table({
    rowKey: u => u.name, sortKey: 'name',
    columns: [
      {key: 'name', label: 'Name', sort: true, cls: 'name', render: u => h('a', {href: href('users', u.name)}, u.name)},
      {key: 'tags', label: 'Tags', render: u => tagBadges(u.tags)},
      {key: 'vhosts', label: 'Can access virtual hosts', render: u => {
        const v = perms.get(u.name) || [];
        return v.length ? v.join(', ') : h('span', {class: 'muted'}, 'No access');
      }},
      {key: 'password', label: 'Has password', render: u => u.password_hash === '' ? '○' : '●'},
      {key: 'actions', label: '', cls: 'actions', render: u => u.name === state.me.name ? '' :
        delButton('Delete', 'Delete user?', u.name, async () => { await api.del(`api/users/${api.enc(u.name)}`); toast(`User ${u.name} deleted`); task.run(); })},
    ],
    empty: 'No users.',
  });
  const name = input('username', {placeholder: 'username', id: 'new-username'});
  const pass = input('password', {type: 'password', placeholder: 'password', id: 'new-password', autocomplete: 'new-password'});
  const tags = tagsInput('');
  const addForm = form({submit: 'Add user', id: 'add-user', onSubmit: async () => {
    const n = name.value.trim();
    if (!n) throw new Error('The user needs a name.');
    await api.put(`api/users/${api.enc(n)}`, {password: pass.value, tags: tags.value()});
    toast(`User ${n} added`);
    name.value = ''; pass.value = ''; tags.input.value = '';
    task.run();
  }},
  h('div', {class: 'form-row'}, field('Username', name), field('Password', pass)),
  field('Tags', tags, 'administrator: everything · monitoring: see all objects · policymaker: policies · management: own virtual hosts only'));
  root.append(
    pageHeader('Users', 'Who may log in, and what they may manage'),
    h('div', {class: 'card list-card', id: 'users-list'}, table.el),
    section('Add a user', addForm, {id: 'add-user-card'}));
  const task = ctx.every(async () => {
    const [list, pl] = await Promise.all([api.get('api/users', null, {signal: ctx.signal}), api.get('api/permissions', null, {signal: ctx.signal})]);
    perms.clear();
    for (const p of pl || []) {
      if (!perms.has(p.user)) perms.set(p.user, []);
      perms.get(p.user).push(p.vhost);
    }
    table.update(list || []);
  });
}

function permissionsTable(showUser, showVhost, reload) {
  const cols = [];
  if (showUser) cols.push({key: 'user', label: 'User', sort: true, cls: 'name', render: p => h('a', {href: href('users', p.user)}, p.user)});
  if (showVhost) cols.push({key: 'vhost', label: 'Virtual host', sort: true, cls: showUser ? '' : 'name', render: p => h('a', {href: href('vhosts', p.vhost)}, p.vhost)});
  cols.push(
    {key: 'configure', label: 'Configure', render: p => h('code', {}, p.configure)},
    {key: 'write', label: 'Write', render: p => h('code', {}, p.write)},
    {key: 'read', label: 'Read', render: p => h('code', {}, p.read)},
    {key: 'actions', label: '', cls: 'actions', render: p => delButton('Clear', 'Clear permissions?', `${p.user} on ${p.vhost}`, async () => {
      await api.del(`api/permissions/${api.enc(p.vhost)}/${api.enc(p.user)}`);
      toast('Permissions cleared');
      reload();
    })});
  return new Table({columns: cols, rowKey: p => p.vhost + '|' + p.user, empty: 'No permissions.', sortKey: showUser ? 'user' : 'vhost'});
}

// permissionForm grants configure/write/read on a vhost to a user; either
// may be fixed.
function permissionForm({user, vhost, users}, done) {
  const u = user !== undefined ? null : select('user', users || [], '');
  const v = vhost !== undefined ? null : vhostSelect();
  const c = input('configure', {value: '.*'}), w = input('write', {value: '.*'}), r = input('read', {value: '.*'});
  return form({submit: 'Set permission', id: 'set-permission', onSubmit: async () => {
    const uu = user ?? u.value, vv = vhost ?? v.value;
    if (!uu) throw new Error('Choose a user.');
    await api.put(`api/permissions/${api.enc(vv)}/${api.enc(uu)}`, {configure: c.value, write: w.value, read: r.value});
    toast(`Permissions set for ${uu} on ${vv}`);
    done();
  }},
  h('div', {class: 'form-row'}, u ? field('User', u) : null, v ? field('Virtual host', v) : null, field('Configure regexp', c), field('Write regexp', w), field('Read regexp', r)));
}

export async function user(ctx, root) {
  const [name] = ctx.params;
  const base = `api/users/${api.enc(name)}`;
  const sub = h('div', {class: 'page-sub'});
  const perms = permissionsTable(false, true, () => permTask.run());
  const topic = new Table({
    rowKey: p => p.vhost + '|' + p.exchange,
    columns: [
      {key: 'vhost', label: 'Virtual host', cls: 'name'},
      {key: 'exchange', label: 'Exchange'},
      {key: 'write', label: 'Write', render: p => h('code', {}, p.write)},
      {key: 'read', label: 'Read', render: p => h('code', {}, p.read)},
      {key: 'actions', label: '', cls: 'actions', render: p => delButton('Clear', 'Clear topic permissions?', `${name} on ${p.vhost}`, async () => {
        await api.del(`api/topic-permissions/${api.enc(p.vhost)}/${api.enc(name)}`);
        toast('Topic permissions cleared');
        permTask.run();
      })},
    ],
    empty: 'No topic permissions.',
  });
  let current = null;
  const tags = tagsInput('');
  const pass = input('password', {type: 'password', placeholder: 'leave empty to keep the current password', autocomplete: 'new-password'});
  const update = form({submit: 'Update user', id: 'update-user', onSubmit: async () => {
    const body = {tags: tags.value()};
    if (pass.value) body.password = pass.value;
    else if (current && typeof current.password_hash === 'string') {
      body.password_hash = current.password_hash;
      if (current.hashing_algorithm) body.hashing_algorithm = current.hashing_algorithm;
    } else throw new Error('Enter a password: the current one cannot be kept.');
    await api.put(base, body);
    pass.value = '';
    toast(`User ${name} updated`);
    userTask.run();
  }}, field('Tags', tags), field('New password', pass));
  const tv = vhostSelect(), te = input('exchange', {placeholder: 'amq.topic'}), tw = input('write', {value: '.*'}), tr = input('read', {value: '.*'});
  const topicForm = form({submit: 'Set topic permission', onSubmit: async () => {
    await api.put(`api/topic-permissions/${api.enc(tv.value)}/${api.enc(name)}`, {exchange: te.value, write: tw.value, read: tr.value});
    toast('Topic permission set');
    permTask.run();
  }}, h('div', {class: 'form-row'}, field('Virtual host', tv), field('Exchange', te), field('Write regexp', tw), field('Read regexp', tr)));
  const del = name === state.me.name ? null : h('button', {type: 'button', class: 'btn danger', onclick: async () => {
    if (!await confirmDialog('Delete user?', name, 'Delete')) return;
    try { await api.del(base); toast(`User ${name} deleted`); go('#/users'); } catch (e) { toast(errorText(e), 'error'); }
  }}, icon('trash'), 'Delete user');
  root.append(
    h('div', {class: 'crumb'}, link('#/users', 'Users')),
    pageHeader(name, sub, del),
    section('Permissions', h('div', {}, perms.el, h('h3', {class: 'sub-h'}, 'Grant permissions'), permissionForm({user: name}, () => permTask.run())), {id: 'user-permissions'}),
    section('Topic permissions', h('div', {}, topic.el, h('h3', {class: 'sub-h'}, 'Set topic permission'), topicForm), {open: false}),
    section('Update this user', update, {open: false, id: 'update-user-card'}));
  let first = true;
  const userTask = ctx.every(async () => {
    current = await api.get(base, null, {signal: ctx.signal});
    fill(sub, tagBadges(current.tags));
    if (first) { tags.input.value = fmt.tags(current.tags).join(', '); tags.input.dispatchEvent(new Event('input')); first = false; }
  });
  const permTask = ctx.every(async () => {
    const [p, t] = await Promise.all([
      api.get(base + '/permissions', null, {signal: ctx.signal}),
      api.get(base + '/topic-permissions', null, {signal: ctx.signal}).catch(() => []),
    ]);
    perms.update(p || []);
    topic.update(t || []);
  });
}

// ---- vhosts -------------------------------------------------------------------

export async function vhosts(ctx, root) {
  const table = new Table({
    rowKey: v => v.name, sortKey: 'name',
    columns: [
      {key: 'name', label: 'Name', sort: true, cls: 'name', render: v => h('a', {href: href('vhosts', v.name)}, v.name)},
      {key: 'description', label: 'Description', render: v => v.description || ''},
      {key: 'tags', label: 'Tags', render: v => fmt.tags(v.tags).map(t => badge(t, 'tag'))},
      {key: 'messages_ready', label: 'Ready', num: true, sort: true},
      {key: 'messages_unacknowledged', label: 'Unacked', num: true, sort: true},
      {key: 'messages', label: 'Total', num: true, sort: true},
      {key: 'publish', label: 'Publish', num: true, render: v => fmt.rate(fmt.get(v, 'message_stats.publish_details.rate') ?? 0)},
      {key: 'deliver', label: 'Deliver / get', num: true, render: v => fmt.rate(fmt.get(v, 'message_stats.deliver_get_details.rate') ?? 0)},
    ],
    empty: 'No virtual hosts.',
  });
  const name = input('name', {placeholder: 'name', id: 'new-vhost'});
  const desc = input('description', {placeholder: 'optional'});
  const tags = input('tags', {placeholder: 'comma-separated, optional'});
  const dqt = select('default_queue_type', [['', '(server default)'], ['classic', 'Classic'], ['quorum', 'Quorum'], ['stream', 'Stream']], '');
  const addForm = form({submit: 'Add virtual host', id: 'add-vhost', onSubmit: async () => {
    const n = name.value.trim();
    if (!n) throw new Error('The virtual host needs a name.');
    const body = {description: desc.value, tags: tags.value};
    if (dqt.value) body.default_queue_type = dqt.value;
    await api.put(`api/vhosts/${api.enc(n)}`, body);
    toast(`Virtual host ${n} added`);
    name.value = ''; desc.value = ''; tags.value = '';
    await loadVhosts();
    task.run();
  }}, h('div', {class: 'form-row'}, field('Name', name), field('Description', desc), field('Tags', tags), field('Default queue type', dqt)));
  root.append(
    pageHeader('Virtual hosts', 'Isolated groups of exchanges, queues and permissions'),
    h('div', {class: 'card list-card', id: 'vhosts-list'}, table.el),
    section('Add a virtual host', addForm));
  const task = ctx.every(async () => { table.update(await api.get('api/vhosts', null, {signal: ctx.signal}) || []); });
}

export async function vhost(ctx, root) {
  const [name] = ctx.params;
  const base = `api/vhosts/${api.enc(name)}`;
  const info = h('div');
  const perms = permissionsTable(true, false, () => permTask.run());
  const usersSel = h('div');
  const del = h('button', {type: 'button', class: 'btn danger', onclick: async () => {
    if (!await confirmDialog('Delete virtual host?', `${name} with all its exchanges, queues and messages will be deleted.`, 'Delete')) return;
    try { await api.del(base); toast(`Virtual host ${name} deleted`); await loadVhosts(); go('#/vhosts'); } catch (e) { toast(errorText(e), 'error'); }
  }}, icon('trash'), 'Delete virtual host');
  root.append(
    h('div', {class: 'crumb'}, link('#/vhosts', 'Virtual hosts')),
    pageHeader(name, 'Virtual host', del),
    h('div', {class: 'grid-2'}, section('Details', info), section('Permissions', h('div', {}, perms.el, h('h3', {class: 'sub-h'}, 'Grant permissions'), usersSel))));
  ctx.every(async () => {
    const v = await api.get(base, null, {signal: ctx.signal});
    fill(info, kv([
      ['Description', v.description || '–'], ['Tags', fmt.tags(v.tags).join(', ') || '–'],
      ['Messages ready', fmt.num(v.messages_ready ?? 0)], ['Messages unacked', fmt.num(v.messages_unacknowledged ?? 0)],
      ['Default queue type', v.default_queue_type || (v.metadata && v.metadata.default_queue_type) || '–'],
      ['Tracing', v.tracing ? 'on' : 'off'],
    ]));
  });
  const allUsers = await api.get('api/users', null, {signal: ctx.signal}).catch(() => []);
  fill(usersSel, permissionForm({vhost: name, users: (allUsers || []).map(u => u.name)}, () => permTask.run()));
  const permTask = ctx.every(async () => { perms.update(await api.get(base + '/permissions', null, {signal: ctx.signal}) || []); });
}

// ---- permissions --------------------------------------------------------------

export async function permissions(ctx, root) {
  const table = permissionsTable(true, true, () => task.run());
  const formBox = h('div');
  root.append(
    pageHeader('Permissions', 'Configure, write and read regular expressions per user and virtual host'),
    h('div', {class: 'card list-card', id: 'permissions-list'}, table.el),
    section('Grant permissions', formBox, {id: 'grant-permissions'}));
  const users = await api.get('api/users', null, {signal: ctx.signal});
  fill(formBox, permissionForm({users: (users || []).map(u => u.name)}, () => task.run()));
  const task = ctx.every(async () => { table.update(await api.get('api/permissions', null, {signal: ctx.signal}) || []); });
}

// ---- policies -----------------------------------------------------------------

const POLICY_KEYS = [
  ['max-length', 'number'], ['max-length-bytes', 'number'], ['overflow', 'string', 'reject-publish'], ['message-ttl', 'number'],
  ['expires', 'number'], ['dead-letter-exchange', 'string'], ['dead-letter-routing-key', 'string'], ['delivery-limit', 'number'],
  ['queue-mode', 'string', 'lazy'], ['alternate-exchange', 'string'], ['max-age', 'string', '1D'],
];

export async function policies(ctx, root) {
  const vh = vhostSelect();
  const name = input('name', {placeholder: 'policy name', id: 'policy-name'});
  const pattern = input('pattern', {placeholder: 'regular expression, e.g. ^orders\\.', id: 'policy-pattern'});
  // RabbitMQ 3.10's apply-to values (classic_queues, quorum_queues and
  // streams came with 3.12).
  const applyTo = select('apply-to', [['queues', 'Queues'], ['exchanges', 'Exchanges'], ['all', 'Exchanges and queues']], 'queues');
  const priority = input('priority', {type: 'number', value: '0'});
  const def = argsEditor({quick: POLICY_KEYS, keyPlaceholder: 'key'});
  const f = form({submit: 'Add / update policy', id: 'policy-form', onSubmit: async () => {
    const n = name.value.trim();
    if (!n) throw new Error('The policy needs a name.');
    const definition = def.value();
    if (!Object.keys(definition).length) throw new Error('Add at least one definition key.');
    await api.put(`api/policies/${api.enc(vh.value)}/${api.enc(n)}`, {pattern: pattern.value, definition, priority: Number(priority.value) || 0, 'apply-to': applyTo.value});
    toast(`Policy ${n} saved`);
    name.value = ''; pattern.value = ''; def.reset();
    task.run();
  }},
  h('div', {class: 'form-row'}, field('Virtual host', vh), field('Name', name), field('Pattern', pattern), field('Apply to', applyTo), field('Priority', priority)),
  field('Definition', def));
  const edit = p => {
    vh.value = p.vhost; name.value = p.name; pattern.value = p.pattern; applyTo.value = p['apply-to']; priority.value = String(p.priority ?? 0);
    def.set(p.definition);
    f.scrollIntoView({behavior: 'smooth', block: 'center'});
    name.focus();
  };
  const table = policyTable({base: 'api/policies', what: 'Policy', empty: 'No policies.', edit, refresh: () => task.run()});
  root.append(
    pageHeader('Policies', 'Set queue and exchange options by name pattern'),
    h('div', {class: 'card list-card', id: 'policies-list'}, table.el),
    section('Add or update a policy', f, {id: 'policy-card'}));
  const task = listPolicies(ctx, 'api/policies', table);
  // Operator policies are set by administrators only, so the section is
  // not drawn for anyone else (the API would refuse them anyway).
  if (isAdmin()) operatorPolicies(ctx, root);
}

// The keys an operator policy may set (rabbit_policies'
// operator_policy_validator); all are non-negative integers.
const OPERATOR_POLICY_KEYS = ['expires', 'message-ttl', 'max-length', 'max-length-bytes', 'max-in-memory-length', 'max-in-memory-bytes', 'delivery-limit'];

// operatorPolicies adds RabbitMQ's "Operator policies": caps that apply on
// top of the user policy of a queue, the lower value winning.
function operatorPolicies(ctx, root) {
  const vh = vhostSelect();
  const name = input('name', {placeholder: 'operator policy name', id: 'op-policy-name'});
  const pattern = input('pattern', {placeholder: 'regular expression, e.g. ^orders\\.', id: 'op-policy-pattern'});
  // Operator policies only hold queue limits: RabbitMQ offers queues only.
  const applyTo = select('apply-to', [['queues', 'Queues']], 'queues');
  const priority = input('priority', {type: 'number', value: '0'});
  const def = argsEditor({quick: OPERATOR_POLICY_KEYS.map(k => [k, 'number']), keyPlaceholder: 'key', defaultType: 'number'});
  const f = form({submit: 'Add / update operator policy', id: 'op-policy-form', onSubmit: async () => {
    const n = name.value.trim();
    if (!n) throw new Error('The operator policy needs a name.');
    const definition = def.value();
    if (!Object.keys(definition).length) throw new Error('Add at least one definition key.');
    const other = Object.keys(definition).filter(k => !OPERATOR_POLICY_KEYS.includes(k));
    if (other.length) throw new Error(`An operator policy cannot set ${other.join(', ')}; it may set ${OPERATOR_POLICY_KEYS.join(', ')}.`);
    await api.put(`api/operator-policies/${api.enc(vh.value)}/${api.enc(n)}`, {pattern: pattern.value, definition, priority: Number(priority.value) || 0, 'apply-to': applyTo.value});
    toast(`Operator policy ${n} saved`);
    name.value = ''; pattern.value = ''; def.reset();
    task.run();
  }},
  h('div', {class: 'form-row'}, field('Virtual host', vh), field('Name', name), field('Pattern', pattern), field('Apply to', applyTo), field('Priority', priority)),
  field('Definition', def, 'Limits only: ' + OPERATOR_POLICY_KEYS.join(', ') + '. Where a policy sets the same key, the lower value applies.'));
  const edit = p => {
    const to = p['apply-to'] || 'queues';
    // Keep a value set through the API selectable when editing.
    if (![...applyTo.options].some(o => o.value === to)) applyTo.append(h('option', {value: to}, to));
    vh.value = p.vhost; name.value = p.name; pattern.value = p.pattern; applyTo.value = to; priority.value = String(p.priority ?? 0);
    def.set(p.definition);
    f.scrollIntoView({behavior: 'smooth', block: 'center'});
    name.focus();
  };
  const table = policyTable({base: 'api/operator-policies', what: 'Operator policy', empty: 'No operator policies.', edit, refresh: () => task.run()});
  root.append(
    section('Operator policies', h('div', {},
      h('p', {class: 'field-hint'}, 'Limits set by the operator that queues cannot exceed, whatever their own policy says.'),
      h('div', {id: 'operator-policies-list'}, table.el),
      h('h3', {class: 'sub-h'}, 'Add or update an operator policy'), f), {id: 'operator-policies'}));
  const task = listPolicies(ctx, 'api/operator-policies', table);
}

// policyTable lists policies or operator policies (API path base), each
// with Edit (edit(p)) and Delete.
function policyTable({base, what, empty, edit, refresh}) {
  return new Table({
    rowKey: p => p.vhost + '|' + p.name, sortKey: 'name',
    columns: [
      {key: 'vhost', label: 'Virtual host', sort: true},
      {key: 'name', label: 'Name', sort: true, cls: 'name'},
      {key: 'pattern', label: 'Pattern', render: p => h('code', {}, p.pattern)},
      {key: 'apply-to', label: 'Apply to'},
      {key: 'definition', label: 'Definition', render: p => h('span', {class: 'features'}, Object.entries(p.definition || {}).map(([k, v]) => badge(`${k}: ${fmt.value(v)}`, 'arg')))},
      {key: 'priority', label: 'Priority', num: true, sort: true},
      {key: 'actions', label: '', cls: 'actions', render: p => h('span', {class: 'page-actions'},
        h('button', {type: 'button', class: 'btn small', onclick: () => edit(p)}, 'Edit'),
        delButton('Delete', `Delete ${what.toLowerCase()}?`, `${p.name} on ${p.vhost}`, async () => {
          await api.del(`${base}/${api.enc(p.vhost)}/${api.enc(p.name)}`);
          toast(`${what} ${p.name} deleted`);
          refresh();
        }))},
    ],
    empty,
  });
}

// listPolicies refreshes table from base (for the selected vhost) every
// refresh interval; it returns the task.
function listPolicies(ctx, base, table) {
  return ctx.every(async () => {
    const path = ctx.vhost ? `${base}/${api.enc(ctx.vhost)}` : base;
    table.update(await api.get(path, null, {signal: ctx.signal}) || []);
  });
}

// ---- limits -------------------------------------------------------------------

export async function limits(ctx, root) {
  const vl = new Table({
    rowKey: l => l.vhost, sortKey: 'vhost',
    columns: [
      {key: 'vhost', label: 'Virtual host', sort: true, cls: 'name'},
      {key: 'max-connections', label: 'Max connections', num: true, render: l => fmt.num(l.value?.['max-connections'])},
      {key: 'max-queues', label: 'Max queues', num: true, render: l => fmt.num(l.value?.['max-queues'])},
      {key: 'actions', label: '', cls: 'actions', render: l => h('span', {class: 'page-actions'}, Object.keys(l.value || {}).map(k =>
        delButton('Clear ' + k, 'Clear limit?', `${k} on ${l.vhost}`, async () => {
          await api.del(`api/vhost-limits/${api.enc(l.vhost)}/${api.enc(k)}`);
          toast('Limit cleared');
          task.run();
        })))},
    ],
    empty: 'No virtual host limits.',
  });
  const ul = new Table({
    rowKey: l => l.user, sortKey: 'user',
    columns: [
      {key: 'user', label: 'User', sort: true, cls: 'name'},
      {key: 'max-connections', label: 'Max connections', num: true, render: l => fmt.num(l.value?.['max-connections'])},
      {key: 'max-channels', label: 'Max channels', num: true, render: l => fmt.num(l.value?.['max-channels'])},
      {key: 'actions', label: '', cls: 'actions', render: l => h('span', {class: 'page-actions'}, Object.keys(l.value || {}).map(k =>
        delButton('Clear ' + k, 'Clear limit?', `${k} for ${l.user}`, async () => {
          await api.del(`api/user-limits/${api.enc(l.user)}/${api.enc(k)}`);
          toast('Limit cleared');
          task.run();
        })))},
    ],
    empty: 'No user limits.',
  });
  const vh = vhostSelect();
  const vk = select('limit', [['max-connections', 'max-connections'], ['max-queues', 'max-queues']], 'max-connections');
  const vv = input('value', {type: 'number', min: -1, placeholder: 'number (-1 for no limit)'});
  const vForm = form({submit: 'Set limit', id: 'vhost-limit-form', onSubmit: async () => {
    if (vv.value === '') throw new Error('Enter a value.');
    await api.put(`api/vhost-limits/${api.enc(vh.value)}/${api.enc(vk.value)}`, {value: Number(vv.value)});
    toast('Limit set');
    vv.value = '';
    task.run();
  }}, h('div', {class: 'form-row'}, field('Virtual host', vh), field('Limit', vk), field('Value', vv)));
  const uu = input('user', {placeholder: 'username'});
  const uk = select('limit', [['max-connections', 'max-connections'], ['max-channels', 'max-channels']], 'max-connections');
  const uv = input('value', {type: 'number', min: -1, placeholder: 'number (-1 for no limit)'});
  const uForm = form({submit: 'Set limit', onSubmit: async () => {
    if (!uu.value.trim() || uv.value === '') throw new Error('Enter a user and a value.');
    await api.put(`api/user-limits/${api.enc(uu.value.trim())}/${api.enc(uk.value)}`, {value: Number(uv.value)});
    toast('Limit set');
    uv.value = '';
    task.run();
  }}, h('div', {class: 'form-row'}, field('User', uu), field('Limit', uk), field('Value', uv)));
  const userNote = h('div');
  root.append(
    pageHeader('Limits', 'Caps on connections, channels and queues'),
    h('div', {class: 'grid-2'},
      section('Virtual host limits', h('div', {}, vl.el, h('h3', {class: 'sub-h'}, 'Set a virtual host limit'), vForm), {id: 'vhost-limits'}),
      section('User limits', h('div', {}, userNote, ul.el, h('h3', {class: 'sub-h'}, 'Set a user limit'), uForm), {id: 'user-limits'})));
  const task = ctx.every(async () => {
    vl.update(await api.get('api/vhost-limits', null, {signal: ctx.signal}) || []);
    try {
      ul.update(await api.get('api/user-limits', null, {signal: ctx.signal}) || []);
      userNote.replaceChildren();
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      ul.update([]);
      fill(userNote, h('p', {class: 'muted'}, 'User limits are not available: ' + errorText(e)));
    }
  });
}

// ---- definitions ---------------------------------------------------------------

const SINGULAR = {users: 'user', vhosts: 'vhost', permissions: 'permission', topic_permissions: 'topic permission', policies: 'policy', parameters: 'parameter', queues: 'queue', exchanges: 'exchange', bindings: 'binding'};

function summary(d) {
  const parts = [];
  for (const k of ['users', 'vhosts', 'permissions', 'topic_permissions', 'policies', 'parameters', 'queues', 'exchanges', 'bindings']) {
    if (!Array.isArray(d[k])) continue;
    const word = k.replace('_', ' ');
    parts.push(`${fmt.num(d[k].length)} ${d[k].length === 1 ? SINGULAR[k] || word : word}`);
  }
  return parts.join(', ');
}

export async function definitions(ctx, root) {
  const scope = () => select('vhost', [['', 'All virtual hosts'], ...state.vhosts.map(v => [v, v])], '');
  const exScope = scope();
  const exResult = h('div', {id: 'export-result'});
  const exportForm = form({submit: 'Download definitions', id: 'export-form', onSubmit: async () => {
    const path = exScope.value ? `api/definitions/${api.enc(exScope.value)}` : 'api/definitions';
    const d = await api.get(path);
    const text = JSON.stringify(d, null, 2);
    const host = (state.overview && state.overview.node ? state.overview.node.split('@').pop() : location.hostname) || 'warren';
    const day = new Date().toISOString().slice(0, 10);
    const a = h('a', {href: URL.createObjectURL(new Blob([text], {type: 'application/json'})), download: `warren_${host}_${day}.json`});
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    fill(exResult, h('div', {class: 'notice'}, `✓ Exported ${summary(d) || 'definitions'}.`));
  }}, h('div', {class: 'form-row'}, field('Virtual host', exScope)),
  h('p', {class: 'field-hint'}, 'Users, virtual hosts, permissions, policies, parameters, exchanges, queues and bindings as JSON, in the same format as RabbitMQ, so the file can be imported into either broker.'));
  const imScope = scope();
  const file = h('input', {type: 'file', name: 'file', accept: '.json,application/json', id: 'import-file'});
  const imResult = h('div', {id: 'import-result'});
  const importForm = form({submit: 'Upload definitions', id: 'import-form', onSubmit: async () => {
    imResult.replaceChildren();
    const f = file.files && file.files[0];
    if (!f) throw new Error('Choose a definitions file first.');
    const text = await f.text();
    let d;
    try { d = JSON.parse(text); } catch (e) { throw new Error(`${f.name} is not valid JSON: ${e.message}`); }
    const path = imScope.value ? `api/definitions/${api.enc(imScope.value)}` : 'api/definitions';
    await api.post(path, text);
    await loadVhosts();
    fill(imResult, h('div', {class: 'notice'}, `✓ Imported ${summary(d) || 'definitions'} from ${f.name}.`));
    toast('Definitions imported');
  }}, h('div', {class: 'form-row'}, field('Definitions file', file), field('Into virtual host', imScope)));
  root.append(
    pageHeader('Definitions', 'Export and import the broker\u2019s topology'),
    h('div', {class: 'grid-2'},
      section('Export', h('div', {}, exportForm, exResult), {id: 'export'}),
      section('Import', h('div', {}, importForm, imResult), {id: 'import'})));
}
