import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregatedDiscovery, apiGroupList, apiResourceList, wantsAggregated } from './discovery.js';
import { openApiV3Document, openApiV3Index } from './openapi.js';
import { RESOURCES } from './registry.js';

const KUBECTL_ACCEPT =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

test('aggregated discovery is chosen by the Accept header, in its order', () => {
  assert.equal(wantsAggregated(KUBECTL_ACCEPT), 'v2');
  assert.equal(wantsAggregated('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList'), 'v2beta1');
  assert.equal(wantsAggregated('application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'), undefined);
  assert.equal(wantsAggregated(undefined), undefined);
});

test('every resource of the issue is served, with kube-apiserver verbs, scope and subresources', () => {
  const want = [
    'namespaces', 'pods', 'nodes', 'services', 'endpoints', 'configmaps', 'secrets', 'serviceaccounts', 'events',
    'replicationcontrollers', 'apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'apps/daemonsets', 'batch/jobs',
    'batch/cronjobs', 'coordination.k8s.io/leases', 'discovery.k8s.io/endpointslices', 'events.k8s.io/events',
  ];
  const have = RESOURCES.map((r) => (r.group === '' ? r.resource : `${r.group}/${r.resource}`));
  assert.deepEqual([...have].sort(), [...want].sort());
  const core = apiResourceList('', 'v1') as { resources: Array<Record<string, unknown>> };
  const pods = core.resources.find((r) => r['name'] === 'pods')!;
  assert.deepEqual(pods['verbs'], ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
  assert.deepEqual(pods['shortNames'], ['po']);
  assert.deepEqual(pods['categories'], ['all']);
  for (const sub of ['pods/status', 'pods/binding', 'pods/log', 'pods/eviction', 'nodes/status', 'services/status', 'replicationcontrollers/scale', 'namespaces/finalize']) {
    assert.ok(core.resources.some((r) => r['name'] === sub), sub);
  }
  const apps = apiResourceList('apps', 'v1') as { resources: Array<Record<string, unknown>> };
  const scale = apps.resources.find((r) => r['name'] === 'deployments/scale')!;
  assert.deepEqual([scale['group'], scale['version'], scale['kind']], ['autoscaling', 'v1', 'Scale']);
  assert.ok(apps.resources.some((r) => r['name'] === 'statefulsets/scale'));
  assert.ok(apps.resources.some((r) => r['name'] === 'daemonsets/status'));
  assert.deepEqual((apiGroupList() as { groups: Array<{ name: string }> }).groups.map((g) => g.name), ['apps', 'events.k8s.io', 'batch', 'coordination.k8s.io', 'discovery.k8s.io']);
  assert.equal(apiResourceList('apps', 'v2'), undefined);
});

test('aggregated discovery documents (apidiscovery.k8s.io/v2)', () => {
  const core = aggregatedDiscovery('api', 'v2') as any;
  assert.equal(core.kind, 'APIGroupDiscoveryList');
  assert.equal(core.apiVersion, 'apidiscovery.k8s.io/v2');
  assert.equal(core.items.length, 1);
  assert.equal(core.items[0].metadata.name, '');
  const v1 = core.items[0].versions[0];
  assert.equal(v1.version, 'v1');
  assert.equal(v1.freshness, 'Current');
  const pods = v1.resources.find((r: any) => r.resource === 'pods');
  assert.deepEqual(pods.responseKind, { group: '', version: 'v1', kind: 'Pod' });
  assert.equal(pods.scope, 'Namespaced');
  assert.equal(pods.singularResource, 'pod');
  assert.ok(pods.subresources.some((s: any) => s.subresource === 'status' && s.verbs.includes('patch')));
  const nodes = v1.resources.find((r: any) => r.resource === 'nodes');
  assert.equal(nodes.scope, 'Cluster');
  const apis = aggregatedDiscovery('apis', 'v2beta1') as any;
  assert.equal(apis.apiVersion, 'apidiscovery.k8s.io/v2beta1');
  const apps = apis.items.find((g: any) => g.metadata.name === 'apps');
  const dep = apps.versions[0].resources.find((r: any) => r.resource === 'deployments');
  assert.deepEqual(dep.subresources.find((s: any) => s.subresource === 'scale').responseKind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
});

test('openapi v3: index with hashed URLs; PATCH operations take fieldValidation and strategic merge patches', () => {
  const index = openApiV3Index() as { paths: Record<string, { serverRelativeURL: string }> };
  assert.deepEqual(Object.keys(index.paths).sort(), ['api/v1', 'apis/apps/v1', 'apis/batch/v1', 'apis/coordination.k8s.io/v1', 'apis/discovery.k8s.io/v1', 'apis/events.k8s.io/v1']);
  assert.match(index.paths['apis/apps/v1']!.serverRelativeURL, /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]{128}$/);
  const doc = JSON.parse(openApiV3Document('apis/apps/v1')!.body);
  assert.equal(doc.openapi, '3.0.0');
  const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
  assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
  assert.ok(patch.parameters.some((p: any) => p.name === 'fieldValidation' && p.in === 'query'));
  assert.ok('application/strategic-merge-patch+json' in patch.requestBody.content);
  const scale = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'].patch;
  assert.deepEqual(scale['x-kubernetes-group-version-kind'], { group: 'autoscaling', version: 'v1', kind: 'Scale' });
  assert.equal(openApiV3Document('apis/nope/v1'), undefined);
});
