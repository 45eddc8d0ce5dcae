// The scale subresource's view of a scalable object: an autoscaling/v1 Scale with spec.replicas
// and status.replicas/selector (the selector in its string form, as HPA and kubectl read it).

import { isJsonObject, type JsonObject } from './json-value.js';
import { LabelSelector } from './label-selector.js';
import { metaOf } from './object-meta.js';
import type { ResourceInfo } from './registry.js';

/** The Scale (autoscaling/v1) view of a scalable object. */
export function scaleOf(r: ResourceInfo, o: JsonObject): JsonObject {
  const m = metaOf(o);
  const spec = isJsonObject(o['spec']) ? o['spec'] : {};
  const status = isJsonObject(o['status']) ? o['status'] : {};
  const sel = r.kind === 'ReplicationController'
    ? LabelSelector.fromStructured({ matchLabels: spec['selector'] ?? {} })
    : LabelSelector.fromStructured(spec['selector']);
  const scaleMeta: JsonObject = {};
  for (const k of ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp']) if (m[k] !== undefined) scaleMeta[k] = m[k];
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: scaleMeta,
    spec: { replicas: typeof spec['replicas'] === 'number' ? spec['replicas'] : 0 },
    status: { replicas: typeof status['replicas'] === 'number' ? status['replicas'] : 0, selector: sel.toString() },
  };
}
