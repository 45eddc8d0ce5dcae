// DeleteOptions (metav1.DeleteOptions) from a DELETE request's body and query parameters.

import { isJsonObject, type JsonObject } from './json-value.js';
import { Errors } from './status-error.js';

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export function deleteOptionsFrom(body: JsonObject, query: Record<string, string | undefined>): DeleteOptions {
  const o: DeleteOptions = {};
  const grace = query['gracePeriodSeconds'] ?? (body['gracePeriodSeconds'] === undefined || body['gracePeriodSeconds'] === null ? undefined : String(body['gracePeriodSeconds']));
  if (grace !== undefined && grace !== '') {
    const n = Number(grace);
    if (!Number.isInteger(n)) throw Errors.badRequest(`gracePeriodSeconds: invalid value "${grace}"`);
    o.gracePeriodSeconds = n;
  }
  const policy = query['propagationPolicy'] ?? (typeof body['propagationPolicy'] === 'string' ? body['propagationPolicy'] : undefined);
  if (policy !== undefined && policy !== '') o.propagationPolicy = policy as NonNullable<DeleteOptions['propagationPolicy']>;
  if (policy === undefined && body['orphanDependents'] === true) o.propagationPolicy = 'Orphan';
  if (policy === undefined && query['orphanDependents'] === 'true') o.propagationPolicy = 'Orphan';
  if (isJsonObject(body['preconditions'])) {
    const p = body['preconditions'];
    o.preconditions = {};
    if (typeof p['uid'] === 'string') o.preconditions.uid = p['uid'];
    if (typeof p['resourceVersion'] === 'string') o.preconditions.resourceVersion = p['resourceVersion'];
  }
  const dry = query['dryRun'] ?? (Array.isArray(body['dryRun']) ? (body['dryRun'] as unknown[]).join(',') : undefined);
  if (dry === 'All') o.dryRun = true;
  return o;
}
