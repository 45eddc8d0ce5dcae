// Finishes namespace deletion (the "kubernetes" finalizer of spec.finalizers): deletes every
// namespaced object in a Terminating namespace, then removes the finalizer through the finalize
// subresource, which lets the namespace go. On a full Kubernetes this is the namespace controller
// of kube-controller-manager; here the API server runs it itself (ApiServer option
// `namespaceFinalizer`) so that `kubectl delete namespace` completes without other components.
// Objects that wait for someone else (pods terminating on a node, foreign finalizers) keep the
// namespace Terminating until they are gone, exactly as there.

import { isJsonObject, type JsonObject } from './json-value.js';
import { metaOf } from './object-meta.js';
import { findResource, RESOURCES, type ResourceInfo } from './registry.js';
import type { ResourceStore } from './resource-store.js';
import { ApiError } from './status-error.js';

const RETRY_MS = 500;
/** Bound on passes over one namespace before it is left for the next trigger. */
const MAX_PASSES = 600;

export class NamespaceFinalizer {
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;
  private unregister: (() => void) | undefined;
  private readonly namespaces: ResourceInfo;

  constructor(private readonly store: ResourceStore) {
    this.namespaces = findResource('', 'v1', 'namespaces')!;
  }

  /** Watches namespaces and finalizes the terminating ones (also those left from before a restart). */
  async start(): Promise<void> {
    const cache = this.store.cacheFor(this.namespaces);
    await cache.start();
    const snap = cache.snapshot();
    this.unregister = cache.watchFrom(snap.rev, {
      onEvent: (ev) => {
        if (ev.type !== 'DELETED') this.consider(ev.obj);
      },
      onClose: () => {
        // The cache re-listed: pick up again from its new state.
        if (!this.stopped) setTimeout(() => void this.start().catch(() => undefined), RETRY_MS);
      },
    });
    for (const it of snap.items) this.consider(it.obj);
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.unregister?.();
    return Promise.all(this.running.values()).then(() => undefined);
  }

  private consider(ns: JsonObject): void {
    const m = metaOf(ns);
    if (m['deletionTimestamp'] === undefined) return;
    const spec = isJsonObject(ns['spec']) ? ns['spec'] : {};
    if (!Array.isArray(spec['finalizers']) || !spec['finalizers'].includes('kubernetes')) return;
    const name = String(m['name']);
    if (this.running.has(name)) return;
    const job = this.finalize(name).finally(() => this.running.delete(name));
    this.running.set(name, job);
  }

  private async finalize(name: string): Promise<void> {
    for (let pass = 0; pass < MAX_PASSES && !this.stopped; pass++) {
      const left = await this.deleteContent(name).catch(() => 1);
      if (left === 0) {
        try {
          await this.store.update(this.namespaces, undefined, name, 'finalize', (cur) => {
            const c = cur ?? {};
            const spec = isJsonObject(c['spec']) ? c['spec'] : {};
            const f = Array.isArray(spec['finalizers']) ? spec['finalizers'].filter((x) => x !== 'kubernetes') : [];
            return { ...c, spec: { ...spec, finalizers: f } };
          });
          return;
        } catch (err) {
          if (err instanceof ApiError && err.code === 404) return;
        }
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /** Deletes what is left in the namespace; returns how many objects remain. */
  private async deleteContent(ns: string): Promise<number> {
    let remaining = 0;
    const seen = new Set<string>();
    for (const r of RESOURCES) {
      if (!r.namespaced || seen.has(r.storagePrefix)) continue;
      seen.add(r.storagePrefix);
      const list = await this.store.list(r, ns, {});
      const items = Array.isArray(list['items']) ? (list['items'] as JsonObject[]) : [];
      for (const it of items) {
        remaining++;
        if (metaOf(it)['deletionTimestamp'] !== undefined) continue;
        try {
          await this.store.delete(r, ns, String(metaOf(it)['name']), {});
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
      }
    }
    return remaining;
  }
}
