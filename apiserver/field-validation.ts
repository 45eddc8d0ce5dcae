// Unknown-field detection for `?fieldValidation=Strict|Warn|Ignore` (kubectl sends Strict).
// kube-apiserver knows every field from its Go types; here the known fields are listed for the
// parts users write by hand most — the top level of each kind, ObjectMeta, pod templates
// (PodSpec, Container) and the Deployment/Service specs. Fields below those levels are not
// checked. Strict turns unknown fields into a 400; Warn into `Warning` headers.

import { isJsonObject, type JsonObject } from './json-value.js';
import type { ResourceInfo } from './registry.js';
import { Errors } from './status-error.js';

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

interface Shape {
  fields: Set<string>;
  /** Sub-shapes of object fields and of the elements of list fields. */
  nested?: Record<string, Shape>;
}

const shape = (names: string, nested?: Record<string, Shape>): Shape => {
  const s: Shape = { fields: new Set(names.split(/\s+/).filter((x) => x !== '')) };
  if (nested !== undefined) s.nested = nested;
  return s;
};

const OBJECT_META = shape(
  'name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields',
);
const CONTAINER = shape(
  'name image command args workingDir ports envFrom env resources resizePolicy restartPolicy restartPolicyRules volumeMounts volumeDevices livenessProbe readinessProbe startupProbe lifecycle terminationMessagePath terminationMessagePolicy imagePullPolicy securityContext stdin stdinOnce tty',
);
const POD_SPEC = shape(
  'volumes initContainers containers ephemeralContainers restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy nodeSelector serviceAccountName serviceAccount automountServiceAccountToken nodeName hostNetwork hostPID hostIPC shareProcessNamespace securityContext imagePullSecrets hostname subdomain affinity schedulerName tolerations hostAliases priorityClassName priority dnsConfig readinessGates runtimeClassName enableServiceLinks preemptionPolicy overhead topologySpreadConstraints setHostnameAsFQDN os hostUsers schedulingGates resourceClaims resources',
  { containers: CONTAINER, initContainers: CONTAINER },
);
const POD_TEMPLATE = shape('metadata spec', { metadata: OBJECT_META, spec: POD_SPEC });
const workloadSpec = (names: string): Shape => shape(names, { template: POD_TEMPLATE });

const top = (names: string, nested: Record<string, Shape> = {}): Shape =>
  shape(`apiVersion kind metadata ${names}`, { metadata: OBJECT_META, ...nested });

const KINDS: Record<string, Shape> = {
  '/Pod': top('spec status', { spec: POD_SPEC }),
  '/Namespace': top('spec status'),
  '/Node': top('spec status'),
  '/Service': top('spec status', {
    spec: shape(
      'ports selector clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP loadBalancerSourceRanges externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig ipFamilies ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution',
    ),
  }),
  '/Endpoints': top('subsets'),
  '/ConfigMap': top('data binaryData immutable'),
  '/Secret': top('data stringData type immutable'),
  '/ServiceAccount': top('secrets imagePullSecrets automountServiceAccountToken'),
  '/Event': top(
    'involvedObject reason message source firstTimestamp lastTimestamp count type eventTime series action related reportingComponent reportingInstance',
  ),
  'events.k8s.io/Event': top(
    'eventTime series reportingController reportingInstance action reason regarding related note type deprecatedSource deprecatedFirstTimestamp deprecatedLastTimestamp deprecatedCount',
  ),
  '/ReplicationController': top('spec status', { spec: workloadSpec('replicas minReadySeconds selector template') }),
  'apps/Deployment': top('spec status', {
    spec: workloadSpec('replicas selector template strategy minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds'),
  }),
  'apps/ReplicaSet': top('spec status', { spec: workloadSpec('replicas minReadySeconds selector template') }),
  'apps/StatefulSet': top('spec status', {
    spec: workloadSpec(
      'replicas selector template volumeClaimTemplates serviceName podManagementPolicy updateStrategy revisionHistoryLimit minReadySeconds persistentVolumeClaimRetentionPolicy ordinals',
    ),
  }),
  'apps/DaemonSet': top('spec status', { spec: workloadSpec('selector template updateStrategy minReadySeconds revisionHistoryLimit') }),
  'batch/Job': top('spec status', {
    spec: workloadSpec(
      'parallelism completions activeDeadlineSeconds podFailurePolicy successPolicy backoffLimit backoffLimitPerIndex maxFailedIndexes selector manualSelector template ttlSecondsAfterFinished completionMode suspend podReplacementPolicy managedBy',
    ),
  }),
  'batch/CronJob': top('spec status'),
  'coordination.k8s.io/Lease': top('spec'),
  'discovery.k8s.io/EndpointSlice': top('addressType endpoints ports'),
};

/** Paths of fields the server does not know, as kube-apiserver names them ("spec.containers[0].imagee"). */
export function unknownFields(r: ResourceInfo, obj: JsonObject, prune = false): string[] {
  const s = KINDS[`${r.group}/${r.kind}`];
  if (s === undefined) return [];
  const out: string[] = [];
  walk(obj, s, '', out, prune);
  return out;
}

function walk(obj: JsonObject, s: Shape, path: string, out: string[], prune: boolean): void {
  for (const [k, v] of Object.entries(obj)) {
    const p = path === '' ? k : `${path}.${k}`;
    if (!s.fields.has(k)) {
      out.push(p);
      // Like decoding into Go types, fields the server does not know are not kept.
      if (prune) delete obj[k];
      continue;
    }
    const sub = s.nested?.[k];
    if (sub === undefined) continue;
    if (isJsonObject(v)) walk(v, sub, p, out, prune);
    else if (Array.isArray(v)) v.forEach((e, i) => isJsonObject(e) && walk(e, sub, `${p}[${i}]`, out, prune));
  }
}

/** The query parameter; kube-apiserver's default when it is absent is Warn. */
export function parseFieldValidation(v: string | null): FieldValidation {
  if (v === null || v === '') return 'Warn';
  if (v === 'Ignore' || v === 'Warn' || v === 'Strict') return v;
  throw Errors.badRequest(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
}

/**
 * Applies the directive to `obj` of kind `r`: Strict throws a 400 naming every unknown field;
 * otherwise unknown fields are dropped from `obj`, and Warn adds one warning per field.
 */
export function checkFields(r: ResourceInfo, obj: JsonObject, mode: FieldValidation | undefined, warnings: string[] | undefined): void {
  if (mode === undefined) return;
  const unknown = unknownFields(r, obj, mode !== 'Strict');
  if (unknown.length === 0 || mode === 'Ignore') return;
  if (mode === 'Strict') {
    const gv = r.group === '' ? r.version : `${r.group}/${r.version}`;
    throw Errors.badRequest(
      `${r.kind} in version "${gv}" cannot be handled as a ${r.kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`,
    );
  }
  for (const f of unknown) warnings?.push(`unknown field "${f}"`);
}
