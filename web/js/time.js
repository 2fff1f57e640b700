// time.js — time ranges, parsing, readable formatting, and the time zone
// every time is shown in: UTC or the browser's (`?tz=utc` / `?tz=local`
// in the address, UTC by default so times match the stored attributes).

let zone = 'utc';

// The zone in use: 'utc' or 'local'.
export function getZone() { return zone; }

// Set the zone from a URLSearchParams (tz=local or tz=utc; else UTC).
export function zoneFromQuery(query) {
  zone = query.get('tz') === 'local' ? 'local' : 'utc';
  return zone;
}

// path (with or without a query string) with the zone kept in it.
export function withZone(path) {
  const u = new URL(path, location.origin);
  if (zone === 'local') u.searchParams.set('tz', 'local');
  else u.searchParams.delete('tz');
  return u.pathname + (u.search || '') + u.hash;
}

// The zone as a label: "UTC", or "local, UTC+02:00 (Europe/Paris)".
export function zoneLabel(ms = Date.now()) {
  if (zone === 'utc') return 'UTC';
  const off = -new Date(ms).getTimezoneOffset();
  const sign = off < 0 ? '−' : '+';
  const name = (Intl.DateTimeFormat().resolvedOptions().timeZone || '').replace(/^UTC$/, '');
  return `UTC${sign}${p2(Math.floor(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}${name ? ` ${name}` : ''}`;
}

// The short zone suffix shown after a time: "UTC" or "UTC+02:00".
export function zoneShort(ms = Date.now()) {
  return zoneLabel(ms).split(' ')[0];
}

// Calendar fields of ms in the zone in use.
function parts(ms) {
  const d = new Date(ms);
  if (zone === 'utc') {
    return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(),
      mi: d.getUTCMinutes(), s: d.getUTCSeconds(), ms: d.getUTCMilliseconds() };
  }
  return { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(), mi: d.getMinutes(),
    s: d.getSeconds(), ms: d.getMilliseconds() };
}

// The ranges offered on the dashboard and the search page.
export const RANGES = [
  { id: '15m', label: 'Last 15 minutes', seconds: 15 * 60 },
  { id: '1h', label: 'Last hour', seconds: 3600 },
  { id: '6h', label: 'Last 6 hours', seconds: 6 * 3600 },
  { id: '24h', label: 'Last 24 hours', seconds: 24 * 3600 },
  { id: '7d', label: 'Last 7 days', seconds: 7 * 24 * 3600 },
  { id: 'custom', label: 'Custom…', seconds: 0 },
];

// {start, end} in unix seconds for a range id, or for custom from/to
// (values of datetime-local inputs). Throws Error with a message on bad input.
export function rangeSeconds(id, from, to) {
  const now = Math.floor(Date.now() / 1000);
  if (id !== 'custom') {
    const r = RANGES.find((x) => x.id === id) || RANGES[1];
    return { start: now - r.seconds, end: now + 1 };
  }
  const start = Math.floor(fromLocalInput(from) / 1000);
  const end = Math.ceil(fromLocalInput(to) / 1000);
  if (!Number.isFinite(start)) throw new Error(`custom range: "from" (${from || 'empty'}) is not a date and time`);
  if (!Number.isFinite(end)) throw new Error(`custom range: "to" (${to || 'empty'}) is not a date and time`);
  if (end <= start) throw new Error('custom range: "to" must be after "from"');
  return { start, end };
}

// Value for a datetime-local input, from unix ms, in the zone in use.
export function toLocalInput(ms) {
  const t = parts(ms);
  return `${t.y}-${p2(t.mo)}-${p2(t.d)}T${p2(t.h)}:${p2(t.mi)}`;
}

// Unix ms of a datetime-local input's value read in the zone in use (NaN if none).
export function fromLocalInput(v) {
  if (!v) return NaN;
  return zone === 'utc' ? Date.parse(`${v}Z`) : new Date(v).getTime();
}

// Unix ms of an ISO 8601 timestamp with any number of fractional digits
// ("2024-07-05T06:57:56.1234567Z"); NaN when it is not one.
export function parseIso(s) {
  if (typeof s !== 'string') return NaN;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$/.exec(s.trim());
  if (!m) return NaN;
  const frac = (m[2] || '').padEnd(3, '0').slice(0, 3);
  return Date.parse(`${m[1]}.${frac}${m[3] || 'Z'}`);
}

function p2(n) { return String(n).padStart(2, '0'); }
function p3(n) { return String(n).padStart(3, '0'); }

// "2024-07-05 08:57:56" in the zone in use; with zone: "… UTC".
export function fmtDateTime(ms, { millis = false, withZoneName = false } = {}) {
  if (!Number.isFinite(ms)) return '—';
  const t = parts(ms);
  const text = `${t.y}-${p2(t.mo)}-${p2(t.d)} ${fmtClock(ms, millis)}`;
  return withZoneName ? `${text} ${zoneShort(ms)}` : text;
}

// "08:57:56", or "08:57:56.123" with millis, in the zone in use.
export function fmtClock(ms, millis = false) {
  const t = parts(ms);
  const base = `${p2(t.h)}:${p2(t.mi)}:${p2(t.s)}`;
  return millis ? `${base}.${p3(t.ms)}` : base;
}

// A duration in ms as "850 ms", "12.4 s", "4 m 05 s", "2 h 03 m".
export function fmtDuration(ms) {
  if (!Number.isFinite(ms)) return '—';
  const neg = ms < 0 ? '−' : '';
  ms = Math.abs(ms);
  if (ms < 1) return `${neg}${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${neg}${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${neg}${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${neg}${m} m ${p2(Math.floor(s % 60))} s`;
  return `${neg}${Math.floor(m / 60)} h ${p2(m % 60)} m`;
}

const STEPS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3,
  600e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3, 43200e3, 86400e3];

// A tick step (ms) giving at most maxTicks intervals over spanMs.
export function tickStep(spanMs, maxTicks) {
  for (const s of STEPS_MS) if (spanMs / s <= maxTicks) return s;
  return Math.ceil(spanMs / maxTicks / 86400e3) * 86400e3;
}

// An offset from a start as "0", "+500 ms", "+10 s", "−1.5 s", "+1 m 30 s".
export function fmtOffset(ms) {
  if (ms === 0) return '0';
  const sign = ms < 0 ? '−' : '+';
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${Math.round(ms)} ms`;
  if (ms < 60e3) return `${sign}${Number((ms / 1000).toFixed(3))} s`;
  const m = Math.floor(ms / 60e3), s = Math.round((ms % 60e3) / 1000);
  if (m < 60) return s ? `${sign}${m} m ${s} s` : `${sign}${m} m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${sign}${h} h ${m % 60} m` : `${sign}${h} h`;
}
