// How a DELETE proceeds for one object (registry.Store.Delete + the per-kind graceful deletion
// strategies): gone at once, or kept with deletionTimestamp until finalizers are removed or the
// kubelet ends a graceful pod deletion. Namespaces stay Terminating until their content is gone.

import type { DeleteOptions } from './delete-options.js';
import { isJsonObject, type JsonObject } from './json-value.js';
import { finalizersOf, metaOf, metaTime } from './object-meta.js';
import type { ResourceInfo } from './registry.js';
import { Errors, Field } from './status-error.js';

function setFinalizers(m: JsonObject, f: string[]): void {
  if (f.length === 0) delete m['finalizers'];
  else m['finalizers'] = f;
}

  /**
   * Decides how a delete proceeds and applies the metadata changes to `o` when the deletion is
   * pending: 'now' removes the object; 'pending' keeps it with deletionTimestamp set.
   */
export function planDeletion(r: ResourceInfo, o: JsonObject, opts: DeleteOptions, nowMs: number): 'now' | 'pending' {
  const m = metaOf(o);
  const nowText = metaTime(nowMs);
  const finalizers = finalizersOf(o);
  const policy = opts.propagationPolicy;
  if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy)) {
    throw Errors.invalid('DeleteOptions', 'meta.k8s.io', '', [Field.notSupported('propagationPolicy', policy, ['Foreground', 'Background', 'Orphan'])]);
  }
  if (opts.gracePeriodSeconds !== undefined && opts.gracePeriodSeconds < 0) {
    throw Errors.invalid('DeleteOptions', 'meta.k8s.io', '', [Field.invalid('gracePeriodSeconds', opts.gracePeriodSeconds, 'must be greater than or equal to 0')]);
  }
  const withF = (f: string): void => {
    if (!finalizers.includes(f)) finalizers.push(f);
  };
  const without = (f: string): void => {
    const i = finalizers.indexOf(f);
    if (i >= 0) finalizers.splice(i, 1);
  };
  if (policy === 'Orphan') {
    withF('orphan');
    without('foregroundDeletion');
  } else if (policy === 'Foreground') {
    withF('foregroundDeletion');
    without('orphan');
  } else if (policy === 'Background') {
    without('orphan');
    without('foregroundDeletion');
  }
  const alreadyDeleting = m['deletionTimestamp'] !== undefined;
  // Namespaces: the first delete starts termination (spec.finalizers), the content is removed
  // by the namespace finalizer, and the object goes once spec.finalizers is empty.
  if (r.group === '' && r.kind === 'Namespace') {
    const spec = isJsonObject(o['spec']) ? o['spec'] : {};
    const specF = Array.isArray(spec['finalizers']) ? spec['finalizers'] : [];
    if (specF.length > 0 || finalizers.length > 0) {
      if (!alreadyDeleting) {
        m['deletionTimestamp'] = nowText;
        m['deletionGracePeriodSeconds'] = 0;
      }
      o['status'] = { ...(isJsonObject(o['status']) ? o['status'] : {}), phase: 'Terminating' };
      setFinalizers(m, finalizers);
      return 'pending';
    }
    return 'now';
  }
  // Pods on a node terminate gracefully: the kubelet deletes them for good (grace 0).
  if (r.group === '' && r.kind === 'Pod') {
    const spec = isJsonObject(o['spec']) ? o['spec'] : {};
    const status = isJsonObject(o['status']) ? o['status'] : {};
    let grace = opts.gracePeriodSeconds ?? (typeof spec['terminationGracePeriodSeconds'] === 'number' ? spec['terminationGracePeriodSeconds'] : 30);
    if (spec['nodeName'] === undefined || spec['nodeName'] === '' || status['phase'] === 'Succeeded' || status['phase'] === 'Failed') grace = 0;
    if (grace > 0) {
      const current = m['deletionGracePeriodSeconds'];
      if (!alreadyDeleting || (typeof current === 'number' && grace < current)) {
        m['deletionTimestamp'] = metaTime(nowMs + grace * 1000);
        m['deletionGracePeriodSeconds'] = grace;
        if (typeof m['generation'] === 'number') m['generation'] += 1;
      }
      setFinalizers(m, finalizers);
      return 'pending';
    }
    if (finalizers.length === 0) return 'now';
    if (!alreadyDeleting || m['deletionGracePeriodSeconds'] !== 0) {
      m['deletionTimestamp'] = alreadyDeleting ? m['deletionTimestamp'] : nowText;
      m['deletionGracePeriodSeconds'] = 0;
    }
    setFinalizers(m, finalizers);
    return 'pending';
  }
  if (finalizers.length === 0) return 'now';
  if (!alreadyDeleting) {
    m['deletionTimestamp'] = nowText;
    m['deletionGracePeriodSeconds'] = 0;
    if (typeof m['generation'] === 'number') m['generation'] += 1;
  }
  setFinalizers(m, finalizers);
  return 'pending';
}
