// A small strict XML parser: enough to prove the reports are well-formed and to read their
// structure back in tests (which lanes, bars, faults and highlights they hold). It rejects
// unbalanced or mis-nested tags, unquoted or repeated attributes, raw '<' or stray '&' in text
// and unknown entities. No DTDs, no namespaces processing, no CDATA: the reports use none.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}

export type XmlNode = XmlElement | string;

export class XmlParseError extends Error {
  override name = 'XmlParseError';
  readonly kind = 'malformed-xml' as const;
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
  }
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string, at: number): string {
  return s.replace(/&([^;]*);|&/g, (m, body: string | undefined, off: number) => {
    if (body === undefined) throw new XmlParseError("stray '&'", at + off);
    if (body.startsWith('#x')) return String.fromCodePoint(parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(parseInt(body.slice(1), 10));
    const e = ENTITIES[body];
    if (e === undefined) throw new XmlParseError(`unknown entity ${m}`, at + off);
    return e;
  });
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new XmlParseError(msg, i);
  };
  const skipSpace = (): void => {
    while (i < src.length && /\s/.test(src[i] as string)) i++;
  };
  const readName = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (m === null) return fail('expected a name');
    i += m[0].length;
    return m[0];
  };
  const skipMisc = (allowDoctype: boolean): void => {
    for (;;) {
      skipSpace();
      if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (allowDoctype && src.startsWith('<!DOCTYPE', i)) {
        const end = src.indexOf('>', i);
        if (end < 0) fail('unterminated doctype');
        i = end + 1;
      } else return;
    }
  };

  const parseElement = (): XmlElement => {
    if (src[i] !== '<') fail("expected '<'");
    i++;
    const name = readName();
    const attrs: Record<string, string> = {};
    for (;;) {
      const before = i;
      skipSpace();
      if (src.startsWith('/>', i)) {
        i += 2;
        return { name, attrs, children: [] };
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      if (i === before) fail('expected whitespace before an attribute');
      const an = readName();
      skipSpace();
      if (src[i] !== '=') fail(`attribute ${an} has no value`);
      i++;
      skipSpace();
      const q = src[i];
      if (q !== '"' && q !== "'") fail(`attribute ${an} is not quoted`);
      const end = src.indexOf(q as string, i + 1);
      if (end < 0) fail('unterminated attribute value');
      const raw = src.slice(i + 1, end);
      if (raw.includes('<')) fail(`'<' in the value of attribute ${an}`);
      if (an in attrs) fail(`repeated attribute ${an}`);
      attrs[an] = decode(raw, i + 1);
      i = end + 1;
    }
    const children: XmlNode[] = [];
    for (;;) {
      if (i >= src.length) fail(`element <${name}> is not closed`);
      if (src.startsWith('</', i)) {
        i += 2;
        const close = readName();
        if (close !== name) fail(`</${close}> closes <${name}>`);
        skipSpace();
        if (src[i] !== '>') fail("expected '>'");
        i++;
        return { name, attrs, children };
      }
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
        continue;
      }
      if (src[i] === '<') {
        children.push(parseElement());
        continue;
      }
      const next = src.indexOf('<', i);
      const end = next < 0 ? src.length : next;
      children.push(decode(src.slice(i, end), i));
      i = end;
    }
  };

  skipMisc(true);
  const root = parseElement();
  skipMisc(false);
  if (i !== src.length) fail('content after the root element');
  return root;
}

/** Every element below (and including) `root` that satisfies `pred`, in document order. */
export function findAll(root: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    if (pred(e)) out.push(e);
    for (const c of e.children) if (typeof c !== 'string') walk(c);
  };
  walk(root);
  return out;
}

export function hasClass(e: XmlElement, cls: string): boolean {
  return (e.attrs.class ?? '').split(/\s+/).includes(cls);
}

export function byClass(root: XmlElement, cls: string): XmlElement[] {
  return findAll(root, (e) => hasClass(e, cls));
}

export function textOf(e: XmlElement): string {
  return e.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');
}
