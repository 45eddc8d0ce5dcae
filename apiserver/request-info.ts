// What a URL asks for, parsed the way kube-apiserver's RequestInfoFactory does:
// /api/v1/namespaces/{ns}/{resource}/{name}/{subresource}, /apis/{group}/{version}/..., the
// namespace object itself (/api/v1/namespaces/{name}[/status|/finalize]), and the deprecated
// /watch/ prefix.

export interface ResourceRequest {
  kind: 'resource';
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
  /** Came through the legacy /watch/ path prefix. */
  legacyWatch: boolean;
}

export type RequestTarget =
  | ResourceRequest
  | { kind: 'api-versions' }
  | { kind: 'api-groups' }
  | { kind: 'api-group'; group: string }
  | { kind: 'api-resources'; group: string; version: string }
  | { kind: 'other'; path: string };

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export function parseTarget(pathname: string): RequestTarget {
  const parts = pathname.split('/').filter((p) => p !== '').map(safeDecode);
  // An encoded "/" inside a segment would address a different key: no such resource.
  if (parts.some((p) => p === undefined || p.includes('/'))) return { kind: 'other', path: pathname };
  const seg = parts as string[];
  let group: string;
  let version: string;
  let rest: string[];
  if (seg[0] === 'api') {
    if (seg.length === 1) return { kind: 'api-versions' };
    group = '';
    version = seg[1]!;
    rest = seg.slice(2);
  } else if (seg[0] === 'apis') {
    if (seg.length === 1) return { kind: 'api-groups' };
    if (seg.length === 2) return { kind: 'api-group', group: seg[1]! };
    group = seg[1]!;
    version = seg[2]!;
    rest = seg.slice(3);
  } else {
    return { kind: 'other', path: pathname };
  }
  if (rest.length === 0) return { kind: 'api-resources', group, version };
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
    if (rest.length === 0) return { kind: 'other', path: pathname };
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
    else namespace = undefined; // the namespace object itself: resource "namespaces", name = rest[1]
  }
  if (rest.length > 3) return { kind: 'other', path: pathname };
  const out: ResourceRequest = { kind: 'resource', group, version, resource: rest[0]!, legacyWatch };
  if (namespace !== undefined) out.namespace = namespace;
  if (rest[1] !== undefined) out.name = rest[1];
  if (rest[2] !== undefined) out.subresource = rest[2];
  return out;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
