// Turning API objects into chart samples: rates come from the API's
// *_details.rate when present, else from the change of the counter
// between two polls; gauges (queue lengths) are read as they are. History
// is kept per object for the browser session, so leaving a page and coming
// back does not empty its charts.

import {get} from './fmt.js';

export const RATE_SERIES = [
  {key: 'publish', label: 'Publish', color: 'var(--c-publish)', path: 'message_stats.publish'},
  {key: 'confirm', label: 'Confirm', color: 'var(--c-confirm)', path: 'message_stats.confirm'},
  {key: 'deliver_get', label: 'Deliver / get', color: 'var(--c-deliver)', path: 'message_stats.deliver_get'},
  {key: 'ack', label: 'Ack', color: 'var(--c-ack)', path: 'message_stats.ack'},
  {key: 'redeliver', label: 'Redelivered', color: 'var(--c-redeliver)', path: 'message_stats.redeliver'},
];

export const QUEUE_RATE_SERIES = RATE_SERIES.filter(s => s.key !== 'confirm');

export const EXCHANGE_RATE_SERIES = [
  {key: 'publish_in', label: 'Publish in', color: 'var(--c-publish)', path: 'message_stats.publish_in'},
  {key: 'publish_out', label: 'Publish out', color: 'var(--c-deliver)', path: 'message_stats.publish_out'},
];

export function lengthSeries(prefix = '') {
  return [
    {key: 'ready', label: 'Ready', color: 'var(--c-ready)', path: prefix + 'messages_ready'},
    {key: 'unacked', label: 'Unacked', color: 'var(--c-unacked)', path: prefix + 'messages_unacknowledged'},
    {key: 'total', label: 'Total', color: 'var(--c-total)', path: prefix + 'messages'},
  ];
}

const histories = new Map();

// history returns the stored points for an id (created empty).
export function history(id) {
  let hst = histories.get(id);
  if (!hst) { hst = {rates: [], lengths: [], prev: null}; histories.set(id, hst); }
  return hst;
}

// sampleRates reads rates at time t, using hst.prev for counter deltas.
export function sampleRates(hst, obj, series, t) {
  const out = {};
  const counts = {};
  for (const se of series) {
    const det = get(obj, se.path + '_details');
    const count = get(obj, se.path);
    if (typeof count === 'number') counts[se.key] = count;
    if (det && typeof det.rate === 'number') { out[se.key] = det.rate; continue; }
    const p = hst.prev;
    if (typeof count === 'number' && p && typeof p.counts[se.key] === 'number' && t > p.t) {
      out[se.key] = Math.max(0, (count - p.counts[se.key]) * 1000 / (t - p.t));
    } else {
      out[se.key] = 0;
    }
  }
  hst.prev = {t, counts};
  return out;
}

export function sampleGauges(obj, series) {
  const out = {};
  for (const se of series) {
    const v = get(obj, se.path);
    out[se.key] = typeof v === 'number' ? v : 0;
  }
  return out;
}

// seed builds past points from RabbitMQ-style samples arrays
// ({sample, timestamp}, newest first) when the API sends them, shifting
// server time onto the browser's clock.
export function seed(obj, rateSeries, gaugeSeries, now) {
  const byT = {rates: new Map(), lengths: new Map()};
  let newest = 0;
  const all = [...rateSeries.map(s => [s, true]), ...gaugeSeries.map(s => [s, false])];
  for (const [se] of all) {
    const smp = get(obj, se.path + '_details.samples');
    if (Array.isArray(smp) && smp.length) newest = Math.max(newest, smp[0].timestamp || 0);
  }
  if (!newest) return null;
  const shift = now - newest;
  for (const [se, isRate] of all) {
    const smp = get(obj, se.path + '_details.samples');
    if (!Array.isArray(smp)) continue;
    const m = isRate ? byT.rates : byT.lengths;
    for (let i = 0; i < smp.length; i++) {
      const cur = smp[i];
      let v;
      if (isRate) {
        const prev = smp[i + 1];
        if (!prev || cur.timestamp <= prev.timestamp) continue;
        v = Math.max(0, (cur.sample - prev.sample) * 1000 / (cur.timestamp - prev.timestamp));
      } else v = cur.sample;
      const t = cur.timestamp + shift;
      if (!m.has(t)) m.set(t, {});
      m.get(t)[se.key] = v;
    }
  }
  const toPoints = m => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({t, v}));
  return {rates: toPoints(byT.rates), lengths: toPoints(byT.lengths)};
}

// samplesQuery asks RabbitMQ-compatible APIs for history with the first
// request, so charts start with data.
export function samplesQuery(windowMs, incrMs) {
  // RabbitMQ collects statistics every 5 s: finer samples alternate
  // between empty and double intervals.
  const age = Math.round(windowMs / 1000), incr = Math.max(5, Math.round(incrMs / 1000));
  return {lengths_age: age, lengths_incr: incr, msg_rates_age: age, msg_rates_incr: incr};
}

// chartWindow is the user's chosen chart range, remembered in localStorage.
export function chartWindow() { return Number(localStorage.getItem('warren.chartWindow') || 60_000); }
export function setChartWindow(ms) { localStorage.setItem('warren.chartWindow', String(ms)); }
