// Continue tokens of paged lists, in kube-apiserver's format (k8s.io/apiserver/pkg/storage:
// base64 of JSON {v, rv, start}): the revision every page is read at and the key to resume from,
// relative to the list's prefix.

import { isJsonObject } from './json-value.js';
import { Errors } from './status-error.js';

export function encodeContinue(prefix: string, nextKey: string, rv: number): string {
  const start = nextKey.startsWith(prefix) ? nextKey.slice(prefix.length) : nextKey;
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start }), 'utf8').toString('base64url');
}

export function decodeContinue(token: string, prefix: string): { rv: number; start: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw Errors.badRequest('continue key is not valid: illegal base64 data or JSON');
  }
  if (!isJsonObject(parsed) || parsed['v'] !== 'meta.k8s.io/v1' || typeof parsed['rv'] !== 'number' || typeof parsed['start'] !== 'string') {
    throw Errors.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
  const start = parsed['start'];
  if (start.includes('..') || start.startsWith('/')) throw Errors.badRequest('continue key is not valid: start key is not a relative path');
  // rv -1: "continue inconsistently at the latest revision" (the token of a 410 Expired).
  return { rv: parsed['rv'] < 0 ? 0 : parsed['rv'], start: prefix + start };
}

