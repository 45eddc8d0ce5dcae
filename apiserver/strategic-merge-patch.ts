// Applying a strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch) on the server:
// maps merge, lists merge by their merge key where the field says so (containers by name, ports
// by containerPort, ...) and are replaced otherwise, and the directives `$patch`
// (replace/delete/merge), `$retainKeys`, `$setElementOrder/<list>` and
// `$deleteFromPrimitiveList/<list>` act as kubectl's three-way patches expect.

import { PatchError } from './json-patch.js';
import { deepEqual, isJsonObject, type JsonObject } from './json-value.js';
import type { FieldMeta, PatchSchema } from './patch-meta.js';

const PATCH = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';

export function applyStrategicMergePatch(original: unknown, patch: unknown, schema: PatchSchema): unknown {
  if (!isJsonObject(patch)) throw new PatchError('strategic merge patch must be a JSON object');
  const base = isJsonObject(original) ? structuredClone(original) : {};
  const out = mergeMap(base, structuredClone(patch), schema);
  return out ?? {};
}

/** Merges `patch` into `original` (both owned, mutated). Returns undefined when `$patch: delete`. */
function mergeMap(original: JsonObject, patch: JsonObject, schema: PatchSchema | undefined): JsonObject | undefined {
  const directive = patch[PATCH];
  if (directive !== undefined) {
    delete patch[PATCH];
    if (directive === 'replace') return stripDirectives(patch) as JsonObject;
    if (directive === 'delete') return undefined;
    if (directive !== 'merge') throw new PatchError(`Unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
  }

  const retain = patch[RETAIN_KEYS];
  if (retain !== undefined) {
    delete patch[RETAIN_KEYS];
    if (!Array.isArray(retain)) throw new PatchError(`invalid ${RETAIN_KEYS} directive: must be a list`);
    const keep = new Set(retain.map(String));
    for (const k of Object.keys(patch)) {
      if (!k.startsWith('$') && patch[k] !== null && !keep.has(k)) {
        throw new PatchError(`retainKeys list does not contain key ${k} that is present in the patch`);
      }
    }
    for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
  }

  const orders = new Map<string, unknown[]>();
  for (const k of Object.keys(patch)) {
    if (k.startsWith(DELETE_PRIMITIVE)) {
      const field = k.slice(DELETE_PRIMITIVE.length);
      const del = patch[k];
      delete patch[k];
      if (!Array.isArray(del)) throw new PatchError(`invalid ${DELETE_PRIMITIVE} directive: must be a list`);
      const cur = original[field];
      if (Array.isArray(cur)) original[field] = cur.filter((v) => !del.some((d) => deepEqual(d, v)));
    } else if (k.startsWith(SET_ORDER)) {
      const order = patch[k];
      delete patch[k];
      if (!Array.isArray(order)) throw new PatchError(`invalid ${SET_ORDER} directive: must be a list`);
      orders.set(k.slice(SET_ORDER.length), order);
    }
  }

  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) throw new PatchError(`unknown patch directive ${k}`);
    const meta = schema?.fields[k];
    if (v === null) {
      delete original[k];
      continue;
    }
    const cur = original[k];
    if (isJsonObject(v)) {
      const merged = mergeMap(isJsonObject(cur) ? cur : {}, v, meta?.schema);
      if (merged === undefined) delete original[k];
      else original[k] = merged;
    } else if (Array.isArray(v)) {
      original[k] = mergeList(Array.isArray(cur) ? cur : [], v, meta, k);
    } else {
      original[k] = v;
    }
  }

  // `$setElementOrder` may name a list the patch itself does not touch (only reordered).
  for (const [field, order] of orders) {
    const cur = original[field];
    if (Array.isArray(cur)) original[field] = reorder(cur, order, schema?.fields[field]?.mergeKey);
  }
  return original;
}

function mergeList(original: unknown[], patch: unknown[], meta: FieldMeta | undefined, field: string): unknown[] {
  const replaceAll = patch.findIndex((e) => isJsonObject(e) && e[PATCH] === 'replace');
  if (replaceAll >= 0) return patch.filter((_, i) => i !== replaceAll).map(stripDirectives);
  const strategy = meta?.strategy ?? '';
  if (!strategy.includes('merge')) return patch.map(stripDirectives);

  const mapList = patch.some(isJsonObject) || original.some(isJsonObject);
  if (!mapList) {
    const out = [...original];
    for (const v of patch) if (!out.some((o) => deepEqual(o, v))) out.push(v);
    return out;
  }

  const key = meta?.mergeKey;
  if (key === undefined) return patch.map(stripDirectives);
  const out = original.map((e) => (isJsonObject(e) ? e : {})) as JsonObject[];
  for (const e of patch) {
    if (!isJsonObject(e)) throw new PatchError(`${field}: expected a list of maps, found ${JSON.stringify(e)}`);
    if (!(key in e)) throw new PatchError(`map: ${JSON.stringify(e)} does not contain declared merge key: ${key}`);
    const idx = out.findIndex((o) => deepEqual(o[key], e[key]));
    if (e[PATCH] === 'delete') {
      for (let i = out.length - 1; i >= 0; i--) if (deepEqual(out[i]![key], e[key])) out.splice(i, 1);
      continue;
    }
    if (idx >= 0) {
      const merged = mergeMap(out[idx]!, e, meta?.schema);
      if (merged === undefined) out.splice(idx, 1);
      else out[idx] = merged;
    } else {
      const fresh = mergeMap({}, e, meta?.schema);
      if (fresh !== undefined) out.push(fresh);
    }
  }
  return out;
}

/** Elements named in `order` come first, in that order; the rest keep their relative order after. */
function reorder(list: unknown[], order: unknown[], mergeKey: string | undefined): unknown[] {
  const keyOf = (e: unknown): unknown => (mergeKey !== undefined && isJsonObject(e) ? e[mergeKey] : e);
  const pos = (e: unknown): number => {
    const k = keyOf(e);
    return order.findIndex((o) => deepEqual(mergeKey !== undefined && isJsonObject(o) ? o[mergeKey] : o, k));
  };
  const listed = list.filter((e) => pos(e) >= 0).sort((a, b) => pos(a) - pos(b));
  const rest = list.filter((e) => pos(e) < 0);
  return [...listed, ...rest];
}

/** Directives never reach stored objects, even when a patch adds whole new subtrees. */
function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isJsonObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === PATCH || k === RETAIN_KEYS || k.startsWith(SET_ORDER) || k.startsWith(DELETE_PRIMITIVE)) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}
