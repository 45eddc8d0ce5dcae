// Validation of objects on create and update (pkg/apis/*/validation in kube-apiserver), reduced
// to the rules clients run into: names, labels, required fields, enumerations, ports, selector /
// template agreement and immutable fields. Every failure is a FieldError; the caller turns a
// non-empty list into a 422 Invalid Status.

import { LabelSelector } from './label-selector.js';
import {
  isConfigMapKey,
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isEnvVarName,
  isPathSegmentName,
  isQualifiedName,
  isValidLabelValue,
  isValidPortNum,
} from './name-validation.js';
import type { ResourceInfo } from './registry.js';
import { Field, type FieldError } from './status-error.js';
import { deepEqual, isJsonObject, type JsonObject } from './json-value.js';

type Errs = FieldError[];

const obj = (v: unknown): JsonObject => (isJsonObject(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const TOTAL_ANNOTATION_SIZE = 256 * 1024;

type NameCheck = (v: string) => string[];

function nameCheckFor(r: ResourceInfo): NameCheck {
  switch (`${r.group}/${r.resource}`) {
    case '/namespaces':
      return isDns1123Label;
    case '/services':
      return isDns1035Label;
    case '/events':
    case 'events.k8s.io/events':
      return isPathSegmentName;
    default:
      return isDns1123Subdomain;
  }
}

export function validateObjectMeta(r: ResourceInfo, meta: JsonObject, errs: Errs, path = 'metadata'): void {
  const name = str(meta['name']);
  if (name === undefined || name === '') {
    errs.push(Field.required(`${path}.name`, 'name or generateName is required'));
  } else {
    for (const m of nameCheckFor(r)(name)) errs.push(Field.invalid(`${path}.name`, name, m));
  }
  validateLabels(obj(meta['labels']), `${path}.labels`, errs);
  validateAnnotations(obj(meta['annotations']), `${path}.annotations`, errs);
  const finalizers = arr(meta['finalizers']);
  finalizers.forEach((f, i) => {
    if (typeof f !== 'string') errs.push(Field.invalid(`${path}.finalizers[${i}]`, f, 'must be a string'));
    else if (!f.includes('/') && !['kubernetes', 'orphan', 'foregroundDeletion'].includes(f)) {
      for (const m of isQualifiedName(f)) errs.push(Field.invalid(`${path}.finalizers[${i}]`, f, m));
    }
  });
  arr(meta['ownerReferences']).forEach((o, i) => {
    const ref = obj(o);
    const p = `${path}.ownerReferences[${i}]`;
    if (!str(ref['apiVersion'])) errs.push(Field.invalid(`${p}.apiVersion`, ref['apiVersion'] ?? '', 'version must not be empty'));
    if (!str(ref['kind'])) errs.push(Field.invalid(`${p}.kind`, ref['kind'] ?? '', 'kind must not be empty'));
    if (!str(ref['name'])) errs.push(Field.invalid(`${p}.name`, ref['name'] ?? '', 'name must not be empty'));
    if (!str(ref['uid'])) errs.push(Field.invalid(`${p}.uid`, ref['uid'] ?? '', 'uid must not be empty'));
  });
  const controllers = arr(meta['ownerReferences']).filter((o) => obj(o)['controller'] === true);
  if (controllers.length > 1) {
    errs.push(Field.invalid(`${path}.ownerReferences`, meta['ownerReferences'], 'Only one reference can have Controller set to true'));
  }
}

export function validateLabels(labels: JsonObject, path: string, errs: Errs): void {
  for (const [k, v] of Object.entries(labels)) {
    for (const m of isQualifiedName(k)) errs.push(Field.invalid(path, k, m));
    if (typeof v !== 'string') errs.push(Field.invalid(`${path}.${k}`, v, 'must be a string'));
    else for (const m of isValidLabelValue(v)) errs.push(Field.invalid(path, v, m));
  }
}

function validateAnnotations(ann: JsonObject, path: string, errs: Errs): void {
  let size = 0;
  for (const [k, v] of Object.entries(ann)) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(Field.invalid(path, k, m));
    if (typeof v !== 'string') errs.push(Field.invalid(`${path}.${k}`, v, 'must be a string'));
    size += k.length + (typeof v === 'string' ? v.length : 0);
  }
  if (size > TOTAL_ANNOTATION_SIZE) errs.push(Field.tooLong(path, '', TOTAL_ANNOTATION_SIZE));
}

function immutable(path: string, newV: unknown, oldV: unknown, errs: Errs): void {
  if (!deepEqual(newV, oldV)) errs.push(Field.invalid(path, newV ?? null, 'field is immutable'));
}

// ---- pods ----

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

function validateContainers(list: unknown, path: string, errs: Errs, required: boolean, names: Set<string>): void {
  const cs = arr(list);
  if (required && cs.length === 0) {
    errs.push(Field.required(path));
    return;
  }
  cs.forEach((c0, i) => {
    const c = obj(c0);
    const p = `${path}[${i}]`;
    const name = str(c['name']);
    if (!name) errs.push(Field.required(`${p}.name`));
    else {
      for (const m of isDns1123Label(name)) errs.push(Field.invalid(`${p}.name`, name, m));
      if (names.has(name)) errs.push(Field.duplicate(`${p}.name`, name));
      names.add(name);
    }
    if (!str(c['image'])) errs.push(Field.required(`${p}.image`));
    const ipp = c['imagePullPolicy'];
    if (ipp !== undefined && !PULL_POLICIES.includes(String(ipp))) errs.push(Field.notSupported(`${p}.imagePullPolicy`, ipp, PULL_POLICIES));
    const portNames = new Set<string>();
    arr(c['ports']).forEach((pt0, j) => {
      const pt = obj(pt0);
      const pp = `${p}.ports[${j}]`;
      if (!isValidPortNum(pt['containerPort'])) {
        errs.push(Field.invalid(`${pp}.containerPort`, pt['containerPort'] ?? 0, 'must be between 1 and 65535, inclusive'));
      }
      if (pt['hostPort'] !== undefined && pt['hostPort'] !== 0 && !isValidPortNum(pt['hostPort'])) {
        errs.push(Field.invalid(`${pp}.hostPort`, pt['hostPort'], 'must be between 1 and 65535, inclusive'));
      }
      if (pt['protocol'] !== undefined && !PROTOCOLS.includes(String(pt['protocol']))) {
        errs.push(Field.notSupported(`${pp}.protocol`, pt['protocol'], PROTOCOLS));
      }
      const pn = str(pt['name']);
      if (pn !== undefined && pn !== '') {
        if (portNames.has(pn)) errs.push(Field.duplicate(`${pp}.name`, pn));
        portNames.add(pn);
      }
    });
    arr(c['env']).forEach((e0, j) => {
      const e = obj(e0);
      const name = str(e['name']);
      if (!name) errs.push(Field.required(`${p}.env[${j}].name`));
      else for (const m of isEnvVarName(name)) errs.push(Field.invalid(`${p}.env[${j}].name`, name, m));
    });
  });
}

export function validatePodSpec(spec0: unknown, path: string, errs: Errs, allowedRestart = RESTART_POLICIES): void {
  const spec = obj(spec0);
  const names = new Set<string>();
  validateContainers(spec['containers'], `${path}.containers`, errs, true, names);
  validateContainers(spec['initContainers'], `${path}.initContainers`, errs, false, names);
  const rp = spec['restartPolicy'];
  if (rp !== undefined && !allowedRestart.includes(String(rp))) errs.push(Field.notSupported(`${path}.restartPolicy`, rp, allowedRestart));
  const dp = spec['dnsPolicy'];
  if (dp !== undefined && !DNS_POLICIES.includes(String(dp))) errs.push(Field.notSupported(`${path}.dnsPolicy`, dp, DNS_POLICIES));
  const tgp = spec['terminationGracePeriodSeconds'];
  if (tgp !== undefined && (typeof tgp !== 'number' || tgp < 0)) {
    errs.push(Field.invalid(`${path}.terminationGracePeriodSeconds`, tgp, 'must be greater than or equal to 0'));
  }
  const vols = new Set<string>();
  arr(spec['volumes']).forEach((v0, i) => {
    const name = str(obj(v0)['name']);
    if (!name) errs.push(Field.required(`${path}.volumes[${i}].name`));
    else {
      for (const m of isDns1123Label(name)) errs.push(Field.invalid(`${path}.volumes[${i}].name`, name, m));
      if (vols.has(name)) errs.push(Field.duplicate(`${path}.volumes[${i}].name`, name));
      vols.add(name);
    }
  });
  const nodeName = str(spec['nodeName']);
  if (nodeName) for (const m of isDns1123Subdomain(nodeName)) errs.push(Field.invalid(`${path}.nodeName`, nodeName, m));
}

function validatePodUpdate(n: JsonObject, o: JsonObject, errs: Errs): void {
  // Only images, activeDeadlineSeconds, tolerations (additions) and a few more may change.
  const strip = (s: JsonObject): JsonObject => {
    const c = structuredClone(s);
    for (const k of ['containers', 'initContainers']) {
      for (const ct of arr(c[k])) delete obj(ct)['image'];
    }
    delete c['activeDeadlineSeconds'];
    delete c['tolerations'];
    delete c['terminationGracePeriodSeconds'];
    delete c['schedulingGates'];
    return c;
  };
  if (!deepEqual(strip(obj(n['spec'])), strip(obj(o['spec'])))) {
    errs.push(
      Field.forbidden(
        'spec',
        'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      ),
    );
  }
}

// ---- workloads ----

function validateSelectorAndTemplate(
  what: string,
  spec: JsonObject,
  path: string,
  errs: Errs,
  required: boolean,
  restart: string[],
): void {
  const sel = spec['selector'];
  const tmpl = obj(spec['template']);
  const tLabels = obj(obj(tmpl['metadata'])['labels']) as Record<string, string>;
  if (sel === undefined || sel === null) {
    if (required) errs.push(Field.required(`${path}.selector`));
  } else {
    const s = obj(sel);
    if (Object.keys(obj(s['matchLabels'])).length === 0 && arr(s['matchExpressions']).length === 0) {
      errs.push(Field.invalid(`${path}.selector`, sel, `empty selector is invalid for ${what}`));
    } else {
      let ls: LabelSelector | undefined;
      try {
        ls = LabelSelector.fromStructured(s);
      } catch {
        errs.push(Field.invalid(`${path}.selector`, sel, 'invalid label selector'));
      }
      if (ls !== undefined && !ls.matches(tLabels)) {
        errs.push(Field.invalid(`${path}.template.metadata.labels`, tLabels, '`selector` does not match template `labels`'));
      }
    }
  }
  if (spec['template'] === undefined) {
    errs.push(Field.required(`${path}.template`));
    return;
  }
  validateLabels(tLabels, `${path}.template.metadata.labels`, errs);
  validatePodSpec(tmpl['spec'], `${path}.template.spec`, errs, restart);
}

function nonNegative(spec: JsonObject, field: string, path: string, errs: Errs): void {
  const v = spec[field];
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
    errs.push(Field.invalid(`${path}.${field}`, v, 'must be greater than or equal to 0'));
  }
}

function validateWorkloadSpec(kind: string, spec: JsonObject, errs: Errs): void {
  switch (kind) {
    case 'Deployment': {
      validateSelectorAndTemplate('deployment', spec, 'spec', errs, true, ['Always']);
      nonNegative(spec, 'replicas', 'spec', errs);
      const t = obj(spec['strategy'])['type'];
      if (t !== undefined && t !== 'Recreate' && t !== 'RollingUpdate') {
        errs.push(Field.notSupported('spec.strategy.type', t, ['Recreate', 'RollingUpdate']));
      }
      if (t === 'Recreate' && obj(spec['strategy'])['rollingUpdate'] !== undefined) {
        errs.push(Field.forbidden('spec.strategy.rollingUpdate', 'may not be specified when strategy `type` is \'Recreate\''));
      }
      break;
    }
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
      validateSelectorAndTemplate(kind.toLowerCase(), spec, 'spec', errs, true, ['Always']);
      nonNegative(spec, 'replicas', 'spec', errs);
      break;
    case 'ReplicationController':
      validateSelectorAndTemplate(
        'replicationcontroller',
        { ...spec, selector: spec['selector'] === undefined ? undefined : { matchLabels: spec['selector'] } },
        'spec',
        errs,
        false,
        ['Always'],
      );
      nonNegative(spec, 'replicas', 'spec', errs);
      break;
    case 'Job':
      validateSelectorAndTemplate('job', spec, 'spec', errs, false, ['OnFailure', 'Never']);
      for (const f of ['parallelism', 'completions', 'backoffLimit', 'activeDeadlineSeconds']) nonNegative(spec, f, 'spec', errs);
      break;
    case 'CronJob': {
      if (!str(spec['schedule'])) errs.push(Field.required('spec.schedule'));
      const cp = spec['concurrencyPolicy'];
      if (cp !== undefined && !['Allow', 'Forbid', 'Replace'].includes(String(cp))) {
        errs.push(Field.notSupported('spec.concurrencyPolicy', cp, ['Allow', 'Forbid', 'Replace']));
      }
      const jt = obj(obj(spec['jobTemplate'])['spec']);
      const tmpl = obj(jt['template']);
      validatePodSpec(tmpl['spec'], 'spec.jobTemplate.spec.template.spec', errs, ['OnFailure', 'Never']);
      break;
    }
  }
}

// ---- services ----

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

function validateService(spec: JsonObject, errs: Errs): void {
  const type = spec['type'] ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(String(type))) errs.push(Field.notSupported('spec.type', type, SERVICE_TYPES));
  const ports = arr(spec['ports']);
  if (type === 'ExternalName') {
    if (!str(spec['externalName'])) errs.push(Field.required('spec.externalName'));
  } else if (ports.length === 0 && spec['clusterIP'] !== 'None') {
    errs.push(Field.required('spec.ports'));
  }
  const names = new Set<string>();
  ports.forEach((p0, i) => {
    const p = obj(p0);
    const path = `spec.ports[${i}]`;
    const name = str(p['name']);
    if (ports.length > 1 && !name) errs.push(Field.required(`${path}.name`));
    if (name) {
      for (const m of isDns1123Label(name)) errs.push(Field.invalid(`${path}.name`, name, m));
      if (names.has(name)) errs.push(Field.duplicate(`${path}.name`, name));
      names.add(name);
    }
    if (!isValidPortNum(p['port'])) errs.push(Field.invalid(`${path}.port`, p['port'] ?? 0, 'must be between 1 and 65535, inclusive'));
    if (p['protocol'] !== undefined && !PROTOCOLS.includes(String(p['protocol']))) {
      errs.push(Field.notSupported(`${path}.protocol`, p['protocol'], PROTOCOLS));
    }
    const tp = p['targetPort'];
    if (typeof tp === 'number' && !isValidPortNum(tp)) errs.push(Field.invalid(`${path}.targetPort`, tp, 'must be between 1 and 65535, inclusive'));
  });
  const sa = spec['sessionAffinity'];
  if (sa !== undefined && sa !== 'None' && sa !== 'ClientIP') errs.push(Field.notSupported('spec.sessionAffinity', sa, ['ClientIP', 'None']));
  validateLabels(obj(spec['selector']), 'spec.selector', errs);
}

// ---- data objects ----

function validateDataKeys(o: JsonObject, errs: Errs, fields: string[]): void {
  const seen = new Set<string>();
  for (const f of fields) {
    for (const k of Object.keys(obj(o[f]))) {
      for (const m of isConfigMapKey(k)) errs.push(Field.invalid(`${f}[${k}]`, k, m));
      if (seen.has(k)) errs.push(Field.invalid(`${f}[${k}]`, k, 'duplicate of key present in ' + fields[0]));
      seen.add(k);
    }
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

// ---- entry points ----

/** Everything checked for a new object (metadata included). */
export function validateCreate(r: ResourceInfo, o: JsonObject): FieldError[] {
  const errs: Errs = [];
  validateObjectMeta(r, obj(o['metadata']), errs);
  validateKind(r, o, errs);
  return errs;
}

/** Checks for an update: the new object alone, then what may not change. */
export function validateUpdate(r: ResourceInfo, n: JsonObject, o: JsonObject): FieldError[] {
  const errs: Errs = [];
  validateObjectMeta(r, obj(n['metadata']), errs);
  validateKind(r, n, errs);
  const ns = obj(n['spec']);
  const os = obj(o['spec']);
  switch (`${r.group}/${r.kind}`) {
    case '/Pod':
      validatePodUpdate(n, o, errs);
      break;
    case 'apps/Deployment':
    case 'apps/ReplicaSet':
    case 'apps/DaemonSet':
      immutable('spec.selector', ns['selector'], os['selector'], errs);
      break;
    case 'apps/StatefulSet': {
      immutable('spec.selector', ns['selector'], os['selector'], errs);
      const strip = (s: JsonObject): JsonObject => {
        const c = { ...s };
        for (const k of ['replicas', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds', 'ordinals']) delete c[k];
        return c;
      };
      if (!deepEqual(strip(ns), strip(os))) {
        errs.push(
          Field.forbidden(
            'spec',
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
          ),
        );
      }
      break;
    }
    case 'batch/Job':
      immutable('spec.selector', ns['selector'], os['selector'], errs);
      immutable('spec.completions', ns['completions'], os['completions'], errs);
      break;
    case '/Service': {
      const oldIp = os['clusterIP'];
      if (oldIp !== undefined && oldIp !== '' && ns['clusterIP'] !== oldIp && os['type'] !== 'ExternalName') {
        errs.push(Field.invalid('spec.clusterIPs[0]', ns['clusterIP'] ?? '', 'may not change once set'));
      }
      break;
    }
    case '/Secret':
      immutable('type', n['type'], o['type'], errs);
      if (o['immutable'] === true) {
        if (!deepEqual(n['data'], o['data'])) errs.push(Field.forbidden('data', 'field is immutable when `immutable` is set'));
        if (n['immutable'] !== true) errs.push(Field.forbidden('immutable', 'field is immutable when `immutable` is set'));
      }
      break;
    case '/ConfigMap':
      if (o['immutable'] === true) {
        if (!deepEqual(n['data'], o['data'])) errs.push(Field.forbidden('data', 'field is immutable when `immutable` is set'));
        if (!deepEqual(n['binaryData'], o['binaryData'])) errs.push(Field.forbidden('binaryData', 'field is immutable when `immutable` is set'));
        if (n['immutable'] !== true) errs.push(Field.forbidden('immutable', 'field is immutable when `immutable` is set'));
      }
      break;
    case 'discovery.k8s.io/EndpointSlice':
      immutable('addressType', n['addressType'], o['addressType'], errs);
      break;
  }
  return errs;
}

function validateKind(r: ResourceInfo, o: JsonObject, errs: Errs): void {
  const spec = obj(o['spec']);
  switch (`${r.group}/${r.kind}`) {
    case '/Pod':
      validatePodSpec(o['spec'], 'spec', errs);
      break;
    case '/Service':
      validateService(spec, errs);
      break;
    case '/ConfigMap':
      validateDataKeys(o, errs, ['data', 'binaryData']);
      for (const [k, v] of Object.entries(obj(o['data']))) {
        if (typeof v !== 'string') errs.push(Field.invalid(`data[${k}]`, v, 'must be a string'));
      }
      break;
    case '/Secret':
      validateDataKeys(o, errs, ['data', 'stringData']);
      for (const [k, v] of Object.entries(obj(o['data']))) {
        if (typeof v !== 'string' || !BASE64.test(v) || v.length % 4 !== 0) {
          errs.push(Field.invalid(`data[${k}]`, '<secret contents redacted>', 'illegal base64 data'));
        }
      }
      break;
    case '/Namespace':
      arr(spec['finalizers']).forEach((f, i) => {
        if (typeof f !== 'string') errs.push(Field.invalid(`spec.finalizers[${i}]`, f, 'must be a string'));
      });
      break;
    case '/ReplicationController':
    case 'apps/Deployment':
    case 'apps/ReplicaSet':
    case 'apps/StatefulSet':
    case 'apps/DaemonSet':
    case 'batch/Job':
    case 'batch/CronJob':
      validateWorkloadSpec(r.kind, spec, errs);
      break;
    case 'coordination.k8s.io/Lease': {
      const d = spec['leaseDurationSeconds'];
      if (d !== undefined && (typeof d !== 'number' || d <= 0)) errs.push(Field.invalid('spec.leaseDurationSeconds', d, 'must be greater than 0'));
      break;
    }
    case 'discovery.k8s.io/EndpointSlice': {
      const at = o['addressType'];
      if (at === undefined) errs.push(Field.required('addressType'));
      else if (!['IPv4', 'IPv6', 'FQDN'].includes(String(at))) errs.push(Field.notSupported('addressType', at, ['FQDN', 'IPv4', 'IPv6']));
      arr(o['endpoints']).forEach((e, i) => {
        if (arr(obj(e)['addresses']).length === 0) errs.push(Field.required(`endpoints[${i}].addresses`, 'must contain at least 1 address'));
      });
      break;
    }
    case '/Event':
      if (o['involvedObject'] === undefined) errs.push(Field.required('involvedObject'));
      break;
  }
}
