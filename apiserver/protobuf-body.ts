// Request bodies in Kubernetes' protobuf encoding (Content-Type: application/vnd.kubernetes.protobuf).
// client-go's typed clientset sends protobuf for built-in kinds, so `kubectl create namespace`,
// `kubectl create configmap|secret|deployment|job|cronjob|service|serviceaccount` and evictions
// arrive that way. A body is the 4-byte magic "k8s\0" and a runtime.Unknown envelope holding the
// type (apiVersion, kind) and the encoded object. The messages below are the subset of
// k8s.io/api generated.proto (same field numbers) those requests use; fields not listed are
// skipped by the decoder. Decoded objects are turned into the JSON form the rest of the server
// works with. Responses are always JSON (clients accept it alongside protobuf).

import protobuf from 'protobufjs';
import { isJsonObject, type JsonObject } from './json-value.js';

export class ProtobufBodyError extends Error {
  override name = 'ProtobufBodyError';
}

const PROTO = `
syntax = "proto2";
package k8s;

message TypeMeta { optional string apiVersion = 1; optional string kind = 2; }
message Unknown { optional TypeMeta typeMeta = 1; optional bytes raw = 2; optional string contentEncoding = 3; optional string contentType = 4; }

message Time { optional int64 seconds = 1; optional int32 nanos = 2; }
message Quantity { optional string string = 1; }
message IntOrString { optional int64 type = 1; optional int32 intVal = 2; optional string strVal = 3; }

message OwnerReference { optional string kind = 1; optional string name = 3; optional string uid = 4; optional string apiVersion = 5; optional bool controller = 6; optional bool blockOwnerDeletion = 7; }
message ObjectMeta {
  optional string name = 1; optional string generateName = 2; optional string namespace = 3; optional string selfLink = 4;
  optional string uid = 5; optional string resourceVersion = 6; optional int64 generation = 7; optional Time creationTimestamp = 8;
  optional Time deletionTimestamp = 9; optional int64 deletionGracePeriodSeconds = 10; map<string, string> labels = 11;
  map<string, string> annotations = 12; repeated OwnerReference ownerReferences = 13; repeated string finalizers = 14;
}
message LabelSelectorRequirement { optional string key = 1; optional string operator = 2; repeated string values = 3; }
message LabelSelector { map<string, string> matchLabels = 1; repeated LabelSelectorRequirement matchExpressions = 2; }
message Preconditions { optional string uid = 1; optional string resourceVersion = 2; }
message DeleteOptions { optional int64 gracePeriodSeconds = 1; optional Preconditions preconditions = 2; optional bool orphanDependents = 3; optional string propagationPolicy = 4; repeated string dryRun = 5; }

message LocalObjectReference { optional string name = 1; }
message ObjectReference { optional string kind = 1; optional string namespace = 2; optional string name = 3; optional string uid = 4; optional string apiVersion = 5; optional string resourceVersion = 6; optional string fieldPath = 7; }
message ObjectFieldSelector { optional string apiVersion = 1; optional string fieldPath = 2; }
message ConfigMapKeySelector { optional LocalObjectReference localObjectReference = 1; optional string key = 2; optional bool optional = 3; }
message SecretKeySelector { optional LocalObjectReference localObjectReference = 1; optional string key = 2; optional bool optional = 3; }
message EnvVarSource { optional ObjectFieldSelector fieldRef = 1; optional ConfigMapKeySelector configMapKeyRef = 3; optional SecretKeySelector secretKeyRef = 4; }
message EnvVar { optional string name = 1; optional string value = 2; optional EnvVarSource valueFrom = 3; }
message ConfigMapEnvSource { optional LocalObjectReference localObjectReference = 1; optional bool optional = 2; }
message SecretEnvSource { optional LocalObjectReference localObjectReference = 1; optional bool optional = 2; }
message EnvFromSource { optional string prefix = 1; optional ConfigMapEnvSource configMapRef = 2; optional SecretEnvSource secretRef = 3; }
message ContainerPort { optional string name = 1; optional int32 hostPort = 2; optional int32 containerPort = 3; optional string protocol = 4; optional string hostIP = 5; }
message ResourceRequirements { map<string, Quantity> limits = 1; map<string, Quantity> requests = 2; }
message VolumeMount { optional string name = 1; optional bool readOnly = 2; optional string mountPath = 3; optional string subPath = 4; optional string mountPropagation = 5; optional string subPathExpr = 6; }
message Container {
  optional string name = 1; optional string image = 2; repeated string command = 3; repeated string args = 4; optional string workingDir = 5;
  repeated ContainerPort ports = 6; repeated EnvVar env = 7; optional ResourceRequirements resources = 8; repeated VolumeMount volumeMounts = 9;
  optional string terminationMessagePath = 13; optional string imagePullPolicy = 14; optional bool stdin = 16; optional bool stdinOnce = 17;
  optional bool tty = 18; repeated EnvFromSource envFrom = 19; optional string terminationMessagePolicy = 20; optional string restartPolicy = 24;
}
message KeyToPath { optional string key = 1; optional string path = 2; optional int32 mode = 3; }
message EmptyDirVolumeSource { optional string medium = 1; optional Quantity sizeLimit = 2; }
message HostPathVolumeSource { optional string path = 1; optional string type = 2; }
message SecretVolumeSource { optional string secretName = 1; repeated KeyToPath items = 2; optional int32 defaultMode = 3; optional bool optional = 4; }
message ConfigMapVolumeSource { optional LocalObjectReference localObjectReference = 1; repeated KeyToPath items = 2; optional int32 defaultMode = 3; optional bool optional = 4; }
message PersistentVolumeClaimVolumeSource { optional string claimName = 1; optional bool readOnly = 2; }
message VolumeSource { optional HostPathVolumeSource hostPath = 1; optional EmptyDirVolumeSource emptyDir = 2; optional SecretVolumeSource secret = 6; optional PersistentVolumeClaimVolumeSource persistentVolumeClaim = 10; optional ConfigMapVolumeSource configMap = 19; }
message Volume { optional string name = 1; optional VolumeSource volumeSource = 2; }
message Toleration { optional string key = 1; optional string operator = 2; optional string value = 3; optional string effect = 4; optional int64 tolerationSeconds = 5; }
message PodSpec {
  repeated Volume volumes = 1; repeated Container containers = 2; optional string restartPolicy = 3; optional int64 terminationGracePeriodSeconds = 4;
  optional int64 activeDeadlineSeconds = 5; optional string dnsPolicy = 6; map<string, string> nodeSelector = 7; optional string serviceAccountName = 8;
  optional string serviceAccount = 9; optional string nodeName = 10; optional bool hostNetwork = 11; repeated LocalObjectReference imagePullSecrets = 15;
  optional string hostname = 16; optional string subdomain = 17; optional string schedulerName = 19; repeated Container initContainers = 20;
  optional bool automountServiceAccountToken = 21; repeated Toleration tolerations = 22; optional string priorityClassName = 24; optional int32 priority = 25;
  optional bool enableServiceLinks = 30; optional string preemptionPolicy = 31;
}
message PodTemplateSpec { optional ObjectMeta metadata = 1; optional PodSpec spec = 2; }
message Pod { optional ObjectMeta metadata = 1; optional PodSpec spec = 2; }
message Binding { optional ObjectMeta metadata = 1; optional ObjectReference target = 2; }

message NamespaceSpec { repeated string finalizers = 1; }
message Namespace { optional ObjectMeta metadata = 1; optional NamespaceSpec spec = 2; }
message ConfigMap { optional ObjectMeta metadata = 1; map<string, string> data = 2; map<string, bytes> binaryData = 3; optional bool immutable = 4; }
message Secret { optional ObjectMeta metadata = 1; map<string, bytes> data = 2; optional string type = 3; map<string, string> stringData = 4; optional bool immutable = 5; }
message ServiceAccount { optional ObjectMeta metadata = 1; repeated ObjectReference secrets = 2; repeated LocalObjectReference imagePullSecrets = 3; optional bool automountServiceAccountToken = 4; }
message ServicePort { optional string name = 1; optional string protocol = 2; optional int32 port = 3; optional IntOrString targetPort = 4; optional int32 nodePort = 5; optional string appProtocol = 6; }
message ServiceSpec {
  repeated ServicePort ports = 1; map<string, string> selector = 2; optional string clusterIP = 3; optional string type = 4; repeated string externalIPs = 5;
  optional string sessionAffinity = 7; optional string externalName = 10; optional string externalTrafficPolicy = 11; optional bool publishNotReadyAddresses = 13;
  optional string ipFamilyPolicy = 17; repeated string clusterIPs = 18; repeated string ipFamilies = 19; optional string internalTrafficPolicy = 22;
}
message Service { optional ObjectMeta metadata = 1; optional ServiceSpec spec = 2; }

message RollingUpdateDeployment { optional IntOrString maxUnavailable = 1; optional IntOrString maxSurge = 2; }
message DeploymentStrategy { optional string type = 1; optional RollingUpdateDeployment rollingUpdate = 2; }
message DeploymentSpec {
  optional int32 replicas = 1; optional LabelSelector selector = 2; optional PodTemplateSpec template = 3; optional DeploymentStrategy strategy = 4;
  optional int32 minReadySeconds = 5; optional int32 revisionHistoryLimit = 6; optional bool paused = 7; optional int32 progressDeadlineSeconds = 9;
}
message Deployment { optional ObjectMeta metadata = 1; optional DeploymentSpec spec = 2; }

message JobSpec {
  optional int32 parallelism = 1; optional int32 completions = 2; optional int64 activeDeadlineSeconds = 3; optional LabelSelector selector = 4;
  optional bool manualSelector = 5; optional PodTemplateSpec template = 6; optional int32 backoffLimit = 7; optional int32 ttlSecondsAfterFinished = 8;
  optional string completionMode = 9; optional bool suspend = 10;
}
message Job { optional ObjectMeta metadata = 1; optional JobSpec spec = 2; }
message JobTemplateSpec { optional ObjectMeta metadata = 1; optional JobSpec spec = 2; }
message CronJobSpec {
  optional string schedule = 1; optional int64 startingDeadlineSeconds = 2; optional string concurrencyPolicy = 3; optional bool suspend = 4;
  optional JobTemplateSpec jobTemplate = 5; optional int32 successfulJobsHistoryLimit = 6; optional int32 failedJobsHistoryLimit = 7; optional string timeZone = 8;
}
message CronJob { optional ObjectMeta metadata = 1; optional CronJobSpec spec = 2; }

message Eviction { optional ObjectMeta metadata = 1; optional DeleteOptions deleteOptions = 2; }
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root.resolveAll();
const T = (name: string): protobuf.Type => root.lookupType(`k8s.${name}`);

/** apiVersion/kind → message type. */
const KINDS: Record<string, string> = {
  'v1/Namespace': 'Namespace',
  'v1/ConfigMap': 'ConfigMap',
  'v1/Secret': 'Secret',
  'v1/ServiceAccount': 'ServiceAccount',
  'v1/Service': 'Service',
  'v1/Pod': 'Pod',
  'v1/Binding': 'Binding',
  'v1/DeleteOptions': 'DeleteOptions',
  'meta.k8s.io/v1/DeleteOptions': 'DeleteOptions',
  'apps/v1/Deployment': 'Deployment',
  'batch/v1/Job': 'Job',
  'batch/v1/CronJob': 'CronJob',
  'policy/v1/Eviction': 'Eviction',
};

/** Embedded Go structs whose fields JSON shows inline in the parent. */
const INLINE = new Set(['volumeSource', 'localObjectReference']);
/** Pointer booleans whose `false` means something (most non-pointer `false`s are Go zero values JSON omits). */
const KEEP_FALSE = new Set(['suspend', 'automountServiceAccountToken', 'enableServiceLinks', 'immutable', 'optional', 'manualSelector']);
/** Non-pointer integers JSON omits when zero. */
const DROP_ZERO = new Set(['hostPort', 'nodePort', 'generation', 'minReadySeconds']);

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

function toJson(type: protobuf.Type, msg: protobuf.Message): JsonObject {
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    const name = field.name;
    if (!Object.prototype.hasOwnProperty.call(msg, name)) continue;
    const v = (msg as unknown as Record<string, unknown>)[name];
    const conv = convertValue(field, v);
    if (conv === undefined) continue;
    if (INLINE.has(name) && isJsonObject(conv)) Object.assign(out, conv);
    else out[name] = conv;
  }
  return out;
}

function convertScalar(field: protobuf.Field, v: unknown): unknown {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) {
    const m = v as protobuf.Message;
    switch (rt.name) {
      case 'Time': {
        const secs = Number((m as unknown as { seconds?: unknown }).seconds ?? 0);
        return secs === 0 ? undefined : new Date(secs * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      }
      case 'Quantity':
        return (m as unknown as { string?: string }).string ?? '';
      case 'IntOrString': {
        const x = m as unknown as { type?: unknown; intVal?: number; strVal?: string };
        return Number(x.type ?? 0) === 1 ? (x.strVal ?? '') : (x.intVal ?? 0);
      }
      default:
        return toJson(rt, m);
    }
  }
  if (field.type === 'bytes') return Buffer.from(v as Uint8Array).toString('base64');
  if (typeof v === 'object' && v !== null && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return v;
}

function convertValue(field: protobuf.Field, v: unknown): unknown {
  if (field instanceof protobuf.MapField) {
    const obj = v as Record<string, unknown>;
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(obj)) {
      const c = field.resolvedType instanceof protobuf.Type ? convertScalar(field, x) : field.type === 'bytes' ? Buffer.from(x as Uint8Array).toString('base64') : x;
      out[k] = c;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  if (field.repeated) {
    const arr = (v as unknown[]).map((x) => convertScalar(field, x)).filter((x) => x !== undefined);
    return arr.length === 0 ? undefined : arr;
  }
  const c = convertScalar(field, v);
  if (c === '' ) return undefined;
  if (c === false && !KEEP_FALSE.has(field.name)) return undefined;
  if (c === 0 && DROP_ZERO.has(field.name)) return undefined;
  return c;
}

/** Decodes a protobuf request body into the JSON object it stands for (apiVersion and kind included). */
export function decodeProtobufBody(buf: Buffer): JsonObject {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) {
    throw new ProtobufBodyError('provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]');
  }
  let unknown: protobuf.Message;
  try {
    unknown = T('Unknown').decode(buf.subarray(4));
  } catch (err) {
    throw new ProtobufBodyError(`malformed protobuf envelope: ${(err as Error).message}`);
  }
  const u = unknown as unknown as { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Uint8Array; contentEncoding?: string };
  const apiVersion = u.typeMeta?.apiVersion ?? '';
  const kind = u.typeMeta?.kind ?? '';
  if (u.contentEncoding !== undefined && u.contentEncoding !== '') throw new ProtobufBodyError(`unsupported content encoding ${u.contentEncoding}`);
  const typeName = KINDS[`${apiVersion}/${kind}`];
  if (typeName === undefined) {
    throw new ProtobufBodyError(`protobuf bodies of ${kind} (${apiVersion}) are not supported by this server; send application/json`);
  }
  const type = T(typeName);
  let msg: protobuf.Message;
  try {
    msg = type.decode(u.raw ?? new Uint8Array());
  } catch (err) {
    throw new ProtobufBodyError(`malformed ${kind} protobuf: ${(err as Error).message}`);
  }
  return { apiVersion, kind, ...toJson(type, msg) };
}

/** For tests: encodes a JSON-shaped object the way client-go does (only the fields above). */
export function encodeProtobufBody(apiVersion: string, kind: string, obj: JsonObject): Buffer {
  const typeName = KINDS[`${apiVersion}/${kind}`];
  if (typeName === undefined) throw new ProtobufBodyError(`no protobuf type for ${apiVersion}/${kind}`);
  const type = T(typeName);
  const raw = type.encode(type.fromObject(fromJson(type, obj))).finish();
  const env = T('Unknown').encode(T('Unknown').fromObject({ typeMeta: { apiVersion, kind }, raw })).finish();
  return Buffer.concat([MAGIC, Buffer.from(env)]);
}

function fromJson(type: protobuf.Type, obj: JsonObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const rt = field.resolvedType;
    if (INLINE.has(field.name) && rt instanceof protobuf.Type) {
      const sub: JsonObject = {};
      for (const f of rt.fieldsArray) if (obj[f.name] !== undefined) sub[f.name] = obj[f.name];
      if (Object.keys(sub).length > 0) out[field.name] = fromJson(rt, sub);
      continue;
    }
    const v = obj[field.name];
    if (v === undefined) continue;
    const one = (x: unknown): unknown => {
      if (rt instanceof protobuf.Type) {
        if (rt.name === 'Time') return { seconds: Math.floor(Date.parse(String(x)) / 1000) };
        if (rt.name === 'Quantity') return { string: String(x) };
        if (rt.name === 'IntOrString') return typeof x === 'number' ? { type: 0, intVal: x } : { type: 1, strVal: String(x) };
        return fromJson(rt, x as JsonObject);
      }
      if (field.type === 'bytes') return Buffer.from(String(x), 'base64');
      return x;
    };
    if (field instanceof protobuf.MapField) {
      const m: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as JsonObject)) m[k] = one(x);
      out[field.name] = m;
    } else if (field.repeated) out[field.name] = (v as unknown[]).map(one);
    else out[field.name] = one(v);
  }
  return out;
}
