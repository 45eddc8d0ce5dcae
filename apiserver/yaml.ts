// A YAML reader for request bodies (Content-Type: application/yaml): the subset Kubernetes
// manifests use — block mappings and sequences, plain/quoted scalars, flow collections, literal
// and folded block scalars, comments, one document. Scalars resolve as sigs.k8s.io/yaml (YAML 1.1)
// does: null/~, true/false/yes/no/on/off, integers, floats. Anything else is a YamlError with
// the line it was found on.

export class YamlError extends Error {
  override name = 'YamlError';
}

interface Line {
  indent: number;
  text: string;
  no: number;
}

const MAX_DEPTH = 200;

export function parseYaml(src: string): unknown {
  const raw = src.replace(/\r\n?/g, '\n').split('\n');
  const p = new Parser(raw);
  return p.document();
}

class Parser {
  private lines: Line[] = [];
  private pos = 0;
  private depth = 0;

  constructor(private readonly raw: string[]) {
    let docs = 0;
    raw.forEach((l, i) => {
      if (/^---(\s|$)/.test(l)) {
        docs++;
        if (docs > 1 || this.lines.length > 0) throw new YamlError(`line ${i + 1}: only one YAML document is accepted per request`);
        const after = l.slice(3).trim();
        if (after !== '' && !after.startsWith('#')) this.lines.push({ indent: 0, text: after, no: i + 1 });
        return;
      }
      if (/^\.\.\.(\s|$)/.test(l)) return;
      if (l.includes('\t') && /^\s*\t/.test(l)) throw new YamlError(`line ${i + 1}: found character that cannot start any token (tab indentation)`);
      const text = stripComment(l);
      if (text.trim() === '') return;
      const indent = text.length - text.trimStart().length;
      this.lines.push({ indent, text: text.trim(), no: i + 1 });
    });
  }

  document(): unknown {
    if (this.lines.length === 0) return null;
    const v = this.block(this.lines[0]!.indent);
    if (this.pos < this.lines.length) {
      const l = this.lines[this.pos]!;
      throw new YamlError(`line ${l.no}: did not find expected key (unexpected "${l.text}")`);
    }
    return v;
  }

  private cur(): Line | undefined {
    return this.lines[this.pos];
  }

  private block(indent: number): unknown {
    if (++this.depth > MAX_DEPTH) throw new YamlError('document nested too deeply');
    try {
      const l = this.cur();
      if (l === undefined) return null;
      if (isSeqItem(l.text)) return this.seq(l.indent);
      if (splitKey(l.text) !== undefined) return this.map(l.indent);
      this.pos++;
      return this.inline(l.text, l, indent);
    } finally {
      this.depth--;
    }
  }

  private map(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (;;) {
      const l = this.cur();
      if (l === undefined || l.indent < indent) return out;
      if (l.indent > indent) throw new YamlError(`line ${l.no}: mapping values are not allowed in this context (bad indentation)`);
      if (isSeqItem(l.text)) return out;
      const kv = splitKey(l.text);
      if (kv === undefined) throw new YamlError(`line ${l.no}: could not find expected ':'`);
      const [key, rest] = kv;
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new YamlError(`line ${l.no}: key "${key}" already set in map`);
      this.pos++;
      out[key] = this.valueAfterKey(rest, l, indent);
    }
  }

  private valueAfterKey(rest: string, l: Line, indent: number): unknown {
    if (rest === '') {
      const next = this.cur();
      if (next === undefined) return null;
      if (next.indent > indent) return this.block(next.indent);
      if (next.indent === indent && isSeqItem(next.text)) return this.seq(indent);
      return null;
    }
    if (/^[|>][-+0-9]*$/.test(rest)) return this.blockScalar(rest, l, indent);
    return this.inline(rest, l, indent);
  }

  private seq(indent: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      const l = this.cur();
      if (l === undefined || l.indent < indent) return out;
      if (l.indent > indent) throw new YamlError(`line ${l.no}: bad indentation of a sequence entry`);
      if (!isSeqItem(l.text)) return out;
      const item = l.text === '-' ? '' : l.text.slice(2).trimStart();
      const itemIndent = l.indent + (l.text.length - item.length);
      if (item === '') {
        this.pos++;
        const next = this.cur();
        out.push(next !== undefined && next.indent > indent ? this.block(next.indent) : null);
      } else if (isSeqItem(item) || (splitKey(item) !== undefined && !/^[[{]/.test(item))) {
        // "- key: v" / "- - x": the rest of the line starts a nested block at its own column.
        this.lines[this.pos] = { indent: itemIndent, text: item, no: l.no };
        out.push(this.block(itemIndent));
      } else if (/^[|>][-+0-9]*$/.test(item)) {
        this.pos++;
        out.push(this.blockScalar(item, l, indent));
      } else {
        this.pos++;
        out.push(this.inline(item, l, indent));
      }
    }
  }

  /** A scalar or flow collection on one line (flow collections may continue on following lines). */
  private inline(text: string, l: Line, indent: number): unknown {
    let t = text;
    if (t.startsWith('[') || t.startsWith('{')) {
      while (!balanced(t)) {
        const next = this.cur();
        if (next === undefined) throw new YamlError(`line ${l.no}: unterminated flow collection`);
        t += ' ' + next.text;
        this.pos++;
      }
      const fp = new FlowParser(t, l.no);
      const v = fp.value();
      fp.end();
      return v;
    }
    if (t.startsWith('"') || t.startsWith("'")) {
      while (!quoteClosed(t)) {
        const next = this.cur();
        if (next === undefined) throw new YamlError(`line ${l.no}: found unexpected end of stream while scanning a quoted scalar`);
        t += ' ' + next.text;
        this.pos++;
      }
      const fp = new FlowParser(t, l.no);
      const v = fp.value();
      fp.end();
      return v;
    }
    if (t.startsWith('&') || t.startsWith('*') || t.startsWith('!')) {
      throw new YamlError(`line ${l.no}: anchors, aliases and tags are not supported`);
    }
    // Plain scalars may continue on more-indented lines (folded with spaces).
    while (true) {
      const next = this.cur();
      if (next === undefined || next.indent <= indent || isSeqItem(next.text) || splitKey(next.text) !== undefined) break;
      t += ' ' + next.text;
      this.pos++;
    }
    return resolvePlain(t);
  }

  private blockScalar(header: string, l: Line, indent: number): string {
    const style = header[0];
    const chomp = header.includes('-') ? 'strip' : header.includes('+') ? 'keep' : 'clip';
    // Block scalars are read from the raw lines (comments and blank lines are content there).
    const startRaw = l.no; // index of the next raw line
    let i = startRaw;
    const body: string[] = [];
    let blockIndent = -1;
    for (; i < this.raw.length; i++) {
      const r = this.raw[i]!;
      if (r.trim() === '') {
        body.push('');
        continue;
      }
      const ind = r.length - r.trimStart().length;
      if (blockIndent < 0) {
        if (ind <= indent) break;
        blockIndent = ind;
      }
      if (ind < blockIndent) break;
      body.push(r.slice(blockIndent));
    }
    // Skip the parsed lines that belong to the block.
    while (this.pos < this.lines.length && this.lines[this.pos]!.no <= i) this.pos++;
    let trailing = 0;
    while (body.length > 0 && body[body.length - 1] === '') {
      body.pop();
      trailing++;
    }
    let text = style === '|' ? body.join('\n') : foldLines(body);
    if (body.length > 0) {
      if (chomp === 'clip') text += '\n';
      else if (chomp === 'keep') text += '\n'.repeat(trailing + 1);
    }
    return text;
  }
}

function foldLines(lines: string[]): string {
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (i === 0) out = l;
    else if (l === '' || lines[i - 1] === '' || l.startsWith(' ')) out += '\n' + l;
    else out += ' ' + l;
  }
  return out;
}

function isSeqItem(t: string): boolean {
  return t === '-' || t.startsWith('- ');
}

/** "key: rest" → [key, rest]; undefined when the line is not a mapping entry. */
function splitKey(t: string): [string, string] | undefined {
  if (t.startsWith('"') || t.startsWith("'")) {
    const q = t[0]!;
    let i = 1;
    for (; i < t.length; i++) {
      if (q === '"' && t[i] === '\\') {
        i++;
        continue;
      }
      if (t[i] === q) {
        if (q === "'" && t[i + 1] === "'") {
          i++;
          continue;
        }
        break;
      }
    }
    const after = t.slice(i + 1);
    const m = /^\s*:(\s|$)/.exec(after);
    if (!m) return undefined;
    const key = new FlowParser(t.slice(0, i + 1), 0).value();
    return [String(key), after.slice(m[0].length).trim()];
  }
  if (t.startsWith('[') || t.startsWith('{')) return undefined;
  const m = /^([^#]*?)\s*:(\s+|$)/.exec(t);
  if (!m || m[1] === '') return undefined;
  return [m[1]!, t.slice(m[0].length).trim()];
}

function stripComment(l: string): string {
  let q: string | undefined;
  for (let i = 0; i < l.length; i++) {
    const c = l[i];
    if (q !== undefined) {
      if (q === '"' && c === '\\') i++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === "'") {
      // A quote only opens a quoted scalar at the start of a value, not inside plain text.
      const before = l.slice(0, i).trimEnd();
      if (before === '' || /[:\-[{,]$/.test(before)) q = c;
    } else if (c === '#' && (i === 0 || /\s/.test(l[i - 1]!))) {
      return l.slice(0, i);
    }
  }
  return l;
}

function balanced(t: string): boolean {
  let depth = 0;
  let q: string | undefined;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (q !== undefined) {
      if (q === '"' && c === '\\') i++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
  }
  return depth <= 0 && q === undefined;
}

function quoteClosed(t: string): boolean {
  const q = t[0];
  for (let i = 1; i < t.length; i++) {
    if (q === '"' && t[i] === '\\') {
      i++;
      continue;
    }
    if (t[i] === q) {
      if (q === "'" && t[i + 1] === "'") {
        i++;
        continue;
      }
      return true;
    }
  }
  return false;
}

const TRUE = new Set(['true', 'True', 'TRUE', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'y', 'Y']);
const FALSE = new Set(['false', 'False', 'FALSE', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'n', 'N']);

export function resolvePlain(t: string): unknown {
  const s = t.trim();
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  if (/^[-+]?(0|[1-9][0-9_]*)$/.test(s)) return Number(s.replace(/_/g, ''));
  if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s, 16);
  if (/^[-+]?(\d[\d_]*\.\d*|\.\d+|\d[\d_]*)([eE][-+]?\d+)?$/.test(s)) return Number(s.replace(/_/g, ''));
  if (/^[-+]?\.(inf|Inf|INF)$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(nan|NaN|NAN)$/.test(s)) return NaN;
  return s;
}

class FlowParser {
  private i = 0;
  constructor(
    private readonly t: string,
    private readonly line: number,
  ) {}

  private err(what: string): YamlError {
    return new YamlError(`line ${this.line}: ${what}`);
  }

  private ws(): void {
    while (this.i < this.t.length && /\s/.test(this.t[this.i]!)) this.i++;
  }

  end(): void {
    this.ws();
    if (this.i < this.t.length) throw this.err(`unexpected "${this.t.slice(this.i)}" after value`);
  }

  value(): unknown {
    this.ws();
    const c = this.t[this.i];
    if (c === '{') return this.mapping();
    if (c === '[') return this.sequence();
    if (c === '"') return this.dquoted();
    if (c === "'") return this.squoted();
    return this.plain();
  }

  private mapping(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    for (;;) {
      this.ws();
      if (this.t[this.i] === '}') {
        this.i++;
        return out;
      }
      const key = this.value();
      this.ws();
      let v: unknown = null;
      if (this.t[this.i] === ':') {
        this.i++;
        v = this.value();
      }
      out[String(key)] = v;
      this.ws();
      if (this.t[this.i] === ',') this.i++;
      else if (this.t[this.i] !== '}') throw this.err("did not find expected ',' or '}'");
    }
  }

  private sequence(): unknown[] {
    this.i++;
    const out: unknown[] = [];
    for (;;) {
      this.ws();
      if (this.t[this.i] === ']') {
        this.i++;
        return out;
      }
      out.push(this.value());
      this.ws();
      if (this.t[this.i] === ',') this.i++;
      else if (this.t[this.i] !== ']') throw this.err("did not find expected ',' or ']'");
    }
  }

  private dquoted(): string {
    const start = this.i;
    this.i++;
    let out = '';
    while (this.i < this.t.length && this.t[this.i] !== '"') {
      const c = this.t[this.i]!;
      if (c === '\\') {
        const e = this.t[this.i + 1];
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '/': '/', '0': '\0', b: '\b', f: '\f', e: '\x1b', ' ': ' ', a: '\x07', v: '\v' };
        if (e !== undefined && simple[e] !== undefined) {
          out += simple[e];
          this.i += 2;
        } else if (e === 'x' || e === 'u' || e === 'U') {
          const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
          const hex = this.t.slice(this.i + 2, this.i + 2 + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) throw this.err('found unknown escape character while parsing a quoted scalar');
          out += String.fromCodePoint(Number.parseInt(hex, 16));
          this.i += 2 + len;
        } else throw this.err('found unknown escape character while parsing a quoted scalar');
      } else {
        out += c;
        this.i++;
      }
    }
    if (this.t[this.i] !== '"') throw this.err(`found unexpected end of stream while scanning a quoted scalar starting at ${start}`);
    this.i++;
    return out;
  }

  private squoted(): string {
    this.i++;
    let out = '';
    for (;;) {
      if (this.i >= this.t.length) throw this.err('found unexpected end of stream while scanning a quoted scalar');
      const c = this.t[this.i]!;
      if (c === "'") {
        if (this.t[this.i + 1] === "'") {
          out += "'";
          this.i += 2;
          continue;
        }
        this.i++;
        return out;
      }
      out += c;
      this.i++;
    }
  }

  private plain(): unknown {
    const start = this.i;
    while (this.i < this.t.length) {
      const c = this.t[this.i]!;
      if (c === ',' || c === ']' || c === '}') break;
      if (c === ':' && (this.i + 1 >= this.t.length || /[\s,\]}]/.test(this.t[this.i + 1]!))) break;
      this.i++;
    }
    return resolvePlain(this.t.slice(start, this.i));
  }
}
