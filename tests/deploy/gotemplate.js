'use strict';
// A small evaluator of the Go-template subset our Helm charts use, for
// machines without helm: {{ }} actions with "-" trim markers, comments,
// if / else if / else / end, pipelines, fields (.Values.a.b, $.x, .),
// string and number literals, parentheses, and the functions below
// (Go text/template + Sprig semantics for what they do here).
//
// It is strict where helm is lenient: a .Values path that values.yaml does
// not define is an error (helm would print nothing), so a misspelt value
// fails the check instead of rendering an empty field. Anything outside
// the subset (range, with, define, …) is an error naming the construct.

const crypto = require('crypto');
const YAML = require('yaml');

class TemplateError extends Error {}
// Raised by {{ fail "…" }}: the chart refused its values on purpose.
class FailError extends Error {}

// Split source into text and action tokens, applying the trim markers.
function lex(src, name) {
  const out = [];
  let pos = 0;
  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    if (open < 0) { out.push({ type: 'text', value: src.slice(pos) }); break; }
    out.push({ type: 'text', value: src.slice(pos, open) });
    const close = src.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError(`${name}: unclosed action at offset ${open}`);
    let body = src.slice(open + 2, close);
    const trimLeft = /^-\s/.test(body), trimRight = /\s-$/.test(body);
    if (trimLeft) body = body.slice(1);
    if (trimRight) body = body.slice(0, -1);
    out.push({ type: 'action', body: body.trim(), trimLeft, trimRight, line: src.slice(0, open).split('\n').length });
    pos = close + 2;
  }
  for (let i = 0; i < out.length; i++) {
    const t = out[i];
    if (t.type !== 'action') continue;
    if (t.trimLeft && out[i - 1] && out[i - 1].type === 'text') out[i - 1].value = out[i - 1].value.replace(/\s+$/, '');
    if (t.trimRight && out[i + 1] && out[i + 1].type === 'text') out[i + 1].value = out[i + 1].value.replace(/^\s+/, '');
  }
  return out;
}

// Build the tree: {type:'text'|'out'|'if'}; if = {branches:[{cond, body}], otherwise}.
function parse(tokens, name) {
  const root = [];
  const stack = [{ body: root }];
  const where = (t) => `${name}:${t.line}`;
  for (const t of tokens) {
    const top = stack[stack.length - 1];
    if (t.type === 'text') { if (t.value) top.body.push(t); continue; }
    const b = t.body;
    if (b.startsWith('/*')) continue;
    let m;
    if ((m = /^if\s+(.+)$/s.exec(b))) {
      const node = { type: 'if', branches: [{ cond: m[1], body: [] }], otherwise: null, at: where(t) };
      top.body.push(node);
      stack.push({ node, body: node.branches[0].body });
    } else if ((m = /^else\s+if\s+(.+)$/s.exec(b)) || b === 'else') {
      if (!top.node) throw new TemplateError(`${where(t)}: "else" outside an if`);
      if (m) {
        const br = { cond: m[1], body: [] };
        top.node.branches.push(br);
        top.body = br.body;
      } else {
        top.node.otherwise = [];
        top.body = top.node.otherwise;
      }
    } else if (b === 'end') {
      if (!top.node) throw new TemplateError(`${where(t)}: "end" without an if`);
      stack.pop();
    } else if (/^(range|with|define|template|block)\b/.test(b)) {
      throw new TemplateError(`${where(t)}: "${b.split(/\s/)[0]}" is outside the subset this checker evaluates`);
    } else {
      top.body.push({ type: 'out', pipeline: b, at: where(t) });
    }
  }
  if (stack.length !== 1) throw new TemplateError(`${name}: an if is not closed by end`);
  return root;
}

// Tokens of a pipeline: strings, numbers, fields, identifiers, | ( ).
function tokenize(s, at) {
  const toks = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '|' || c === '(' || c === ')') { toks.push({ k: c }); i++; continue; }
    if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      if (j >= s.length) throw new TemplateError(`${at}: unterminated string`);
      toks.push({ k: 'lit', v: JSON.parse(s.slice(i, j + 1)) });
      i = j + 1;
      continue;
    }
    const m = /^(\$?(\.[A-Za-z_][A-Za-z0-9_]*)+|\$|\.|-?[0-9]+(\.[0-9]+)?|[A-Za-z_][A-Za-z0-9_]*)/.exec(s.slice(i));
    if (!m) throw new TemplateError(`${at}: unexpected "${s.slice(i, i + 10)}"`);
    const w = m[0];
    if (/^-?[0-9]/.test(w)) toks.push({ k: 'lit', v: Number(w) });
    else if (w === 'true' || w === 'false') toks.push({ k: 'lit', v: w === 'true' });
    else if (w === 'nil') toks.push({ k: 'lit', v: null });
    else if (w[0] === '.' || w[0] === '$') toks.push({ k: 'field', v: w });
    else toks.push({ k: 'ident', v: w });
    i += w.length;
  }
  return toks;
}

function truthy(v) {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function str(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') throw new TemplateError(`cannot print a ${Array.isArray(v) ? 'list' : 'map'} (use toYaml)`);
  return String(v);
}

function indentLines(n, s) {
  const pad = ' '.repeat(n);
  return str(s).split('\n').map((l) => pad + l).join('\n');
}

// Go's %q for the strings our charts quote.
function quote(v) { return JSON.stringify(str(v)); }

function printf(fmt, ...args) {
  let i = 0;
  return str(fmt).replace(/%([svd%])/g, (_, c) => (c === '%' ? '%' : str(args[i++])));
}

class Renderer {
  // files: name → source (template names are "<chart>/templates/<file>").
  constructor({ chartName, files, values, release, chart, readFile }) {
    this.files = files;
    this.root = {
      Values: values,
      Release: release,
      Chart: chart,
      Template: { BasePath: `${chartName}/templates` },
      Files: { Get: (p) => readFile(p) },
    };
    this.depth = 0;
    this.funcs = {
      quote, printf, print: (...a) => a.map(str).join(''),
      default: (d, v) => (truthy(v) ? v : d),
      toYaml: (v) => YAML.stringify(v === undefined ? null : v).replace(/\n$/, ''),
      indent: (n, s) => indentLines(n, s),
      nindent: (n, s) => '\n' + indentLines(n, s),
      sha256sum: (s) => crypto.createHash('sha256').update(str(s)).digest('hex'),
      not: (v) => !truthy(v),
      and: (...a) => a.reduce((acc, v) => (truthy(acc) ? v : acc)),
      or: (...a) => a.reduce((acc, v) => (truthy(acc) ? acc : v)),
      eq: (a, b) => a === b,
      ne: (a, b) => a !== b,
      fail: (msg) => { throw new FailError(str(msg)); },
      required: (msg, v) => { if (!truthy(v)) throw new FailError(str(msg)); return v; },
      include: (name, ctx) => this.render(name, ctx),
    };
  }

  // The value of a field path against dot (.) and the root ($).
  field(path, dot, at) {
    let base = dot, rest = path;
    if (path.startsWith('$')) { base = this.root; rest = path.slice(1); }
    if (rest === '' || rest === '.') return base;
    let v = base, walked = '';
    for (const part of rest.slice(1).split('.')) {
      walked += '.' + part;
      if (v === null || v === undefined || typeof v !== 'object' || !(part in v)) {
        const what = walked.startsWith('.Values') ? 'values.yaml does not define' : 'no such field';
        throw new TemplateError(`${at}: ${what} ${walked}`);
      }
      v = v[part];
    }
    return v;
  }

  // Evaluate one command (tokens between pipes); `piped` is appended as the last argument.
  command(toks, dot, at, piped, hasPiped) {
    const args = [];
    let i = 0;
    const operand = () => {
      const t = toks[i++];
      if (!t) throw new TemplateError(`${at}: missing operand`);
      if (t.k === 'lit') return t.v;
      if (t.k === 'field') return this.field(t.v, dot, at);
      if (t.k === '(') {
        let depth = 1, j = i;
        while (j < toks.length && depth) { if (toks[j].k === '(') depth++; else if (toks[j].k === ')') depth--; j++; }
        if (depth) throw new TemplateError(`${at}: unbalanced parentheses`);
        const v = this.pipeline(toks.slice(i, j - 1), dot, at);
        i = j;
        return v;
      }
      if (t.k === 'ident') {
        if (!(t.v in this.funcs)) throw new TemplateError(`${at}: function "${t.v}" is outside the subset`);
        return { fn: t.v };
      }
      throw new TemplateError(`${at}: unexpected "${t.k}"`);
    };
    const head = operand();
    while (i < toks.length) args.push(operand());
    if (hasPiped) args.push(piped);
    if (head && head.fn) return this.funcs[head.fn](...args.map((a) => this.arg(a, at)));
    if (typeof head === 'function') return head(...args);
    if (args.length) throw new TemplateError(`${at}: ${typeof head} value given arguments`);
    return head;
  }

  // A bare function name as an argument is a call without arguments.
  arg(a, at) { return a && a.fn ? this.funcs[a.fn]() : a; }

  pipeline(toks, dot, at) {
    const cmds = [[]];
    let depth = 0;
    for (const t of toks) {
      if (t.k === '(') depth++;
      if (t.k === ')') depth--;
      if (t.k === '|' && depth === 0) cmds.push([]);
      else cmds[cmds.length - 1].push(t);
    }
    let v, has = false;
    for (const c of cmds) {
      if (!c.length) throw new TemplateError(`${at}: empty command in pipeline`);
      v = this.command(c, dot, at, v, has);
      has = true;
    }
    return v;
  }

  evalNodes(nodes, dot) {
    let out = '';
    for (const n of nodes) {
      if (n.type === 'text') out += n.value;
      else if (n.type === 'out') out += str(this.pipeline(tokenize(n.pipeline, n.at), dot, n.at));
      else {
        const br = n.branches.find((b) => truthy(this.pipeline(tokenize(b.cond, n.at), dot, n.at)));
        if (br) out += this.evalNodes(br.body, dot);
        else if (n.otherwise) out += this.evalNodes(n.otherwise, dot);
      }
    }
    return out;
  }

  // Render the template `name` with dot = ctx (the root by default).
  render(name, ctx) {
    if (!(name in this.files)) throw new TemplateError(`include: no template "${name}"`);
    if (++this.depth > 20) throw new TemplateError(`include: too deep at "${name}"`);
    try {
      return this.evalNodes(parse(lex(this.files[name], name), name), ctx === undefined ? this.root : ctx);
    } finally {
      this.depth--;
    }
  }
}

module.exports = { Renderer, TemplateError, FailError, truthy };
