// Writing XML-well-formed markup (the reports are polyglot HTML/XHTML and SVG, so a plain XML
// parser can read them back): escaping, and elements built from name, attributes and children.

export function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/\n/g, '&#10;');
}

export type Attrs = Record<string, string | number | undefined>;

function attrText(attrs: Attrs): string {
  let out = '';
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    out += ` ${k}="${escapeAttr(typeof v === 'number' ? fmt(v) : v)}"`;
  }
  return out;
}

// HTML's void elements are the only ones that may be written self-closed: an HTML parser
// ignores the slash of <div/> and leaves the div open.
const VOID = new Set(['meta', 'link', 'br', 'hr', 'img', 'input']);

/** An element; children are already-rendered markup (use text() for text). */
export function el(name: string, attrs: Attrs = {}, ...children: string[]): string {
  if (VOID.has(name)) return `<${name}${attrText(attrs)}/>`;
  return `<${name}${attrText(attrs)}>${children.join('')}</${name}>`;
}

export function text(s: string): string {
  return escapeText(s);
}

/** A number short enough for coordinates (2 decimals, no trailing zeros). */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return '0';
  return String(Math.round(n * 100) / 100);
}

/** "1.23 s", "45.6 ms", "789 µs". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '∞';
  if (ms === 0) return '0';
  const trim = (x: string): string => (x.includes('.') ? x.replace(/\.?0+$/, '') : x);
  if (ms >= 1000) return `${trim((ms / 1000).toFixed(ms >= 10_000 ? 1 : 2))} s`;
  if (ms >= 1) return `${trim(ms.toFixed(ms >= 100 ? 0 : 1))} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}
