// events.k8s.io/v1 Event <-> core/v1 Event. Both APIs serve the same stored objects
// (/registry/events), stored in the core form, as kube-apiserver does; this is the field mapping
// of k8s.io/kubernetes/pkg/apis/events/v1 conversion.

import { isJsonObject, type JsonObject } from './json-value.js';

const renames: Array<[core: string, events: string]> = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['reportingComponent', 'reportingController'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
];

export function coreToEventsV1(core: JsonObject): JsonObject {
  const out: JsonObject = { ...core, apiVersion: 'events.k8s.io/v1', kind: 'Event' };
  for (const [c, e] of renames) {
    delete out[c];
    if (core[c] !== undefined) out[e] = core[c];
  }
  if (isJsonObject(out['deprecatedSource']) && Object.keys(out['deprecatedSource']).length === 0) delete out['deprecatedSource'];
  return out;
}

export function eventsV1ToCore(ev: JsonObject): JsonObject {
  const out: JsonObject = { ...ev, apiVersion: 'v1', kind: 'Event' };
  for (const [c, e] of renames) {
    delete out[e];
    if (ev[e] !== undefined) out[c] = ev[e];
  }
  return out;
}
