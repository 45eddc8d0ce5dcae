// JSON Patch (RFC 6902) with JSON Pointers (RFC 6901): add, remove, replace, move, copy, test.
// Pure: the document passed in is never modified; a failed operation throws PatchError and
// nothing of the patch applies.

import { deepEqual } from './json-value.js';

export class PatchError extends Error {
  override name = 'PatchError';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function clone<T>(v: T): T {
  return structuredClone(v);
}

export function parsePointer(ptr: string): string[] {
  if (ptr === '') return [];
  if (!ptr.startsWith('/')) throw new PatchError(`invalid JSON pointer "${ptr}": must start with "/"`);
  return ptr
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function arrayIndex(tok: string, len: number, forAdd: boolean): number {
  if (forAdd && tok === '-') return len;
  if (!/^(0|[1-9][0-9]*)$/.test(tok)) throw new PatchError(`invalid array index "${tok}"`);
  const i = Number(tok);
  if (forAdd ? i > len : i >= len) throw new PatchError(`array index ${i} out of bounds (length ${len})`);
  return i;
}

/** The container holding the target of `path` and the last token. */
function parentOf(doc: Json, path: string[], op: string): { parent: Json; last: string } {
  if (path.length === 0) throw new PatchError(`${op}: the root cannot be the target`);
  let cur: Json = doc;
  for (const tok of path.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(tok, cur.length, false)] as Json;
    else if (isObject(cur)) {
      if (!(tok in cur)) throw new PatchError(`${op} operation does not apply: doc is missing path: "/${path.join('/')}"`);
      cur = cur[tok] as Json;
    } else throw new PatchError(`${op} operation does not apply: doc is missing path: "/${path.join('/')}"`);
  }
  return { parent: cur, last: path[path.length - 1]! };
}

function get(doc: Json, path: string[], op: string): Json {
  let cur: Json = doc;
  for (const tok of path) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(tok, cur.length, false)] as Json;
    else if (isObject(cur) && tok in cur) cur = cur[tok] as Json;
    else throw new PatchError(`${op} operation does not apply: doc is missing path: "/${path.join('/')}"`);
  }
  return cur;
}

function add(doc: Json, path: string[], value: Json): Json {
  if (path.length === 0) return value;
  const { parent, last } = parentOf(doc, path, 'add');
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value);
  else if (isObject(parent)) parent[last] = value;
  else throw new PatchError(`add operation does not apply: doc is missing path: "/${path.join('/')}"`);
  return doc;
}

function remove(doc: Json, path: string[], op = 'remove'): Json {
  const { parent, last } = parentOf(doc, path, op);
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false), 1);
  else if (isObject(parent) && last in parent) delete parent[last];
  else throw new PatchError(`${op} operation does not apply: doc is missing path: "/${path.join('/')}"`);
  return doc;
}

export function applyJsonPatch(document: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw new PatchError('json patch must be an array of operations');
  let doc = clone(document) as Json;
  for (const raw of patch) {
    if (!isObject(raw)) throw new PatchError('json patch operation must be an object');
    const op = raw['op'];
    const p = raw['path'];
    if (typeof p !== 'string') throw new PatchError(`json patch operation "${String(op)}" is missing "path"`);
    const path = parsePointer(p);
    const needValue = (): Json => {
      if (!('value' in raw)) throw new PatchError(`json patch operation "${String(op)}" is missing "value"`);
      return clone(raw['value'] as Json);
    };
    const from = (): string[] => {
      if (typeof raw['from'] !== 'string') throw new PatchError(`json patch operation "${String(op)}" is missing "from"`);
      return parsePointer(raw['from']);
    };
    switch (op) {
      case 'add':
        doc = add(doc, path, needValue());
        break;
      case 'remove':
        doc = remove(doc, path);
        break;
      case 'replace': {
        const v = needValue();
        if (path.length === 0) {
          doc = v;
          break;
        }
        get(doc, path, 'replace');
        const { parent, last } = parentOf(doc, path, 'replace');
        if (Array.isArray(parent)) parent[arrayIndex(last, parent.length, false)] = v;
        else (parent as Record<string, Json>)[last] = v;
        break;
      }
      case 'move': {
        const f = from();
        if (p.startsWith(String(raw['from']) + '/')) throw new PatchError('move: "from" is a prefix of "path"');
        const v = clone(get(doc, f, 'move'));
        doc = remove(doc, f, 'move');
        doc = add(doc, path, v);
        break;
      }
      case 'copy': {
        const v = clone(get(doc, from(), 'copy'));
        doc = add(doc, path, v);
        break;
      }
      case 'test': {
        const v = needValue();
        if (!deepEqual(get(doc, path, 'test'), v)) throw new PatchError(`testing value ${p} failed`);
        break;
      }
      default:
        throw new PatchError(`Unexpected kind: ${String(op)}`);
    }
  }
  return doc;
}
