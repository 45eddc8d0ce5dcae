// OpenAPI v3 documents: /openapi/v3 (the index of group-versions) and /openapi/v3/<gv path>.
//
// kubectl 1.32 reads them for two decisions: whether the server validates fields itself (a PATCH
// operation of the kind that takes the `fieldValidation` parameter → it sends
// ?fieldValidation=Strict instead of validating client-side), and whether a kind takes strategic
// merge patches (the PATCH requestBody lists application/strategic-merge-patch+json). The kind
// schemas under components are deliberately loose and carry no x-kubernetes-group-version-kind:
// kubectl then computes apply patches from its own built-in type metadata (which is exactly
// Kubernetes') instead of from a schema we would have to keep complete.

import { createHash } from 'node:crypto';
import { groupVersionOf, resourcesOf, servedGroupVersions, type ResourceInfo } from './registry.js';
import { KUBERNETES_VERSION } from './discovery.js';

/** "api/v1" or "apis/apps/v1": the keys of /openapi/v3 `paths`. */
export function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const ref = (name: string): object => ({ $ref: `#/components/schemas/${name}` });

function schemaName(r: { group: string; version: string; kind: string }): string {
  const pkg = r.group === '' ? 'core' : r.group.split('.')[0]!;
  return `io.k8s.api.${pkg}.${r.version}.${r.kind}`;
}

const queryParam = (name: string, type: 'string' | 'boolean' | 'integer', description: string): object => ({
  name,
  in: 'query',
  description,
  schema: { type, uniqueItems: true },
});
const pathParam = (name: string, description: string): object => ({
  name,
  in: 'path',
  description,
  required: true,
  schema: { type: 'string', uniqueItems: true },
});

const P = {
  dryRun: queryParam('dryRun', 'string', 'When present, indicates that modifications should not be persisted.'),
  fieldManager: queryParam('fieldManager', 'string', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  fieldValidation: queryParam(
    'fieldValidation',
    'string',
    'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.',
  ),
  force: queryParam('force', 'boolean', 'Force is going to "force" Apply requests.'),
  pretty: queryParam('pretty', 'string', "If 'true', then the output is pretty printed."),
  labelSelector: queryParam('labelSelector', 'string', 'A selector to restrict the list of returned objects by their labels.'),
  fieldSelector: queryParam('fieldSelector', 'string', 'A selector to restrict the list of returned objects by their fields.'),
  limit: queryParam('limit', 'integer', 'limit is a maximum number of responses to return for a list call.'),
  continue: queryParam('continue', 'string', 'The continue option should be set when retrieving more results from the server.'),
  resourceVersion: queryParam('resourceVersion', 'string', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
  resourceVersionMatch: queryParam('resourceVersionMatch', 'string', 'resourceVersionMatch determines how resourceVersion is applied to list calls.'),
  watch: queryParam('watch', 'boolean', 'Watch for changes to the described resources.'),
  allowWatchBookmarks: queryParam('allowWatchBookmarks', 'boolean', 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
  sendInitialEvents: queryParam('sendInitialEvents', 'boolean', 'sendInitialEvents=true may be set together with watch=true.'),
  timeoutSeconds: queryParam('timeoutSeconds', 'integer', 'Timeout for the list/watch call.'),
  gracePeriodSeconds: queryParam('gracePeriodSeconds', 'integer', 'The duration in seconds before the object should be deleted.'),
  propagationPolicy: queryParam('propagationPolicy', 'string', "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'."),
};

const json = (schema: object): object => ({ 'application/json': { schema }, 'application/yaml': { schema } });

function op(
  r: ResourceInfo,
  action: string,
  id: string,
  params: object[],
  responseSchema: object,
  requestBody?: object,
  gvk: { group: string; version: string; kind: string } = r,
): object {
  const o: Record<string, unknown> = {
    tags: [groupVersionOf(r).replace('/', '_')],
    description: `${action} ${r.kind}`,
    operationId: id,
    parameters: params,
    responses: {
      '200': { description: 'OK', content: json(responseSchema) },
      '401': { description: 'Unauthorized' },
    },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: gvk.group, version: gvk.version, kind: gvk.kind },
  };
  if (requestBody !== undefined) o['requestBody'] = { content: requestBody, required: true };
  return o;
}

const patchBody = (strategic: boolean): object => {
  const s = { schema: ref(`${META}.Patch`) };
  const body: Record<string, object> = {
    'application/json-patch+json': s,
    'application/merge-patch+json': s,
  };
  if (strategic) body['application/strategic-merge-patch+json'] = s;
  body['application/apply-patch+yaml'] = s;
  return body;
};

function camel(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function pathsFor(r: ResourceInfo): Record<string, object> {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const nsPart = r.namespaced ? '/namespaces/{namespace}' : '';
  const coll = `${base}${nsPart}/${r.resource}`;
  const item = `${coll}/{name}`;
  const idPart = `${camel(r.group.split('.')[0] ?? '')}${camel(r.version)}${r.namespaced ? 'Namespaced' : ''}${r.kind}`;
  const self = ref(schemaName(r));
  const list = ref(`${schemaName(r)}List`);
  const nsParam = r.namespaced ? [pathParam('namespace', 'object name and auth scope, such as for teams and projects')] : [];
  const nameParam = pathParam('name', `name of the ${r.kind}`);
  const writeParams = [P.dryRun, P.fieldManager, P.fieldValidation];
  const listParams = [
    P.allowWatchBookmarks,
    P.continue,
    P.fieldSelector,
    P.labelSelector,
    P.limit,
    P.resourceVersion,
    P.resourceVersionMatch,
    P.sendInitialEvents,
    P.timeoutSeconds,
    P.watch,
  ];
  const out: Record<string, object> = {};
  out[coll] = {
    get: op(r, 'list', `list${idPart}`, listParams, list),
    post: op(r, 'post', `create${idPart}`, writeParams, self, json(self)),
    delete: op(r, 'deletecollection', `deleteCollection${idPart}`, [...listParams, P.gracePeriodSeconds, P.propagationPolicy, P.dryRun], ref(`${META}.Status`)),
    parameters: [...nsParam, P.pretty],
  };
  out[item] = {
    get: op(r, 'get', `read${idPart}`, [], self),
    put: op(r, 'put', `replace${idPart}`, writeParams, self, json(self)),
    delete: op(r, 'delete', `delete${idPart}`, [P.dryRun, P.gracePeriodSeconds, P.propagationPolicy], ref(`${META}.Status`)),
    patch: op(r, 'patch', `patch${idPart}`, [...writeParams, P.force], self, patchBody(true)),
    parameters: [nameParam, ...nsParam, P.pretty],
  };
  if (r.namespaced) out[`${base}/${r.resource}`] = { get: op(r, 'list', `list${idPart}ForAllNamespaces`, listParams, list) };
  for (const s of r.subresources) {
    const p = `${item}/${s.name}`;
    const sid = `${idPart}${camel(s.name)}`;
    const gvk = { group: s.group, version: s.version, kind: s.kind };
    const sref = ref(schemaName(gvk));
    const ops: Record<string, object> = { parameters: [nameParam, ...nsParam, P.pretty] };
    if (s.verbs.includes('get')) ops['get'] = op(r, 'get', `read${sid}`, [], sref, undefined, gvk);
    if (s.verbs.includes('update')) ops['put'] = op(r, 'put', `replace${sid}`, writeParams, sref, json(sref), gvk);
    if (s.verbs.includes('patch')) ops['patch'] = op(r, 'patch', `patch${sid}`, [...writeParams, P.force], sref, patchBody(true), gvk);
    if (s.verbs.includes('create')) ops['post'] = op(r, 'post', `create${sid}`, writeParams, sref, json(sref), gvk);
    out[p] = ops;
  }
  return out;
}

function kindSchema(kind: string, description: string): object {
  return {
    description,
    type: 'object',
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { allOf: [ref(`${META}.ObjectMeta`)], default: {} },
      spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
    'x-keelson-kind': kind,
  };
}

function componentsFor(group: string, version: string): Record<string, object> {
  const schemas: Record<string, object> = {
    [`${META}.ObjectMeta`]: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    [`${META}.ListMeta`]: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    [`${META}.Status`]: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    [`${META}.Patch`]: { type: 'object', description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.' },
  };
  for (const r of resourcesOf(group, version)) {
    schemas[schemaName(r)] = kindSchema(r.kind, `${r.kind} (${groupVersionOf(r)})`);
    schemas[`${schemaName(r)}List`] = {
      type: 'object',
      required: ['items'],
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { allOf: [ref(`${META}.ListMeta`)], default: {} },
        items: { type: 'array', items: { allOf: [ref(schemaName(r))], default: {} } },
      },
    };
    for (const s of r.subresources) {
      const n = schemaName(s);
      if (schemas[n] === undefined) schemas[n] = kindSchema(s.kind, `${s.kind} (${groupVersionOf(s)})`);
    }
  }
  return schemas;
}

interface Doc {
  body: string;
  hash: string;
}

const docs = new Map<string, Doc>();

/** The document for one group-version path ("api/v1", "apis/apps/v1"), or undefined. */
export function openApiV3Document(path: string): Doc | undefined {
  const cached = docs.get(path);
  if (cached !== undefined) return cached;
  const gv = servedGroupVersions().find((g) => gvPath(g.group, g.version) === path);
  if (gv === undefined) return undefined;
  let paths: Record<string, object> = {};
  for (const r of resourcesOf(gv.group, gv.version)) paths = { ...paths, ...pathsFor(r) };
  const doc = {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: KUBERNETES_VERSION.gitVersion },
    paths,
    components: { schemas: componentsFor(gv.group, gv.version) },
  };
  const body = JSON.stringify(doc);
  const hash = createHash('sha512').update(body).digest('hex').slice(0, 128).toUpperCase();
  const d = { body, hash };
  docs.set(path, d);
  return d;
}

/** /openapi/v3: where each group-version's document is (with its content hash, for caching). */
export function openApiV3Index(): object {
  const paths: Record<string, object> = {};
  for (const g of servedGroupVersions()) {
    const p = gvPath(g.group, g.version);
    const d = openApiV3Document(p);
    if (d !== undefined) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${d.hash}` };
  }
  return { paths };
}
