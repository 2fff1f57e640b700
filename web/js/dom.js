// dom.js — building elements without parsing HTML.
//
// Everything the API returns is shown through text nodes and attributes
// set one by one, so no value can turn into markup.

// h('tr', {class: 'row', onclick: fn, dataset: {id: 'x'}}, 'text', child, [more])
// Props: class, dataset, style (object), on<event> listeners, anything else
// as an attribute (false/null/undefined are skipped, true sets it empty).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

// svg('path', {d: 'M0,0L1,1', class: 'x'}, children…): an SVG element;
// every prop is an attribute (false/null/undefined skipped), children as in h.
export function svg(tag, props, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value !== undefined && value !== null && value !== false) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

// Append children: strings and numbers as text, arrays flattened, nullish skipped.
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

// Replace all children of el.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// A status badge: ok, error, timeout, unset.
export function badge(status) {
  const s = status || 'unset';
  return h('span', { class: `badge badge-${s}` }, s);
}

// A two-column key/value table; rows is [[key, value], …] (value text or Node).
export function kvTable(rows, label) {
  return h('table', { class: 'kv', 'aria-label': label },
    h('tbody', null, rows.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v)))));
}

// Keyboard navigation of a table's link rows (tr[tabindex]): one row is in
// the tab order at a time; ↑/↓ move between rows, Home/End to the first
// and last, Enter opens the row (open(tr)).
export function tableKeys(tbody, open) {
  tbody.addEventListener('keydown', (e) => {
    const tr = e.target.closest && e.target.closest('tr[tabindex]');
    if (!tr || e.target !== tr) return;
    const rows = [...tbody.querySelectorAll('tr[tabindex]')];
    const i = rows.indexOf(tr);
    let next = null;
    if (e.key === 'ArrowDown') next = rows[i + 1];
    else if (e.key === 'ArrowUp') next = rows[i - 1];
    else if (e.key === 'Home') next = rows[0];
    else if (e.key === 'End') next = rows[rows.length - 1];
    else if (e.key === 'Enter') { e.preventDefault(); open(tr); return; } else return;
    e.preventDefault();
    if (next) focusRow(rows, next);
  });
  tbody.addEventListener('focusin', (e) => {
    const tr = e.target.closest && e.target.closest('tr[tabindex]');
    if (tr) for (const r of tbody.querySelectorAll('tr[tabindex]')) r.tabIndex = r === tr ? 0 : -1;
  });
}

function focusRow(rows, tr) {
  for (const r of rows) r.tabIndex = r === tr ? 0 : -1;
  tr.focus();
}

// A button that copies text to the clipboard and says so.
export function copyButton(text, label) {
  const b = h('button', { type: 'button', class: 'copy', title: `Copy ${label}`, 'aria-label': `Copy ${label}` }, 'Copy');
  b.addEventListener('click', async (e) => {
    e.stopPropagation();
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch (_) {
      b.textContent = 'Select and copy';
    }
    setTimeout(() => { b.textContent = 'Copy'; }, 1500);
  });
  return b;
}
