// Small pieces of ObjectMeta handling shared by the storage semantics: timestamps in the RFC 3339
// form Kubernetes writes (second precision, UTC), uids, and generateName suffixes.

import { randomInt, randomUUID } from 'node:crypto';
import { isJsonObject, type JsonObject } from './json-value.js';

/** metav1.Time: "2026-01-02T03:04:05Z". */
export function metaTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export function newUid(): string {
  return randomUUID();
}

// k8s.io/apiserver/pkg/storage/names: 5 characters from an alphabet without vowels or look-alikes.
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const MAX_GENERATED_NAME = 63;
const RANDOM_LENGTH = 5;

export function generateName(base: string): string {
  const prefix = base.length > MAX_GENERATED_NAME - RANDOM_LENGTH ? base.slice(0, MAX_GENERATED_NAME - RANDOM_LENGTH) : base;
  let suffix = '';
  for (let i = 0; i < RANDOM_LENGTH; i++) suffix += ALPHABET[randomInt(ALPHABET.length)];
  return prefix + suffix;
}

/** The object's metadata map (created if absent). */
export function metaOf(o: JsonObject): JsonObject {
  const m = o['metadata'];
  if (isJsonObject(m)) return m;
  const fresh: JsonObject = {};
  o['metadata'] = fresh;
  return fresh;
}

export function finalizersOf(o: JsonObject): string[] {
  const f = metaOf(o)['finalizers'];
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : [];
}
