// Label selectors: the string form of list/watch `labelSelector` (k8s.io/apimachinery/pkg/labels)
// and the structured form (metav1.LabelSelector) used by workload specs. Both compile to the same
// requirements, which a label map either satisfies or not.

import { ApiError, Errors } from './status-error.js';

export type Operator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!';

export interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

export type Labels = Readonly<Record<string, string>>;

export class LabelSelector {
  constructor(readonly requirements: readonly Requirement[]) {}

  static everything(): LabelSelector {
    return new LabelSelector([]);
  }

  /** Parses the query-string syntax; throws ApiError BadRequest on malformed input. */
  static parse(text: string): LabelSelector {
    return new LabelSelector(parseRequirements(text));
  }

  /** metav1.LabelSelector → selector. An empty structured selector matches everything. */
  static fromStructured(sel: unknown): LabelSelector {
    if (sel === null || sel === undefined) return new LabelSelector([]);
    const s = sel as { matchLabels?: Record<string, string>; matchExpressions?: Array<Record<string, unknown>> };
    const reqs: Requirement[] = [];
    for (const [k, v] of Object.entries(s.matchLabels ?? {})) reqs.push({ key: k, op: '=', values: [String(v)] });
    for (const e of s.matchExpressions ?? []) {
      const key = String(e['key'] ?? '');
      const values = Array.isArray(e['values']) ? (e['values'] as unknown[]).map(String) : [];
      switch (e['operator']) {
        case 'In':
          reqs.push({ key, op: 'in', values });
          break;
        case 'NotIn':
          reqs.push({ key, op: 'notin', values });
          break;
        case 'Exists':
          reqs.push({ key, op: 'exists', values: [] });
          break;
        case 'DoesNotExist':
          reqs.push({ key, op: '!', values: [] });
          break;
        default:
          throw Errors.badRequest(`"${String(e['operator'])}" is not a valid label selector operator`);
      }
    }
    return new LabelSelector(reqs);
  }

  isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  matches(labels: Labels | undefined): boolean {
    const l = labels ?? {};
    for (const r of this.requirements) {
      const has = Object.prototype.hasOwnProperty.call(l, r.key);
      const v = has ? l[r.key] : undefined;
      switch (r.op) {
        case '=':
          if (!has || v !== r.values[0]) return false;
          break;
        case '!=':
          if (has && v === r.values[0]) return false;
          break;
        case 'in':
          if (!has || !r.values.includes(v as string)) return false;
          break;
        case 'notin':
          if (has && r.values.includes(v as string)) return false;
          break;
        case 'exists':
          if (!has) return false;
          break;
        case '!':
          if (has) return false;
          break;
      }
    }
    return true;
  }

  /** The canonical string form (what kubectl shows in SELECTOR columns). */
  toString(): string {
    return this.requirements
      .map((r) => {
        switch (r.op) {
          case '=':
            return `${r.key}=${r.values[0]}`;
          case '!=':
            return `${r.key}!=${r.values[0]}`;
          case 'in':
            return `${r.key} in (${[...r.values].sort().join(',')})`;
          case 'notin':
            return `${r.key} notin (${[...r.values].sort().join(',')})`;
          case 'exists':
            return r.key;
          case '!':
            return `!${r.key}`;
        }
        return '';
      })
      .join(',');
  }
}

// ---- the query-string grammar ----

const KEY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function bad(why: string): ApiError {
  return Errors.badRequest(`unable to parse requirement: ${why}`);
}

function checkKey(k: string): void {
  if (k.length === 0 || k.length > 316 || !KEY_RE.test(k)) {
    throw bad(`invalid label key "${k}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
  }
}

function checkValue(v: string): void {
  if (v.length > 63 || !VALUE_RE.test(v)) {
    throw bad(`invalid label value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
  }
}

/** Splits on commas that are not inside parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw Errors.badRequest(`unable to parse requirement: found ')', expected: identifier`);
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) throw Errors.badRequest(`unable to parse requirement: found '', expected: ')'`);
  parts.push(cur);
  return parts;
}

function parseRequirements(text: string): Requirement[] {
  const out: Requirement[] = [];
  if (text.trim() === '') return out;
  for (const raw of splitTop(text)) {
    const part = raw.trim();
    if (part === '') throw Errors.badRequest(`unable to parse requirement: found '', expected: identifier`);
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^!\s*(\S+)$/))) {
      checkKey(m[1]!);
      out.push({ key: m[1]!, op: '!', values: [] });
    } else if ((m = part.match(/^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      checkKey(m[1]!);
      values.forEach(checkValue);
      out.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values });
    } else if ((m = part.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      checkKey(m[1]!);
      checkValue(m[3]!);
      out.push({ key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] });
    } else if ((m = part.match(/^([^=!\s()]+)$/))) {
      checkKey(m[1]!);
      out.push({ key: m[1]!, op: 'exists', values: [] });
    } else {
      throw Errors.badRequest(`unable to parse requirement: invalid selector: '${part}'`);
    }
  }
  return out;
}
