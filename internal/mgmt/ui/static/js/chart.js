// LineChart: a small SVG time-series chart with axes, time labels, a
// legend with current values (click to hide a series) and a hover
// read-out. The SVG is built once and only its paths and tick groups are
// rewritten on each update, so refreshing never flickers.

import {h, s, fill} from './dom.js';
import {clock, compact} from './fmt.js';

let chartSeq = 0;

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].map(x => x * 1000);

// niceStep returns a 1-2-5 step so that max/step is about n.
function niceStep(max, n, integer) {
  const raw = max / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = mag;
  for (const m of [1, 2, 2.5, 5, 10]) {
    step = m * mag;
    if (step >= raw) break;
  }
  if (integer) step = Math.max(1, Math.ceil(step));
  return step;
}

export class LineChart {
  // opts: series [{key, label, color}], format(v) for values, integer
  // (counts, not rates), height in px, window in ms, unit label.
  constructor(opts) {
    this.id = ++chartSeq;
    this.series = opts.series;
    this.format = opts.format || compact;
    this.axisFormat = opts.axisFormat || compact;
    this.integer = !!opts.integer;
    this.height = opts.height || 200;
    this.window = opts.window || 60_000;
    this.maxPoints = opts.maxPoints || 4000;
    this.points = []; // {t, v: {key: number}}
    this.hidden = new Set();
    this.hoverT = null;
    this.width = 0;

    this.legendValues = {};
    const legend = h('div', {class: 'chart-legend'}, this.series.map(se => {
      const val = h('span', {class: 'lg-value'}, '–');
      this.legendValues[se.key] = val;
      const sw = h('span', {class: 'lg-swatch'});
      sw.style.background = se.color;
      const item = h('button', {type: 'button', class: 'lg-item', 'aria-pressed': 'true', title: 'Show or hide ' + se.label,
        dataset: {series: se.key},
        onclick: () => {
          if (this.hidden.has(se.key)) this.hidden.delete(se.key); else this.hidden.add(se.key);
          item.classList.toggle('off', this.hidden.has(se.key));
          item.setAttribute('aria-pressed', String(!this.hidden.has(se.key)));
          this.render();
        }}, sw, h('span', {class: 'lg-label'}, se.label), val);
      return item;
    }));

    this.svg = s('svg', {class: 'chart-svg', role: 'img', 'aria-label': opts.title || 'chart'});
    const clipId = `chart-clip-${this.id}`;
    this.clipRect = s('rect', {x: 0, y: 0, width: 0, height: 0});
    this.svg.appendChild(s('defs', s('clipPath', {id: clipId}, this.clipRect)));
    this.gGrid = s('g', {class: 'chart-grid'});
    this.gX = s('g', {class: 'chart-xaxis'});
    this.gSeries = s('g', {class: 'chart-series', 'clip-path': `url(#${clipId})`});
    this.gHover = s('g', {class: 'chart-hover'});
    this.emptyText = s('text', {class: 'chart-empty', 'text-anchor': 'middle'}, opts.emptyText || 'Collecting data…');
    this.paths = {};
    const defs = this.svg.querySelector('defs');
    for (const se of this.series) {
      // A soft vertical gradient under the first shown series.
      const gid = `chart-grad-${this.id}-${se.key}`;
      const top = s('stop', {offset: '0'}), bottom = s('stop', {offset: '1'});
      top.style.stopColor = se.color; top.style.stopOpacity = '0.22';
      bottom.style.stopColor = se.color; bottom.style.stopOpacity = '0';
      defs.appendChild(s('linearGradient', {id: gid, x1: 0, y1: 0, x2: 0, y2: 1}, top, bottom));
      const area = s('path', {class: 'chart-area', fill: `url(#${gid})`});
      const line = s('path', {class: 'chart-line', dataset: {series: se.key}});
      line.style.stroke = se.color;
      this.gSeries.append(area, line);
      this.paths[se.key] = {area, line};
    }
    this.hoverLine = s('line', {class: 'chart-hover-line'});
    this.hoverDots = {};
    for (const se of this.series) {
      const c = s('circle', {r: 3.5, class: 'chart-dot'});
      c.style.fill = se.color;
      this.hoverDots[se.key] = c;
      this.gHover.appendChild(c);
    }
    this.gHover.prepend(this.hoverLine);
    this.gHover.style.display = 'none';
    this.overlay = s('rect', {class: 'chart-overlay'});
    this.svg.append(this.gGrid, this.gX, this.gSeries, this.emptyText, this.gHover, this.overlay);

    this.tip = h('div', {class: 'chart-tip', role: 'status'});
    this.tip.hidden = true;
    this.plot = h('div', {class: 'chart-plot'}, this.svg, this.tip);
    this.plot.style.height = this.height + 'px';
    this.el = h('div', {class: 'chart'}, legend, this.plot);
    if (opts.title) this.el.setAttribute('aria-label', opts.title);

    const move = ev => {
      const r = this.svg.getBoundingClientRect();
      this.hoverX = ev.clientX - r.left;
      this.renderHover();
    };
    this.overlay.addEventListener('pointermove', move);
    this.overlay.addEventListener('pointerdown', move);
    this.overlay.addEventListener('pointerleave', () => { this.hoverX = null; this.renderHover(); });

    this.ro = new ResizeObserver(() => {
      const w = Math.floor(this.plot.clientWidth);
      if (w && w !== this.width) { this.width = w; this.render(); }
    });
    this.ro.observe(this.plot);
  }

  destroy() { this.ro.disconnect(); }

  setWindow(ms) { this.window = ms; this.render(); }

  // push adds a sample at time t (ms) with values {key: number|null}.
  push(t, v) {
    const last = this.points[this.points.length - 1];
    if (last && t <= last.t) return;
    this.points.push({t, v});
    if (this.points.length > this.maxPoints) this.points.splice(0, this.points.length - this.maxPoints);
    this.render();
  }

  // setPoints shares an array of points (a page's history) with the chart.
  setPoints(points) {
    this.points = points;
    if (points.length > this.maxPoints) points.splice(0, points.length - this.maxPoints);
    this.render();
  }

  render() {
    const W = this.width || Math.floor(this.plot.clientWidth) || 600;
    const H = this.height;
    this.svg.setAttribute('width', W);
    this.svg.setAttribute('height', H);
    this.svg.setAttribute('viewBox', `0 0 ${W} ${H}`);

    const pts = this.points;
    const tMax = pts.length ? pts[pts.length - 1].t : Date.now();
    const tMin = tMax - this.window;
    const visible = pts.filter(p => p.t >= tMin - 60_000);
    const shown = this.series.filter(se => !this.hidden.has(se.key));

    let vmax = 0;
    for (const p of visible) {
      if (p.t < tMin) continue;
      for (const se of shown) {
        const v = p.v[se.key];
        if (typeof v === 'number' && v > vmax) vmax = v;
      }
    }
    const top = vmax > 0 ? vmax : (this.integer ? 4 : 1);
    const step = niceStep(top, 4, this.integer);
    const yMax = Math.max(step, Math.ceil(top / step - 1e-9) * step);
    const yTicks = [];
    for (let v = 0; v <= yMax + step / 1e6; v += step) yTicks.push(v);

    const labels = yTicks.map(v => this.axisFormat(v));
    const ml = Math.max(28, 8 + 7 * Math.max(...labels.map(l => l.length)));
    const mr = 12, mt = 10, mb = 24;
    const pw = Math.max(10, W - ml - mr), ph = Math.max(10, H - mt - mb);
    this.geom = {ml, mt, pw, ph, tMin, tMax, yMax};

    const x = t => ml + (t - tMin) / this.window * pw;
    const y = v => mt + ph - v / yMax * ph;

    // Grid and y labels.
    fill(this.gGrid, yTicks.map((v, i) => s('g', {},
      s('line', {x1: ml, x2: ml + pw, y1: y(v), y2: y(v), class: i === 0 ? 'base' : ''}),
      s('text', {x: ml - 6, y: y(v), dy: '0.32em', 'text-anchor': 'end'}, labels[i]))));

    // Time labels.
    const maxLabels = Math.max(2, Math.floor(pw / 78));
    const tStep = TIME_STEPS.find(st => this.window / st <= maxLabels) || 3600_000;
    const xs = [];
    for (let t = Math.ceil(tMin / tStep) * tStep; t <= tMax; t += tStep) {
      const px = x(t);
      if (px < ml + 14 || px > ml + pw - 14) continue;
      xs.push(s('g', {},
        s('line', {x1: px, x2: px, y1: mt + ph, y2: mt + ph + 4}),
        s('text', {x: px, y: mt + ph + 16, 'text-anchor': 'middle'}, clock(t, tStep < 60_000))));
    }
    fill(this.gX, xs);

    this.clipRect.setAttribute('x', ml);
    this.clipRect.setAttribute('y', mt - 2);
    this.clipRect.setAttribute('width', pw);
    this.clipRect.setAttribute('height', ph + 3);

    // Series.
    const areaKey = shown.length ? shown[0].key : null;
    for (const se of this.series) {
      const {area, line} = this.paths[se.key];
      if (this.hidden.has(se.key)) { line.setAttribute('d', ''); area.setAttribute('d', ''); continue; }
      let d = '', a = '', run = [];
      const flush = () => {
        if (run.length > 0) {
          d += 'M' + run.map(([px, py]) => px.toFixed(1) + ',' + py.toFixed(1)).join('L');
          if (run.length > 1) {
            a += `M${run[0][0].toFixed(1)},${(mt + ph).toFixed(1)}` +
              run.map(([px, py]) => 'L' + px.toFixed(1) + ',' + py.toFixed(1)).join('') +
              `L${run[run.length - 1][0].toFixed(1)},${(mt + ph).toFixed(1)}Z`;
          }
        }
        run = [];
      };
      for (const p of visible) {
        const v = p.v[se.key];
        if (typeof v !== 'number') { flush(); continue; }
        run.push([x(p.t), y(v)]);
      }
      flush();
      line.setAttribute('d', d);
      area.setAttribute('d', se.key === areaKey ? a : '');
    }

    this.emptyText.setAttribute('x', ml + pw / 2);
    this.emptyText.setAttribute('y', mt + ph / 2);
    this.emptyText.style.display = pts.length < 2 ? '' : 'none';

    this.overlay.setAttribute('x', ml);
    this.overlay.setAttribute('y', mt);
    this.overlay.setAttribute('width', pw);
    this.overlay.setAttribute('height', ph);

    // Legend shows the latest values.
    const last = pts[pts.length - 1];
    for (const se of this.series) {
      const v = last ? last.v[se.key] : undefined;
      this.legendValues[se.key].textContent = typeof v === 'number' ? this.format(v) : '–';
    }
    this.renderHover();
  }

  renderHover() {
    const g = this.geom;
    if (this.hoverX == null || !g || this.points.length === 0) {
      this.gHover.style.display = 'none';
      this.tip.hidden = true;
      return;
    }
    const t = g.tMin + (this.hoverX - g.ml) / g.pw * this.window;
    let best = null;
    for (const p of this.points) {
      if (p.t < g.tMin) continue;
      if (!best || Math.abs(p.t - t) < Math.abs(best.t - t)) best = p;
    }
    if (!best) { this.gHover.style.display = 'none'; this.tip.hidden = true; return; }
    const px = g.ml + (best.t - g.tMin) / this.window * g.pw;
    this.hoverLine.setAttribute('x1', px);
    this.hoverLine.setAttribute('x2', px);
    this.hoverLine.setAttribute('y1', g.mt);
    this.hoverLine.setAttribute('y2', g.mt + g.ph);
    const rows = [];
    for (const se of this.series) {
      const dot = this.hoverDots[se.key];
      const v = best.v[se.key];
      if (this.hidden.has(se.key) || typeof v !== 'number') { dot.style.display = 'none'; continue; }
      dot.style.display = '';
      dot.setAttribute('cx', px);
      dot.setAttribute('cy', g.mt + g.ph - v / g.yMax * g.ph);
      const sw = h('span', {class: 'lg-swatch'});
      sw.style.background = se.color;
      rows.push(h('div', {class: 'tip-row'}, sw, h('span', {class: 'tip-label'}, se.label), h('b', {}, this.format(v))));
    }
    this.gHover.style.display = '';
    fill(this.tip, h('div', {class: 'tip-time'}, clock(best.t)), rows);
    this.tip.hidden = false;
    const tw = this.tip.offsetWidth || 150;
    const left = px + 12 + tw > (this.width || 600) ? px - 12 - tw : px + 12;
    this.tip.style.left = Math.max(0, left) + 'px';
    this.tip.style.top = g.mt + 'px';
  }
}

// WINDOWS are the chart ranges the user can pick.
export const WINDOWS = [
  {ms: 60_000, label: '1 min'},
  {ms: 600_000, label: '10 min'},
  {ms: 3600_000, label: '1 hour'},
];
