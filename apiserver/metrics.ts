// /metrics in Prometheus format (prom-client), with the names kube-apiserver uses where it has
// them: requests by verb/resource/code, their latency, open watches, watchers cut off for being
// slow, and the watch caches' sizes. One registry per ApiServer, so several servers in one
// process (tests, a local cluster) do not mix their numbers.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ApiMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'verb' | 'group' | 'resource' | 'subresource' | 'code'>;
  readonly latency: Histogram<'verb' | 'group' | 'resource'>;
  readonly watches: Gauge<'group' | 'resource'>;
  readonly cutOff: Counter<'group' | 'resource'>;

  constructor(collectCaches: () => Array<{ prefix: string; objects: number; revision: number; watchers: number }>) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'apiserver_request_total',
      help: 'Counter of apiserver requests broken out for each verb, group, resource, subresource and HTTP response code.',
      labelNames: ['verb', 'group', 'resource', 'subresource', 'code'],
      registers,
    });
    this.latency = new Histogram({
      name: 'apiserver_request_duration_seconds',
      help: 'Response latency distribution in seconds for each verb, group and resource (watches excluded).',
      labelNames: ['verb', 'group', 'resource'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.watches = new Gauge({
      name: 'apiserver_longrunning_requests',
      help: 'Number of open watch requests per group and resource.',
      labelNames: ['group', 'resource'],
      registers,
    });
    this.cutOff = new Counter({
      name: 'apiserver_terminated_watchers_total',
      help: 'Watchers closed because they did not read fast enough.',
      labelNames: ['group', 'resource'],
      registers,
    });
    // Created unregistered (registers: []: never the global registry), added after the collector below.
    const revision = new Gauge({ name: 'apiserver_watch_cache_resource_version', help: 'Store revision each watch cache reflects.', labelNames: ['prefix'], registers: [] });
    const watchers = new Gauge({ name: 'apiserver_watch_cache_watchers', help: 'Watchers fed by each watch cache.', labelNames: ['prefix'], registers: [] });
    // Scraping the first of the three refreshes all of them (they are registered after it).
    new Gauge({
      name: 'apiserver_watch_cache_objects',
      help: 'Objects held by each watch cache.',
      labelNames: ['prefix'],
      registers,
      collect() {
        for (const c of collectCaches()) {
          this.set({ prefix: c.prefix }, c.objects);
          revision.set({ prefix: c.prefix }, c.revision);
          watchers.set({ prefix: c.prefix }, c.watchers);
        }
      },
    });
    this.registry.registerMetric(revision);
    this.registry.registerMetric(watchers);
  }
}
