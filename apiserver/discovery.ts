// Discovery documents: /version, /api, /apis, /api/v1, /apis/<g>/<v>, and the aggregated form
// (apidiscovery.k8s.io/v2 and v2beta1 APIGroupDiscoveryList) that kubectl 1.32 asks for first.
// All of it is derived from the resource table in registry.ts.

import {
  GROUP_ORDER,
  groupVersionOf,
  resourcesOf,
  servedGroupVersions,
  type ResourceInfo,
  type Verb,
} from './registry.js';

export const KUBERNETES_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0' } as const;

export function versionInfo(): Record<string, string> {
  return {
    major: KUBERNETES_VERSION.major,
    minor: KUBERNETES_VERSION.minor,
    gitVersion: `${KUBERNETES_VERSION.gitVersion}+keelson`,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export function apiVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupEntry(group: string): object {
  const gv = { groupVersion: `${group}/v1`, version: 'v1' };
  return { name: group, versions: [gv], preferredVersion: gv };
}

export function apiGroupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUP_ORDER.map(groupEntry) };
}

export function apiGroup(group: string): object | undefined {
  if (!GROUP_ORDER.includes(group)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group) };
}

function sortedVerbs(v: readonly Verb[]): Verb[] {
  return [...v].sort();
}

export function apiResourceList(group: string, version: string): object | undefined {
  if (!servedGroupVersions().some((g) => g.group === group && g.version === version)) return undefined;
  const resources: object[] = [];
  for (const r of resourcesOf(group, version)) {
    const e: Record<string, unknown> = {
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: sortedVerbs(r.verbs),
    };
    if (r.shortNames.length > 0) e['shortNames'] = r.shortNames;
    if (r.categories.length > 0) e['categories'] = r.categories;
    resources.push(e);
    for (const s of r.subresources) {
      const sub: Record<string, unknown> = {
        name: `${r.resource}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        kind: s.kind,
        verbs: sortedVerbs(s.verbs),
      };
      if (s.group !== r.group || s.version !== r.version) {
        sub['group'] = s.group;
        sub['version'] = s.version;
      }
      resources.push(sub);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersionOf({ group, version }), resources };
}

// ---- aggregated discovery ----

export type AggregatedVersion = 'v2' | 'v2beta1';

function resourceDiscovery(r: ResourceInfo): object {
  const e: Record<string, unknown> = {
    resource: r.resource,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: sortedVerbs(r.verbs),
  };
  if (r.shortNames.length > 0) e['shortNames'] = r.shortNames;
  if (r.categories.length > 0) e['categories'] = r.categories;
  if (r.subresources.length > 0) {
    e['subresources'] = r.subresources.map((s) => ({
      subresource: s.name,
      responseKind: { group: s.group, version: s.version, kind: s.kind },
      verbs: sortedVerbs(s.verbs),
    }));
  }
  return e;
}

function groupDiscovery(group: string): object {
  return {
    metadata: { name: group, creationTimestamp: null },
    versions: [{ version: 'v1', resources: resourcesOf(group, 'v1').map(resourceDiscovery), freshness: 'Current' }],
  };
}

/** /api (core only) or /apis (every named group) as an APIGroupDiscoveryList. */
export function aggregatedDiscovery(which: 'api' | 'apis', version: AggregatedVersion): object {
  const groups = which === 'api' ? [''] : [...GROUP_ORDER];
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: groups.map(groupDiscovery),
  };
}

export function aggregatedContentType(version: AggregatedVersion): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

/**
 * Which aggregated discovery version the Accept header asks for, honouring its order (kubectl
 * sends v2, then v2beta1, then plain application/json); undefined means the legacy documents.
 */
export function wantsAggregated(accept: string | undefined): AggregatedVersion | undefined {
  if (accept === undefined) return undefined;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (type !== 'application/json' && type !== '*/*') continue;
    const p = new Map(params.map((x) => x.split('=').map((y) => y.trim()) as [string, string]));
    if (p.get('g') === 'apidiscovery.k8s.io' && p.get('as') === 'APIGroupDiscoveryList') {
      const v = p.get('v');
      if (v === 'v2' || v === 'v2beta1') return v;
      continue;
    }
    // A plain JSON entry before any aggregated one: the client prefers the legacy documents.
    return undefined;
  }
  return undefined;
}
