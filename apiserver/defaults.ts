// Defaulting as kube-apiserver applies it (pkg/apis/*/v1/defaults.go plus the admission plugins a
// default cluster runs: ServiceAccount, DefaultTolerationSeconds). Applied to every object that
// is created or updated, so what is stored reads the same as on a real cluster.

import type { ResourceInfo } from './registry.js';
import { isJsonObject, type JsonObject } from './json-value.js';

const obj = (parent: JsonObject, key: string): JsonObject => {
  const v = parent[key];
  if (isJsonObject(v)) return v;
  const fresh: JsonObject = {};
  parent[key] = fresh;
  return fresh;
};
const setDefault = (o: JsonObject, key: string, v: unknown): void => {
  if (o[key] === undefined || o[key] === null) o[key] = v;
};
const list = (v: unknown): JsonObject[] => (Array.isArray(v) ? v.filter(isJsonObject) : []);

function imageTag(image: string): string | undefined {
  const afterSlash = image.slice(image.lastIndexOf('/') + 1);
  if (image.includes('@')) return '@digest';
  const i = afterSlash.lastIndexOf(':');
  return i < 0 ? undefined : afterSlash.slice(i + 1);
}

function defaultProbe(p: unknown): void {
  if (!isJsonObject(p)) return;
  setDefault(p, 'timeoutSeconds', 1);
  setDefault(p, 'periodSeconds', 10);
  setDefault(p, 'successThreshold', 1);
  setDefault(p, 'failureThreshold', 3);
  if (isJsonObject(p['httpGet'])) setDefault(p['httpGet'], 'scheme', 'HTTP');
}

function defaultContainer(c: JsonObject): void {
  const image = typeof c['image'] === 'string' ? c['image'] : '';
  if (c['imagePullPolicy'] === undefined && image !== '') {
    const tag = imageTag(image);
    c['imagePullPolicy'] = tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
  }
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  setDefault(c, 'resources', {});
  for (const p of list(c['ports'])) setDefault(p, 'protocol', 'TCP');
  for (const e of list(c['env'])) {
    const vf = e['valueFrom'];
    if (isJsonObject(vf) && isJsonObject(vf['fieldRef'])) setDefault(vf['fieldRef'], 'apiVersion', 'v1');
  }
  defaultProbe(c['livenessProbe']);
  defaultProbe(c['readinessProbe']);
  defaultProbe(c['startupProbe']);
}

export function defaultPodSpec(spec: JsonObject, forTemplate: boolean): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  for (const c of list(spec['containers'])) defaultContainer(c);
  for (const c of list(spec['initContainers'])) defaultContainer(c);
  for (const v of list(spec['volumes'])) {
    if (isJsonObject(v['configMap'])) setDefault(v['configMap'], 'defaultMode', 420);
    if (isJsonObject(v['secret'])) setDefault(v['secret'], 'defaultMode', 420);
    if (isJsonObject(v['downwardAPI'])) setDefault(v['downwardAPI'], 'defaultMode', 420);
    if (isJsonObject(v['projected'])) setDefault(v['projected'], 'defaultMode', 420);
    const hasSource = Object.keys(v).some((k) => k !== 'name');
    if (!hasSource) v['emptyDir'] = {};
  }
  if (!forTemplate) {
    // Admission (ServiceAccount, Priority, DefaultTolerationSeconds) only acts on pods themselves.
    setDefault(spec, 'serviceAccountName', 'default');
    setDefault(spec, 'serviceAccount', spec['serviceAccountName']);
    setDefault(spec, 'enableServiceLinks', true);
    setDefault(spec, 'priority', 0);
    setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
    const tol = list(spec['tolerations']);
    const has = (key: string): boolean => tol.some((t) => t['key'] === key);
    const added: JsonObject[] = [];
    for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
      if (!has(key)) added.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
    }
    if (added.length > 0) spec['tolerations'] = [...tol, ...added];
  } else {
    if (spec['serviceAccount'] === undefined && typeof spec['serviceAccountName'] === 'string') {
      spec['serviceAccount'] = spec['serviceAccountName'];
    }
  }
}

function defaultTemplate(spec: JsonObject): void {
  const t = spec['template'];
  if (!isJsonObject(t)) return;
  setDefault(t, 'metadata', {});
  defaultPodSpec(obj(t, 'spec'), true);
}

/** QoS class of a pod as the kubelet and apiserver compute it (requests/limits of its containers). */
export function podQosClass(spec: JsonObject): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const cs = [...list(spec['containers']), ...list(spec['initContainers'])];
  let any = false;
  let guaranteed = true;
  for (const c of cs) {
    const res = isJsonObject(c['resources']) ? c['resources'] : {};
    const req = isJsonObject(res['requests']) ? res['requests'] : {};
    const lim = isJsonObject(res['limits']) ? res['limits'] : {};
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) any = true;
    for (const r of ['cpu', 'memory']) {
      if (lim[r] === undefined) guaranteed = false;
      else if (req[r] !== undefined && req[r] !== lim[r]) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** Applies the defaults of `r`'s kind to `o` in place. */
export function applyDefaults(r: ResourceInfo, o: JsonObject): void {
  const spec = (): JsonObject => obj(o, 'spec');
  switch (`${r.group}/${r.kind}`) {
    case '/Pod': {
      defaultPodSpec(spec(), false);
      // Limits without requests: requests default to the limits (core/v1 SetDefaults_Pod).
      for (const c of [...list(spec()['containers']), ...list(spec()['initContainers'])]) {
        const res = obj(c, 'resources');
        if (isJsonObject(res['limits'])) {
          const req = obj(res, 'requests');
          for (const [k, v] of Object.entries(res['limits'])) setDefault(req, k, v);
        }
      }
      break;
    }
    case '/Namespace': {
      const meta = obj(o, 'metadata');
      if (typeof meta['name'] === 'string') {
        obj(meta, 'labels')['kubernetes.io/metadata.name'] = meta['name'];
      }
      break;
    }
    case '/Service': {
      const s = spec();
      setDefault(s, 'type', 'ClusterIP');
      setDefault(s, 'sessionAffinity', 'None');
      if (s['type'] !== 'ExternalName') {
        setDefault(s, 'internalTrafficPolicy', 'Cluster');
        if (s['type'] === 'NodePort' || s['type'] === 'LoadBalancer') setDefault(s, 'externalTrafficPolicy', 'Cluster');
      }
      for (const p of list(s['ports'])) {
        setDefault(p, 'protocol', 'TCP');
        setDefault(p, 'targetPort', p['port']);
      }
      break;
    }
    case '/Endpoints':
      for (const ss of list(o['subsets'])) for (const p of list(ss['ports'])) setDefault(p, 'protocol', 'TCP');
      break;
    case 'discovery.k8s.io/EndpointSlice':
      for (const p of list(o['ports'])) setDefault(p, 'protocol', 'TCP');
      break;
    case '/Secret': {
      setDefault(o, 'type', 'Opaque');
      // stringData is write-only: merged into data (base64) and never stored.
      if (isJsonObject(o['stringData'])) {
        const data = obj(o, 'data');
        for (const [k, v] of Object.entries(o['stringData'])) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
        delete o['stringData'];
      }
      break;
    }
    case '/ReplicationController': {
      const s = spec();
      setDefault(s, 'replicas', 1);
      setDefault(s, 'minReadySeconds', 0);
      const t = s['template'];
      if (isJsonObject(t)) {
        const labels = obj(t, 'metadata')['labels'];
        if (isJsonObject(labels)) {
          if (s['selector'] === undefined || (isJsonObject(s['selector']) && Object.keys(s['selector']).length === 0)) {
            s['selector'] = { ...labels };
          }
          const meta = obj(o, 'metadata');
          if (meta['labels'] === undefined) meta['labels'] = { ...labels };
        }
      }
      defaultTemplate(s);
      break;
    }
    case 'apps/Deployment': {
      const s = spec();
      setDefault(s, 'replicas', 1);
      const strategy = obj(s, 'strategy');
      setDefault(strategy, 'type', 'RollingUpdate');
      if (strategy['type'] === 'RollingUpdate') {
        const ru = obj(strategy, 'rollingUpdate');
        setDefault(ru, 'maxUnavailable', '25%');
        setDefault(ru, 'maxSurge', '25%');
      }
      setDefault(s, 'revisionHistoryLimit', 10);
      setDefault(s, 'progressDeadlineSeconds', 600);
      defaultTemplate(s);
      break;
    }
    case 'apps/ReplicaSet': {
      const s = spec();
      setDefault(s, 'replicas', 1);
      defaultTemplate(s);
      break;
    }
    case 'apps/StatefulSet': {
      const s = spec();
      setDefault(s, 'replicas', 1);
      setDefault(s, 'podManagementPolicy', 'OrderedReady');
      const us = obj(s, 'updateStrategy');
      setDefault(us, 'type', 'RollingUpdate');
      if (us['type'] === 'RollingUpdate') setDefault(obj(us, 'rollingUpdate'), 'partition', 0);
      setDefault(s, 'revisionHistoryLimit', 10);
      const pvc = obj(s, 'persistentVolumeClaimRetentionPolicy');
      setDefault(pvc, 'whenDeleted', 'Retain');
      setDefault(pvc, 'whenScaled', 'Retain');
      defaultTemplate(s);
      break;
    }
    case 'apps/DaemonSet': {
      const s = spec();
      const us = obj(s, 'updateStrategy');
      setDefault(us, 'type', 'RollingUpdate');
      if (us['type'] === 'RollingUpdate') {
        const ru = obj(us, 'rollingUpdate');
        setDefault(ru, 'maxUnavailable', 1);
        setDefault(ru, 'maxSurge', 0);
      }
      setDefault(s, 'revisionHistoryLimit', 10);
      defaultTemplate(s);
      break;
    }
    case 'batch/Job': {
      const s = spec();
      defaultJobSpec(s);
      break;
    }
    case 'batch/CronJob': {
      const s = spec();
      setDefault(s, 'concurrencyPolicy', 'Allow');
      setDefault(s, 'suspend', false);
      setDefault(s, 'successfulJobsHistoryLimit', 3);
      setDefault(s, 'failedJobsHistoryLimit', 1);
      const jt = obj(s, 'jobTemplate');
      defaultJobSpec(obj(jt, 'spec'));
      break;
    }
  }
}

function defaultJobSpec(s: JsonObject): void {
  if (s['completions'] === undefined && s['parallelism'] === undefined) {
    s['completions'] = 1;
    s['parallelism'] = 1;
  }
  setDefault(s, 'parallelism', 1);
  setDefault(s, 'backoffLimit', 6);
  setDefault(s, 'completionMode', 'NonIndexed');
  setDefault(s, 'suspend', false);
  setDefault(s, 'manualSelector', undefined);
  if (s['manualSelector'] === undefined) delete s['manualSelector'];
  setDefault(s, 'podReplacementPolicy', 'TerminatingOrFailed');
  defaultTemplate(s);
}

/**
 * The Job controller's selector and pod labels (batch.kubernetes.io/controller-uid ...), set on
 * create once the uid is known, unless the user asked for a manual selector.
 */
export function generateJobSelector(o: JsonObject): void {
  const s = obj(o, 'spec');
  if (s['manualSelector'] === true) return;
  const meta = obj(o, 'metadata');
  const uid = String(meta['uid'] ?? '');
  const name = String(meta['name'] ?? '');
  const t = obj(s, 'template');
  const labels = obj(obj(t, 'metadata'), 'labels');
  labels['batch.kubernetes.io/controller-uid'] = uid;
  labels['batch.kubernetes.io/job-name'] = name;
  labels['controller-uid'] = uid;
  labels['job-name'] = name;
  if (s['selector'] === undefined) s['selector'] = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
}
