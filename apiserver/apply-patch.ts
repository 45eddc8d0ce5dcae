// One PATCH body applied to an object by its media type: JSON patch, JSON merge patch or
// strategic merge patch (with the kind's merge keys). Patch errors become the Status errors
// kube-apiserver answers with (422 for a JSON patch that does not apply, 400 otherwise).

import { applyJsonPatch, PatchError } from './json-patch.js';
import { isJsonObject, type JsonObject } from './json-value.js';
import { applyMergePatch } from './merge-patch.js';
import { patchSchemaFor } from './patch-meta.js';
import { groupVersionOf, type ResourceInfo } from './registry.js';
import { Errors } from './status-error.js';
import { applyStrategicMergePatch } from './strategic-merge-patch.js';

export type PatchType = 'json' | 'merge' | 'strategic';

export function applyPatch(r: ResourceInfo, cur: JsonObject, type: PatchType, patch: unknown): JsonObject {
  let out: unknown;
  try {
    switch (type) {
      case 'json':
        out = applyJsonPatch(cur, patch);
        break;
      case 'merge':
        if (!isJsonObject(patch)) throw new PatchError('merge patch must be a JSON object');
        out = applyMergePatch(cur, patch);
        break;
      case 'strategic':
        out = applyStrategicMergePatch(cur, patch, patchSchemaFor(groupVersionOf(r), r.kind));
        break;
    }
  } catch (err) {
    if (err instanceof PatchError) {
      throw type === 'json'
        ? Errors.patchFailed(err.message)
        : Errors.badRequest(err.message);
    }
    throw err;
  }
  if (!isJsonObject(out)) throw Errors.badRequest('the patched object is not a JSON object');
  return out;
}

