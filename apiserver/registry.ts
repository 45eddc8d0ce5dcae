// The table of every resource this API server serves: what kube-apiserver publishes in discovery
// for it (group, version, kind, scope, verbs, short names, categories, subresources) and where it
// lives in the store (kube-apiserver's etcd key prefixes, so `etcdctl get /registry --prefix
// --keys-only` shows the cluster the way it would on a real control plane).

export type Verb = 'create' | 'delete' | 'deletecollection' | 'get' | 'list' | 'patch' | 'update' | 'watch';

export const ALL_VERBS: readonly Verb[] = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

export type SubresourceName = 'status' | 'scale' | 'binding' | 'log' | 'eviction' | 'finalize';

export interface SubresourceInfo {
  readonly name: SubresourceName;
  /** The kind the subresource takes and returns (Scale, Binding, Eviction, or the parent kind). */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly verbs: readonly Verb[];
}

export interface ResourceInfo {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Plural, lower case: the URL segment. */
  readonly resource: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly verbs: readonly Verb[];
  readonly subresources: readonly SubresourceInfo[];
  /** Key prefix in the store, without trailing slash: objects are `<prefix>/<ns>/<name>` or `<prefix>/<name>`. */
  readonly storagePrefix: string;
  /** metadata.generation is kept and bumped on spec changes (workload kinds, as in Kubernetes). */
  readonly usesGeneration: boolean;
  /** The deleted object (not a Status) is returned by DELETE, as kube-apiserver does for this resource. */
  readonly returnDeletedObject: boolean;
}

/** "apps/v1", or "v1" for the core group. */
export function groupVersionOf(r: { group: string; version: string }): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

const statusSub = (g: string, v: string, kind: string): SubresourceInfo => ({
  name: 'status',
  group: g,
  version: v,
  kind,
  verbs: ['get', 'patch', 'update'],
});
const scaleSub: SubresourceInfo = {
  name: 'scale',
  group: 'autoscaling',
  version: 'v1',
  kind: 'Scale',
  verbs: ['get', 'patch', 'update'],
};

interface Spec {
  group: string;
  version: string;
  kind: string;
  resource: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  subresources?: SubresourceInfo[];
  storagePrefix: string;
  usesGeneration?: boolean;
  returnDeletedObject?: boolean;
}

function def(s: Spec): ResourceInfo {
  return {
    group: s.group,
    version: s.version,
    kind: s.kind,
    resource: s.resource,
    singular: s.kind.toLowerCase(),
    namespaced: s.namespaced,
    shortNames: s.shortNames ?? [],
    categories: s.categories ?? [],
    verbs: ALL_VERBS,
    subresources: s.subresources ?? [],
    storagePrefix: s.storagePrefix,
    usesGeneration: s.usesGeneration ?? false,
    returnDeletedObject: s.returnDeletedObject ?? false,
  };
}

export const RESOURCES: readonly ResourceInfo[] = [
  def({
    group: '',
    version: 'v1',
    kind: 'Namespace',
    resource: 'namespaces',
    namespaced: false,
    shortNames: ['ns'],
    subresources: [
      { name: 'finalize', group: '', version: 'v1', kind: 'Namespace', verbs: ['update'] },
      statusSub('', 'v1', 'Namespace'),
    ],
    storagePrefix: '/registry/namespaces',
    returnDeletedObject: true,
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'Pod',
    resource: 'pods',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      { name: 'binding', group: '', version: 'v1', kind: 'Binding', verbs: ['create'] },
      { name: 'eviction', group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] },
      { name: 'log', group: '', version: 'v1', kind: 'Pod', verbs: ['get'] },
      statusSub('', 'v1', 'Pod'),
    ],
    storagePrefix: '/registry/pods',
    returnDeletedObject: true,
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'Node',
    resource: 'nodes',
    namespaced: false,
    shortNames: ['no'],
    subresources: [statusSub('', 'v1', 'Node')],
    storagePrefix: '/registry/minions',
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'Service',
    resource: 'services',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    subresources: [statusSub('', 'v1', 'Service')],
    storagePrefix: '/registry/services/specs',
    returnDeletedObject: true,
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'Endpoints',
    resource: 'endpoints',
    namespaced: true,
    shortNames: ['ep'],
    storagePrefix: '/registry/services/endpoints',
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    resource: 'configmaps',
    namespaced: true,
    shortNames: ['cm'],
    storagePrefix: '/registry/configmaps',
  }),
  def({ group: '', version: 'v1', kind: 'Secret', resource: 'secrets', namespaced: true, storagePrefix: '/registry/secrets' }),
  def({
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    resource: 'serviceaccounts',
    namespaced: true,
    shortNames: ['sa'],
    storagePrefix: '/registry/serviceaccounts',
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'Event',
    resource: 'events',
    namespaced: true,
    shortNames: ['ev'],
    storagePrefix: '/registry/events',
  }),
  def({
    group: '',
    version: 'v1',
    kind: 'ReplicationController',
    resource: 'replicationcontrollers',
    namespaced: true,
    shortNames: ['rc'],
    categories: ['all'],
    subresources: [scaleSub, statusSub('', 'v1', 'ReplicationController')],
    storagePrefix: '/registry/controllers',
    usesGeneration: true,
  }),
  def({
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    resource: 'deployments',
    namespaced: true,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [scaleSub, statusSub('apps', 'v1', 'Deployment')],
    storagePrefix: '/registry/deployments',
    usesGeneration: true,
  }),
  def({
    group: 'apps',
    version: 'v1',
    kind: 'ReplicaSet',
    resource: 'replicasets',
    namespaced: true,
    shortNames: ['rs'],
    categories: ['all'],
    subresources: [scaleSub, statusSub('apps', 'v1', 'ReplicaSet')],
    storagePrefix: '/registry/replicasets',
    usesGeneration: true,
  }),
  def({
    group: 'apps',
    version: 'v1',
    kind: 'StatefulSet',
    resource: 'statefulsets',
    namespaced: true,
    shortNames: ['sts'],
    categories: ['all'],
    subresources: [scaleSub, statusSub('apps', 'v1', 'StatefulSet')],
    storagePrefix: '/registry/statefulsets',
    usesGeneration: true,
  }),
  def({
    group: 'apps',
    version: 'v1',
    kind: 'DaemonSet',
    resource: 'daemonsets',
    namespaced: true,
    shortNames: ['ds'],
    categories: ['all'],
    subresources: [statusSub('apps', 'v1', 'DaemonSet')],
    storagePrefix: '/registry/daemonsets',
    usesGeneration: true,
  }),
  def({
    group: 'batch',
    version: 'v1',
    kind: 'Job',
    resource: 'jobs',
    namespaced: true,
    categories: ['all'],
    subresources: [statusSub('batch', 'v1', 'Job')],
    storagePrefix: '/registry/jobs',
    usesGeneration: true,
  }),
  def({
    group: 'batch',
    version: 'v1',
    kind: 'CronJob',
    resource: 'cronjobs',
    namespaced: true,
    shortNames: ['cj'],
    categories: ['all'],
    subresources: [statusSub('batch', 'v1', 'CronJob')],
    storagePrefix: '/registry/cronjobs',
    usesGeneration: true,
  }),
  def({
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    resource: 'leases',
    namespaced: true,
    storagePrefix: '/registry/leases',
  }),
  def({
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    resource: 'endpointslices',
    namespaced: true,
    storagePrefix: '/registry/endpointslices',
  }),
  // events.k8s.io/v1 Events are the same stored objects as core/v1 Events, seen through a
  // conversion (event-conversion.ts), exactly as kube-apiserver shares /registry/events.
  def({
    group: 'events.k8s.io',
    version: 'v1',
    kind: 'Event',
    resource: 'events',
    namespaced: true,
    shortNames: ['ev'],
    storagePrefix: '/registry/events',
  }),
];

/** The groups in the order kube-apiserver lists them in /apis (core is served under /api). */
export const GROUP_ORDER: readonly string[] = [
  'apps',
  'events.k8s.io',
  'batch',
  'coordination.k8s.io',
  'discovery.k8s.io',
];

export function findResource(group: string, version: string, resource: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function findByKind(group: string, version: string, kind: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.kind === kind);
}

/** Versions served per group (one each here), for /apis and /api. */
export function servedGroupVersions(): Array<{ group: string; version: string }> {
  const out: Array<{ group: string; version: string }> = [{ group: '', version: 'v1' }];
  for (const g of GROUP_ORDER) out.push({ group: g, version: 'v1' });
  return out;
}

export function resourcesOf(group: string, version: string): ResourceInfo[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version);
}

/** The store key of one object. */
export function objectKey(r: ResourceInfo, namespace: string | undefined, name: string): string {
  return r.namespaced ? `${r.storagePrefix}/${namespace ?? ''}/${name}` : `${r.storagePrefix}/${name}`;
}

/** The key prefix (with trailing slash) under which a list finds its objects. */
export function listPrefix(r: ResourceInfo, namespace: string | undefined): string {
  return r.namespaced && namespace !== undefined ? `${r.storagePrefix}/${namespace}/` : `${r.storagePrefix}/`;
}
