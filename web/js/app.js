// app.js — client-side routing between the three pages.
//
//   /                 Workflows dashboard (dashboard.js)
//   /search           Search (search.js)
//   /trace/<traceid>  Trace view (trace.js)
//
// The server answers all three with index.html, so deep links and reloads
// work; links inside the page change the address without a reload.

import * as dashboard from './dashboard.js';
import * as searchPage from './search.js';
import * as tracePage from './trace.js';
import { getJSON } from './api.js';
import { h, replace } from './dom.js';
import { zoneFromQuery, withZone, zoneLabel } from './time.js';

const main = document.getElementById('main');
const banner = document.getElementById('banner');
let unmount = () => {};

function route(path) {
  if (path === '/' || path === '') return { page: dashboard, nav: 'dashboard', title: 'Workflows', params: {} };
  if (path === '/search' || path === '/search/') return { page: searchPage, nav: 'search', title: 'Search', params: {} };
  const m = /^\/trace\/([^/]+)$/.exec(path);
  if (m) return { page: tracePage, nav: '', title: 'Trace', params: { id: decodeURIComponent(m[1]) } };
  return null;
}

// Show the page for the current address.
function render() {
  unmount();
  unmount = () => {};
  banner.hidden = true;
  showZone(zoneFromQuery(new URLSearchParams(location.search)));
  const r = route(location.pathname);
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (r && a.dataset.nav === r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!r) {
    document.title = 'Not found · extrace';
    replace(main, h('section', { class: 'page' }, h('h1', null, 'Not found'),
      h('p', null, `No page at ${location.pathname}. `, h('a', { href: '/' }, 'Workflows'))));
    return;
  }
  document.title = `${r.title} · extrace`;
  try {
    unmount = r.page.mount(main, { params: r.params, query: new URLSearchParams(location.search), navigate });
  } catch (e) {
    showBanner(`This page failed: ${e.message}`);
  }
}

// The time-zone toggle in the header shows the zone in use.
function showZone(zone) {
  for (const b of document.querySelectorAll('[data-tz]')) {
    b.setAttribute('aria-pressed', String(b.dataset.tz === zone));
    b.title = b.dataset.tz === zone ? `Times are shown in ${zoneLabel()}` : `Show times in ${b.dataset.tz === 'utc' ? 'UTC' : 'the browser\'s time zone'}`;
  }
}

// Switch zone: the address keeps it (tz=local; UTC is the default) and
// the page is drawn again.
for (const b of document.querySelectorAll('[data-tz]')) {
  b.addEventListener('click', () => {
    const q = new URLSearchParams(location.search);
    if (b.dataset.tz === 'local') q.set('tz', 'local');
    else q.delete('tz');
    history.replaceState(null, '', q.toString() ? `${location.pathname}?${q}` : location.pathname);
    render();
  });
}

// Go to a path inside the UI (adds a history entry); the zone is kept.
export function navigate(path) {
  history.pushState(null, '', withZone(path));
  render();
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function showBanner(text) {
  banner.textContent = text;
  banner.hidden = false;
}

// Same-origin links to UI pages navigate in place; others (the API's JSON,
// new tabs, modified clicks) behave as usual.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || a.target || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !route(url.pathname)) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);
window.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  showBanner(`Unexpected error: ${e.reason && e.reason.message ? e.reason.message : e.reason}`);
});

getJSON('/api/status/buildinfo').then((b) => {
  document.getElementById('build').textContent = b.version ? `store ${b.version}` : '';
}).catch(() => {});

render();
