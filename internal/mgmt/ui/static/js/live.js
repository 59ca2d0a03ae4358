// liveCharts: the pair of live charts (message rates and queued
// messages) shown on the overview, queue and exchange pages.

import {h} from './dom.js';
import * as fmt from './fmt.js';
import {LineChart, WINDOWS} from './chart.js';
import {section} from './ui.js';
import {history, sampleRates, sampleGauges, seed, chartWindow, setChartWindow} from './stats.js';

export function liveCharts(opts) {
  const hst = history(opts.id);
  const win = chartWindow();
  const charts = [];
  const ranges = [];
  const setWin = ms => {
    setChartWindow(ms);
    for (const c of charts) c.setWindow(ms);
    for (const r of ranges) for (const b of r.children) b.classList.toggle('on', Number(b.dataset.ms) === ms);
  };
  const range = () => {
    const r = h('div', {class: 'range', role: 'group', 'aria-label': 'Chart range'},
      WINDOWS.map(w => h('button', {type: 'button', class: w.ms === win ? 'on' : '', dataset: {ms: w.ms}, onclick: () => setWin(w.ms)}, w.label)));
    ranges.push(r);
    return r;
  };
  const out = {cards: []};
  if (opts.rateSeries) {
    out.rates = new LineChart({series: opts.rateSeries, format: fmt.rate, window: win, title: opts.rateTitle || 'Message rates', height: opts.height});
    out.rates.el.id = (opts.domId || 'chart') + '-rates';
    out.rates.setPoints(hst.rates);
    charts.push(out.rates);
    out.cards.push(section(opts.rateTitle || 'Message rates', out.rates.el, {extra: range(), id: (opts.domId || 'chart') + '-rates-card'}));
  }
  if (opts.lengthSeries) {
    out.lengths = new LineChart({series: opts.lengthSeries, format: fmt.num, integer: true, window: win, title: opts.lengthTitle || 'Queued messages', height: opts.height});
    out.lengths.el.id = (opts.domId || 'chart') + '-lengths';
    out.lengths.setPoints(hst.lengths);
    charts.push(out.lengths);
    out.cards.push(section(opts.lengthTitle || 'Queued messages', out.lengths.el, {extra: range(), id: (opts.domId || 'chart') + '-lengths-card'}));
  }
  // wantsSeed is true until the first update: callers may then ask the
  // API for history samples.
  out.wantsSeed = !hst.seeded && hst.rates.length === 0;
  out.update = obj => {
    const t = Date.now();
    if (!hst.seeded) {
      hst.seeded = true;
      const sd = seed(obj, opts.rateSeries || [], opts.lengthSeries || [], t);
      if (sd) {
        if (out.rates && sd.rates.length) hst.rates.push(...sd.rates.filter(p => p.t < t));
        if (out.lengths && sd.lengths.length) hst.lengths.push(...sd.lengths.filter(p => p.t < t));
      }
    }
    if (out.rates) out.rates.push(t, sampleRates(hst, obj, opts.rateSeries, t));
    if (out.lengths) out.lengths.push(t, sampleGauges(obj, opts.lengthSeries));
  };
  out.destroy = () => charts.forEach(c => c.destroy());
  return out;
}
