// Load test: start warren perf's load generator inside the node (a preset
// or PerfTest parameters), watch it live (rates, latency, the run's queue
// depth, node memory), stop it, and download its JSON and HTML reports.
// Administrators only: the API (/api/warren/load-tests) answers 403 to
// everyone else. Warren-specific, so the page is not shown for RabbitMQ.

import * as api from '../api.js';
import {h, fill, icon} from '../dom.js';
import * as fmt from '../fmt.js';
import {LineChart} from '../chart.js';
import {pageHeader, section, statCards, Table, badge, empty, field, input, select, checkbox, errorBox, toast, errorText, confirmDialog} from '../ui.js';
import {isAdmin, state} from '../app.js';

const BASE = 'api/warren/load-tests';
const LIVE_MS = 1000; // perf samples once a second

const RATE_SERIES = [
  {key: 'sent', label: 'Publish', color: 'var(--c-publish)'},
  {key: 'confirmed', label: 'Confirm', color: 'var(--c-confirm)'},
  {key: 'received', label: 'Deliver', color: 'var(--c-deliver)'},
];
const LATENCY_SERIES = [
  {key: 'p50', label: 'p50', color: 'var(--c-deliver)'},
  {key: 'p95', label: 'p95', color: 'var(--c-ack)'},
  {key: 'p99', label: 'p99', color: 'var(--c-redeliver)'},
];
const DEPTH_SERIES = [
  {key: 'ready', label: 'Ready', color: 'var(--c-ready)'},
  {key: 'unacked', label: 'Unacked', color: 'var(--c-unacked)'},
  {key: 'total', label: 'Total', color: 'var(--c-total)'},
];
const MEMORY_SERIES = [
  {key: 'mem', label: 'Node memory', color: 'var(--c-confirm)'},
];

// latency formats microseconds.
function latency(us) {
  if (typeof us !== 'number') return '–';
  if (us < 1000) return fmt.compact(Math.round(us)) + ' µs';
  if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + ' ms';
  return (us / 1e6).toFixed(2) + ' s';
}

function latencyAxis(us) {
  if (us === 0) return '0';
  if (us < 1000) return Math.round(us) + 'µs';
  if (us < 1e6) return fmt.compact(us / 1000) + 'ms';
  return fmt.compact(us / 1e6) + 's';
}

function bytesAxis(v) {
  if (v === 0) return '0';
  return fmt.bytes(v).replace(/\.0 /, ' ').replace(' ', '');
}

function stateBadge(st) {
  const kind = {running: 'ok', finished: '', stopped: 'warn', failed: 'bad'}[st] ?? '';
  return badge(st, kind);
}

function isRunning(run) { return run && run.state === 'running'; }

// points turns a run's samples into chart points on the browser's clock.
function pointsOf(run, samples) {
  const t0 = Date.parse(run.start_time);
  const out = {rates: [], latency: [], depth: [], memory: []};
  for (const s of samples) {
    const t = t0 + s.t * 1000;
    out.rates.push({t, v: {sent: s.sent, confirmed: run.confirm >= 0 ? s.confirmed : undefined, received: s.received}});
    const has = s.latency_p50_us > 0 || s.latency_p99_us > 0;
    out.latency.push({t, v: has ? {p50: s.latency_p50_us, p95: s.latency_p95_us, p99: s.latency_p99_us} : {}});
    out.depth.push({t, v: s.queue_messages == null ? {} : {ready: s.queue_messages_ready, unacked: s.queue_messages_unacknowledged, total: s.queue_messages}});
    out.memory.push({t, v: {mem: s.mem_used}});
  }
  return out;
}

// splitArgs splits a command line into words; quotes group words.
export function splitArgs(text) {
  const out = [];
  let cur = '', quote = '', any = false;
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = ''; else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c; any = true;
    } else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = ''; any = false;
    } else {
      cur += c;
    }
  }
  if (quote) throw new Error('Extra flags: unclosed quote');
  if (cur || any) out.push(cur);
  return out;
}

// presetValue reads a flag's value from a preset's arguments.
function presetValue(args, ...names) {
  let v;
  for (let i = 0; i < args.length; i++) {
    if (names.includes(args[i])) v = args[i + 1] ?? '';
  }
  return v;
}

// download fetches an API file with the stored credentials and saves it.
async function download(path, fallbackName) {
  const res = await api.request('GET', path, {raw: true});
  const blob = await res.blob();
  const cd = res.headers.get('Content-Disposition') || '';
  const m = cd.match(/filename="([^"]+)"/);
  const a = h('a', {href: URL.createObjectURL(blob), download: m ? m[1] : fallbackName});
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function reportButtons(run) {
  if (!run.reports) return null;
  return h('span', {class: 'lt-reports'},
    h('button', {type: 'button', class: 'btn small lt-dl', dataset: {kind: 'json', run: run.id}, title: 'Download the JSON report',
      onclick: () => download(run.reports.json, `warren-perf-${run.id}.json`).catch(e => toast(errorText(e), 'error'))}, icon('download'), 'JSON'),
    h('button', {type: 'button', class: 'btn small lt-dl', dataset: {kind: 'html', run: run.id}, title: 'Download the HTML report (charts, viewable offline)',
      onclick: () => download(run.reports.html, `warren-perf-${run.id}.html`).catch(e => toast(errorText(e), 'error'))}, icon('download'), 'HTML'));
}

export async function loadtest(ctx, root) {
  if (!isAdmin()) {
    root.append(pageHeader('Load test'), h('div', {class: 'card card-body', id: 'lt-forbidden'},
      empty('Load tests are for users with the administrator tag.')));
    return;
  }
  const [presets, limits] = await Promise.all([
    api.get(`${BASE}/presets`, null, {signal: ctx.signal}),
    api.get(`${BASE}/limits`, null, {signal: ctx.signal}),
  ]);

  // ---- the form ----------------------------------------------------------
  const presetSel = select('preset', [['', 'Custom parameters'], ...presets.map(p => [p.name, p.allowed ? p.name : `${p.name} (over the caps)`])], '1p1c');
  presetSel.id = 'lt-preset';
  for (const o of presetSel.options) {
    const p = presets.find(x => x.name === o.value);
    if (p && !p.allowed) o.disabled = true;
  }
  if (!presets.some(p => p.name === '1p1c' && p.allowed)) presetSel.value = '';
  const presetInfo = h('div', {class: 'lt-preset-info', id: 'lt-preset-info'});
  const num = (name, attrs = {}) => input(name, {type: 'number', inputmode: 'numeric', id: 'lt-' + name, ...attrs});
  const f = {
    producers: num('producers', {min: 0, max: limits.max_producers}),
    consumers: num('consumers', {min: 0, max: limits.max_consumers}),
    size: num('size', {min: 12, max: limits.max_size}),
    rate: num('rate', {min: 0, step: 'any'}),
    duration: num('duration', {min: 1, max: limits.max_duration_s, value: '30'}),
    confirm: num('confirm', {min: -1}),
    prefetch: num('prefetch', {min: 0, max: 65535}),
    queue: input('queue', {id: 'lt-queue'}),
    queue_count: num('queue_count', {min: 0, max: limits.max_queues, title: 'More than 1: queues QUEUE-1 … QUEUE-N (--queue-pattern)'}),
  };
  const autoack = checkbox('autoack', 'Auto-ack (no acknowledgements)', false);
  const persistent = checkbox('persistent', 'Persistent messages', false);
  const extra = input('args', {id: 'lt-args', placeholder: 'e.g. -f mandatory --queue-args x-max-length=10000'});
  const uri = input('uri', {id: 'lt-uri', placeholder: 'this node, with your credentials'});
  const vhosts = state.vhosts.length ? state.vhosts : ['/'];
  const vhostSel = select('vhost', vhosts, vhosts.includes('/') ? '/' : vhosts[0]);
  vhostSel.id = 'lt-vhost';
  const touched = new Set();
  for (const [k, el] of Object.entries(f)) el.addEventListener('input', () => touched.add(k));

  const showPreset = () => {
    const p = presets.find(x => x.name === presetSel.value);
    const args = p ? p.args : [];
    // Blank fields take the preset's (or PerfTest's default) value, shown
    // as placeholders.
    const ph = {
      producers: presetValue(args, '-x', '--producers') ?? '1',
      consumers: presetValue(args, '-y', '--consumers') ?? '1',
      size: presetValue(args, '-s', '--size') ?? '12',
      rate: presetValue(args, '-r', '--rate') ?? 'as fast as allowed',
      confirm: presetValue(args, '-c', '--confirm') ?? 'no confirms',
      prefetch: presetValue(args, '-q', '--qos') ?? 'unlimited',
      queue: presetValue(args, '-u', '--queue') ?? presetValue(args, '-qp', '--queue-pattern') ?? 'one per consumer',
      queue_count: presetValue(args, '-qpt', '--queue-pattern-to') ?? '1',
    };
    for (const [k, v] of Object.entries(ph)) {
      f[k].placeholder = v;
      if (!touched.has(k)) f[k].value = '';
    }
    autoack.querySelector('input').checked = args.includes('-a') || args.includes('--autoack');
    persistent.querySelector('input').checked = presetValue(args, '-f', '--flag') === 'persistent';
    fill(presetInfo, p
      ? [h('div', {}, p.description), h('code', {class: 'lt-args'}, 'warren perf --preset ' + p.name + '  ≡  ' + p.args.join(' '))]
      : h('div', {class: 'muted'}, 'PerfTest parameters: blank fields take PerfTest\u2019s defaults.'));
  };
  presetSel.addEventListener('change', showPreset);
  showPreset();

  const err = errorBox();
  const startBtn = h('button', {type: 'submit', class: 'btn primary', id: 'lt-start'}, icon('bolt'), 'Start load test');
  const form = h('form', {class: 'form lt-form', id: 'lt-form', novalidate: true},
    field('Preset', presetSel), presetInfo,
    h('div', {class: 'form-row lt-row'},
      field('Producers', f.producers), field('Consumers', f.consumers),
      field('Message size (bytes)', f.size), field('Rate per producer (msg/s)', f.rate)),
    h('div', {class: 'form-row lt-row'},
      field(`Duration (s, ≤ ${fmt.num(limits.max_duration_s)})`, f.duration),
      field('Confirm window', f.confirm), field('Prefetch', f.prefetch),
      field('Queue', f.queue), field('Queue count', f.queue_count)),
    h('div', {class: 'checks'}, autoack, persistent),
    h('details', {class: 'lt-advanced'}, h('summary', {}, 'Advanced'),
      h('div', {class: 'form-row'}, field('Extra PerfTest flags', extra), field('Target URI', uri), field('Virtual host', vhostSel))),
    err,
    h('div', {class: 'form-actions'}, startBtn,
      h('span', {class: 'field-hint'}, `Caps: ${fmt.num(limits.max_rate)} msg/s and ${fmt.bytes(limits.max_bytes_rate)}/s in all, ${fmt.num(limits.max_connections)} connections, ${fmt.num(limits.max_concurrent)} run at a time.`)));

  const body = () => {
    const b = {};
    if (presetSel.value) b.preset = presetSel.value;
    for (const k of ['producers', 'consumers', 'size', 'duration', 'confirm', 'prefetch', 'queue_count']) {
      const v = f[k].value.trim();
      if (v === '') continue;
      const n = Number(v);
      if (!Number.isInteger(n)) throw new Error(`${k.replace('_', ' ')}: "${v}" is not a whole number`);
      b[k] = n;
    }
    if (f.rate.value.trim() !== '') {
      const n = Number(f.rate.value);
      if (!(n >= 0)) throw new Error(`rate: "${f.rate.value}" is not a number`);
      b.rate = n;
    }
    if (f.queue.value.trim()) b.queue = f.queue.value.trim();
    const p = presets.find(x => x.name === presetSel.value);
    const pa = p ? p.args : [];
    const aa = autoack.querySelector('input').checked;
    if (aa !== (pa.includes('-a') || pa.includes('--autoack'))) b.autoack = aa;
    if (persistent.querySelector('input').checked) b.persistent = true;
    const words = splitArgs(extra.value);
    if (words.length) b.args = words;
    if (uri.value.trim()) b.uri = uri.value.trim();
    else b.vhost = vhostSel.value;
    return b;
  };

  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    err.clear();
    startBtn.disabled = true;
    try {
      const run = await api.post(BASE, body());
      toast(`Load test ${run.id} started`);
      select_(run);
      await refreshList();
    } catch (e) {
      err.show(e);
    } finally {
      syncButtons();
    }
  });

  // ---- the current run -----------------------------------------------------
  const stopBtn = h('button', {type: 'button', class: 'btn danger', id: 'lt-stop', hidden: true, onclick: async () => {
    if (!current) return;
    stopBtn.disabled = true;
    try {
      const run = await api.post(`${BASE}/${api.enc(current.id)}/stop`);
      toast(`Load test ${run.id} ${run.state}`);
      await poll();
      await refreshList();
    } catch (e) {
      toast(errorText(e), 'error');
    } finally {
      stopBtn.disabled = false;
    }
  }}, icon('close'), 'Stop');
  const statusBox = h('div', {id: 'lt-status', class: 'lt-status'}, empty('No run yet: choose a preset or parameters and start one.'));
  const alarmBox = h('div', {id: 'lt-alarm'});

  const charts = {
    rates: new LineChart({series: RATE_SERIES, format: fmt.rate, title: 'Message rates', height: 190, emptyText: 'Start a run to see its rates'}),
    latency: new LineChart({series: LATENCY_SERIES, format: latency, axisFormat: latencyAxis, title: 'Consumer latency', height: 190, emptyText: 'Latency of delivered messages'}),
    depth: new LineChart({series: DEPTH_SERIES, format: fmt.num, integer: true, title: 'Queue depth', height: 190, emptyText: 'Messages in the run\u2019s queues'}),
    memory: new LineChart({series: MEMORY_SERIES, format: fmt.bytes, axisFormat: bytesAxis, title: 'Node memory', height: 190, emptyText: 'Memory of this node'}),
  };
  for (const [k, c] of Object.entries(charts)) c.el.id = 'lt-' + k;
  ctx.onLeave(() => Object.values(charts).forEach(c => c.destroy()));

  const runsTable = new Table({
    rowKey: r => r.id,
    columns: [
      {key: 'id', label: 'Run', cls: 'name nowrap', render: r => h('span', {}, h('a', {href: '#/load-test', onclick: ev => { ev.preventDefault(); select_(r); }}, r.id),
        r.preset ? h('span', {class: 'muted'}, ' · ' + r.preset) : null)},
      {key: 'state', label: 'State', render: r => stateBadge(r.state)},
      {key: 'start_time', label: 'Started', cls: 'nowrap', render: r => fmt.datetime(r.start_time)},
      {key: 'elapsed_s', label: 'Duration', num: true, render: r => fmt.duration(r.elapsed_s * 1000)},
      {key: 'shape', label: 'Prod. → cons.', num: true, render: r => `${r.producers} → ${r.consumers}`},
      {key: 'sent', label: 'Published', num: true, render: r => r.summary ? fmt.rate(r.summary.sending_rate_avg) : r.last_sample ? fmt.rate(r.last_sample.sent) : '–'},
      {key: 'received', label: 'Delivered', num: true, render: r => r.summary ? fmt.rate(r.summary.receiving_rate_avg) : r.last_sample ? fmt.rate(r.last_sample.received) : '–'},
      {key: 'p50', label: 'p50', num: true, render: r => r.summary && r.summary.latency_samples ? latency(r.summary.latency_p50_us) : '–'},
      {key: 'p99', label: 'p99', num: true, render: r => r.summary && r.summary.latency_samples ? latency(r.summary.latency_p99_us) : '–'},
      {key: 'reports', label: 'Reports', cls: 'actions', render: r => reportButtons(r) || (r.error ? h('span', {class: 'muted', title: r.error}, 'no report') : '')},
      {key: 'actions', label: '', cls: 'actions', render: r => isRunning(r)
        ? h('button', {type: 'button', class: 'btn small danger', onclick: () => api.post(`${BASE}/${api.enc(r.id)}/stop`).then(refreshList).catch(e => toast(errorText(e), 'error'))}, 'Stop')
        : h('button', {type: 'button', class: 'btn small', title: 'Forget this run', onclick: async () => {
          if (!await confirmDialog('Forget this run?', `${r.id} and its reports are removed from the list.`, 'Forget')) return;
          try { await api.del(`${BASE}/${api.enc(r.id)}`); if (current && current.id === r.id) select_(null); await refreshList(); } catch (e) { toast(errorText(e), 'error'); }
        }}, icon('trash'))},
    ],
    empty: 'No load tests yet.',
  });

  const sub = h('span', {}, 'warren perf\u2019s load generator, run inside this node: bounded in rate, connections and time, refused during an alarm.');
  root.append(
    pageHeader('Load test', sub, stopBtn),
    alarmBox,
    h('div', {class: 'lt-top'},
      section('New run', form, {id: 'lt-new'}),
      section('Run', statusBox, {id: 'lt-run'})),
    h('div', {class: 'grid-2'},
      section('Message rates', charts.rates.el, {id: 'lt-rates-card'}),
      section('Consumer latency', charts.latency.el, {id: 'lt-latency-card'}),
      section('Queue depth', charts.depth.el, {id: 'lt-depth-card'}),
      section('Node memory', charts.memory.el, {id: 'lt-memory-card'})),
    section('Runs', runsTable.el, {id: 'lt-runs'}));

  // ---- state and polling -----------------------------------------------------
  let current = null;   // the run shown in the status card and charts
  let samples = [];     // its samples so far
  let runs = [];
  let alarm = '';
  let timer = null;

  function syncButtons() {
    const busy = runs.some(isRunning) || isRunning(current);
    startBtn.disabled = busy || !!alarm;
    startBtn.title = alarm ? 'A resource alarm is in effect' : busy ? 'A load test is running' : '';
    stopBtn.hidden = !isRunning(current);
  }

  function select_(run) {
    current = run;
    samples = [];
    for (const c of Object.values(charts)) c.setPoints([]);
    renderStatus();
    if (run) poll();
    schedule();
  }

  function schedule() {
    clearInterval(timer);
    timer = null;
    if (isRunning(current)) timer = setInterval(() => { if (!document.hidden) poll(); }, LIVE_MS);
  }
  ctx.onLeave(() => clearInterval(timer));

  let polling = false;
  async function poll() {
    if (!current || polling || ctx.left) return;
    polling = true;
    try {
      const wasRunning = isRunning(current);
      const run = await api.get(`${BASE}/${api.enc(current.id)}`, {since: samples.length}, {signal: ctx.signal});
      if (!current || run.id !== current.id) return;
      if ((run.samples_from ?? 0) === samples.length) samples.push(...(run.samples || []));
      current = run;
      draw();
      renderStatus();
      if (runs.some(r => r.id === run.id)) runsTable.update(runs = runs.map(r => r.id === run.id ? {...run, samples: undefined} : r));
      if (wasRunning && !isRunning(run)) { schedule(); refreshList(); }
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.status === 404) { select_(null); return; }
      ctx.showError(e);
    } finally {
      polling = false;
    }
  }

  function draw() {
    const run = current;
    const pts = pointsOf(run, samples);
    // The charts show the whole run so far.
    const span = samples.length ? (samples[samples.length - 1].t - samples[0].t) * 1000 : 0;
    const w = Math.max(2000, span);
    for (const [k, c] of Object.entries(charts)) {
      c.window = w;
      c.setPoints(pts[k]);
    }
    charts.rates.el.dataset.samples = String(samples.length);
  }

  function renderStatus() {
    syncButtons();
    const run = current;
    if (!run) {
      fill(statusBox, empty('No run yet: choose a preset or parameters and start one.'));
      return;
    }
    const last = samples[samples.length - 1] || run.last_sample;
    const done = !isRunning(run);
    const pctDone = Math.min(1, run.elapsed_s / Math.max(1, run.duration_s));
    const bar = h('div', {class: 'lt-progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': run.duration_s, 'aria-valuenow': Math.round(run.elapsed_s)},
      h('div', {class: ['lt-progress-fill', run.state]}));
    bar.firstChild.style.width = (done && run.state === 'finished' ? 100 : pctDone * 100).toFixed(1) + '%';
    const s = run.summary;
    const tiles = [
      {key: 'sent', label: done && s ? 'Published avg' : 'Published', value: fmt.rate(done && s ? s.sending_rate_avg : last?.sent ?? 0)},
      {key: 'confirmed', label: 'Confirmed', value: run.confirm < 0 ? 'off' : fmt.rate(last?.confirmed ?? 0)},
      {key: 'received', label: done && s ? 'Delivered avg' : 'Delivered', value: fmt.rate(done && s ? s.receiving_rate_avg : last?.received ?? 0)},
      {key: 'p50', label: 'Latency p50', value: latency(done && s && s.latency_samples ? s.latency_p50_us : last?.latency_p50_us)},
      {key: 'p99', label: 'Latency p99', value: latency(done && s && s.latency_samples ? s.latency_p99_us : last?.latency_p99_us)},
      {key: 'depth', label: 'Queue depth', value: last && last.queue_messages != null ? fmt.num(last.queue_messages) : '–', kind: 'total'},
    ];
    fill(statusBox,
      h('div', {class: 'lt-status-head'},
        h('b', {id: 'lt-id'}, run.id), h('span', {id: 'lt-state'}, stateBadge(run.state)),
        run.preset ? badge(run.preset, 'tag') : null,
        h('span', {class: 'muted lt-time'}, `${done ? 'ran ' : ''}${fmt.duration(run.elapsed_s * 1000)} of ${fmt.duration(run.duration_s * 1000)}`),
        h('span', {class: 'lt-spacer'}), reportButtons(run)),
      bar,
      run.error ? h('div', {class: run.state === 'failed' ? 'form-error' : 'notice warn', id: 'lt-error'}, run.error) : null,
      h('div', {id: 'lt-stats', dataset: {samples: String(run.sample_count)}}, statCards(tiles)),
      h('dl', {class: 'kv lt-kv'},
        h('dt', {}, 'Target'), h('dd', {}, h('code', {}, run.target), run.this_node ? h('span', {class: 'muted'}, ` as ${run.user}`) : null),
        h('dt', {}, 'Command'), h('dd', {}, h('code', {class: 'lt-cmd'}, run.command_line)),
        h('dt', {}, 'Rate cap'), h('dd', {}, run.rate_limit ? `${fmt.rate(run.rate_limit)} in all${run.rate_capped ? ' (no rate given: capped)' : ''}` : '–'),
        run.queues && run.queues.length ? [h('dt', {}, run.queues.length === 1 ? 'Queue' : 'Queues'),
          h('dd', {}, run.queues.slice(0, 6).join(', ') + (run.queues.length > 6 ? ` and ${fmt.num(run.queues.length - 6)} more` : ''))] : null,
        h('dt', {}, 'Samples'), h('dd', {id: 'lt-sample-count'}, fmt.num(run.sample_count))));
  }

  async function refreshList() {
    const list = await api.get(BASE, null, {signal: ctx.signal});
    runs = list || [];
    runsTable.update(runs);
    if (!current && runs.length) select_(runs.find(isRunning) || runs[0]);
    else if (current) {
      const fresh = runs.find(r => r.id === current.id);
      if (!fresh) select_(null);
      else if (!isRunning(current) && isRunning(fresh)) select_(fresh);
    }
    syncButtons();
  }

  async function refreshAlarms() {
    const nodes = await api.get('api/nodes', null, {signal: ctx.signal}).catch(() => []);
    const active = [];
    for (const n of nodes || []) {
      if (n.mem_alarm) active.push(`memory alarm on ${n.name}`);
      if (n.disk_free_alarm) active.push(`disk alarm on ${n.name}`);
    }
    alarm = active.join(', ');
    fill(alarmBox, alarm ? h('div', {class: 'banner', role: 'alert'}, icon('alert'),
      h('span', {}, `A resource alarm is in effect (${alarm}): publishers are blocked, so no load test can start until it clears.`)) : null);
    syncButtons();
  }

  ctx.every(async () => { await Promise.all([refreshList(), refreshAlarms()]); });
}
