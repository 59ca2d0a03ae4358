// Formatting of numbers, rates, sizes and times for display.

const nf = new Intl.NumberFormat('en-US');
const nf1 = new Intl.NumberFormat('en-US', {maximumFractionDigits: 1});
const nf2 = new Intl.NumberFormat('en-US', {maximumFractionDigits: 2});

export function num(v) {
  if (v === undefined || v === null || v === '') return '–';
  if (typeof v !== 'number') return String(v);
  return nf.format(v);
}

// rate formats messages (or bytes) per second.
export function rate(v) {
  if (v === undefined || v === null) return '–';
  if (v === 0) return '0/s';
  if (Math.abs(v) >= 100) return nf.format(Math.round(v)) + '/s';
  if (Math.abs(v) >= 10) return nf1.format(v) + '/s';
  return nf2.format(v) + '/s';
}

// compact formats a chart axis value: 1.2k, 3.4M.
export function compact(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return nf1.format(v / 1e9) + 'G';
  if (a >= 1e6) return nf1.format(v / 1e6) + 'M';
  if (a >= 1e4) return nf1.format(v / 1e3) + 'k';
  if (a >= 100 || Number.isInteger(v)) return nf.format(Math.round(v));
  return nf2.format(v);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
export function bytes(v) {
  if (v === undefined || v === null || typeof v !== 'number') return '–';
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
  return (i === 0 ? nf.format(v) : nf1.format(v)) + ' ' + UNITS[i];
}

export function byteRate(v) {
  if (v === undefined || v === null) return '–';
  return bytes(v) + '/s';
}

export function pad2(n) { return String(n).padStart(2, '0'); }

// clock formats a time (ms since epoch) as HH:MM:SS.
export function clock(ms, seconds = true) {
  const d = new Date(ms);
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + (seconds ? ':' + pad2(d.getSeconds()) : '');
}

// duration formats milliseconds as "3d 4h", "5m 2s".
export function duration(ms) {
  if (typeof ms !== 'number') return '–';
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

// datetime formats a timestamp in seconds or ms, or a RabbitMQ date string.
export function datetime(v) {
  if (v === undefined || v === null || v === '') return '–';
  let d;
  if (typeof v === 'number') d = new Date(v < 1e11 ? v * 1000 : v);
  else d = new Date(v);
  if (isNaN(d)) return String(v);
  return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' + clock(d.getTime());
}

export function pct(v) {
  if (typeof v !== 'number') return '–';
  return nf1.format(v * 100) + '%';
}

// get reads a dotted path ("message_stats.publish_details.rate") from obj.
export function get(obj, path) {
  let v = obj;
  for (const k of path.split('.')) {
    if (v === undefined || v === null) return undefined;
    v = v[k];
  }
  return v;
}

// vhostLabel shows the default vhost as "/".
export function vhostLabel(v) { return v; }

// tags normalises user tags: RabbitMQ 3.9+ sends a list, older ones a
// comma-separated string.
export function tags(t) {
  if (Array.isArray(t)) return t.filter(Boolean);
  if (typeof t === 'string') return t.split(',').map(x => x.trim()).filter(Boolean);
  return [];
}

// value renders an argument or property value as a short string.
export function value(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
