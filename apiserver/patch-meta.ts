// Strategic-merge-patch metadata: for each list field of the built-in kinds, how lists merge
// (`patchStrategy`) and on which key (`patchMergeKey`), as the Go struct tags of k8s.io/api
// declare them. Fields not described here merge as maps (objects) or are replaced (lists).

export type PatchStrategy = 'merge' | 'replace' | 'retainKeys' | 'merge,retainKeys';

export interface FieldMeta {
  strategy?: PatchStrategy;
  mergeKey?: string;
  /** For an object field: its schema; for a list field: the schema of its elements. */
  schema?: PatchSchema;
}

export interface PatchSchema {
  fields: Record<string, FieldMeta>;
}

const s = (fields: Record<string, FieldMeta>): PatchSchema => ({ fields });
const mergeList = (mergeKey: string, schema?: PatchSchema): FieldMeta =>
  schema === undefined ? { strategy: 'merge', mergeKey } : { strategy: 'merge', mergeKey, schema };
const conditions = mergeList('type');

export const OBJECT_META = s({
  finalizers: { strategy: 'merge' },
  ownerReferences: mergeList('uid'),
});

export const CONTAINER = s({
  ports: mergeList('containerPort'),
  env: mergeList('name'),
  volumeMounts: mergeList('mountPath'),
  volumeDevices: mergeList('devicePath'),
});

export const POD_SPEC = s({
  volumes: { strategy: 'merge,retainKeys', mergeKey: 'name' },
  initContainers: mergeList('name', CONTAINER),
  containers: mergeList('name', CONTAINER),
  ephemeralContainers: mergeList('name', CONTAINER),
  imagePullSecrets: mergeList('name'),
  hostAliases: mergeList('ip'),
  topologySpreadConstraints: mergeList('topologyKey'),
  schedulingGates: mergeList('name'),
  resourceClaims: { strategy: 'merge,retainKeys', mergeKey: 'name' },
});

const POD_STATUS = s({ conditions, podIPs: mergeList('ip'), hostIPs: mergeList('ip') });
const POD_TEMPLATE = s({ metadata: { schema: OBJECT_META }, spec: { schema: POD_SPEC } });

const withMeta = (fields: Record<string, FieldMeta>): PatchSchema => s({ metadata: { schema: OBJECT_META }, ...fields });
const workload = (specExtra: Record<string, FieldMeta> = {}): PatchSchema =>
  withMeta({
    spec: { schema: s({ template: { schema: POD_TEMPLATE }, ...specExtra }) },
    status: { schema: s({ conditions }) },
  });

const BY_KIND: Record<string, PatchSchema> = {
  'v1/Pod': withMeta({ spec: { schema: POD_SPEC }, status: { schema: POD_STATUS } }),
  'v1/Service': withMeta({
    spec: { schema: s({ ports: mergeList('port') }) },
    status: { schema: s({ conditions }) },
  }),
  'v1/Node': withMeta({
    spec: { schema: s({ podCIDRs: { strategy: 'merge' } }) },
    status: { schema: s({ conditions, addresses: mergeList('type') }) },
  }),
  'v1/Namespace': withMeta({ status: { schema: s({ conditions }) } }),
  'v1/ReplicationController': workload(),
  'apps/v1/Deployment': workload({ strategy: { strategy: 'retainKeys' } }),
  'apps/v1/ReplicaSet': workload(),
  'apps/v1/StatefulSet': workload(),
  'apps/v1/DaemonSet': workload(),
  'batch/v1/Job': workload(),
  'batch/v1/CronJob': withMeta({
    spec: {
      schema: s({ jobTemplate: { schema: s({ metadata: { schema: OBJECT_META }, spec: { schema: s({ template: { schema: POD_TEMPLATE } }) } }) } }),
    },
  }),
};

const GENERIC = withMeta({});

/** The patch schema for a kind; unknown kinds get ObjectMeta only. */
export function patchSchemaFor(groupVersion: string, kind: string): PatchSchema {
  return BY_KIND[`${groupVersion}/${kind}`] ?? GENERIC;
}
