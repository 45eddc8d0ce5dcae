// Field selectors (`fieldSelector=spec.nodeName=n1,status.phase!=Running`): the grammar of
// k8s.io/apimachinery/pkg/fields and, per resource, the fields kube-apiserver lets one select on
// (each resource's GetAttrs / field label conversion). Any other field is a 400, as there.

import type { ResourceInfo } from './registry.js';
import { Errors } from './status-error.js';

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

type Obj = Record<string, unknown>;
type Getter = (o: Obj) => string;

function path(...keys: string[]): Getter {
  return (o) => {
    let cur: unknown = o;
    for (const k of keys) {
      if (cur === null || typeof cur !== 'object') return '';
      cur = (cur as Obj)[k];
    }
    if (cur === undefined || cur === null) return '';
    return typeof cur === 'string' ? cur : String(cur);
  };
}

const common: Record<string, Getter> = {
  'metadata.name': path('metadata', 'name'),
  'metadata.namespace': path('metadata', 'namespace'),
};

const boolField = (...keys: string[]): Getter => {
  const g = path(...keys);
  return (o) => (g(o) === 'true' ? 'true' : 'false');
};

/** Selectable fields per resource (beyond metadata.name / metadata.namespace). */
const extra: Record<string, Record<string, Getter>> = {
  'core/pods': {
    'spec.nodeName': path('spec', 'nodeName'),
    'spec.restartPolicy': path('spec', 'restartPolicy'),
    'spec.schedulerName': path('spec', 'schedulerName'),
    'spec.serviceAccountName': path('spec', 'serviceAccountName'),
    'spec.hostNetwork': boolField('spec', 'hostNetwork'),
    'status.phase': path('status', 'phase'),
    'status.podIP': path('status', 'podIP'),
    'status.nominatedNodeName': path('status', 'nominatedNodeName'),
  },
  'core/nodes': { 'spec.unschedulable': boolField('spec', 'unschedulable') },
  'core/namespaces': { 'status.phase': path('status', 'phase') },
  'core/secrets': { type: path('type') },
  'core/replicationcontrollers': { 'status.replicas': path('status', 'replicas') },
  'apps/replicasets': { 'status.replicas': path('status', 'replicas') },
  'batch/jobs': { 'status.successful': path('status', 'successful') },
  'core/events': {
    'involvedObject.kind': path('involvedObject', 'kind'),
    'involvedObject.namespace': path('involvedObject', 'namespace'),
    'involvedObject.name': path('involvedObject', 'name'),
    'involvedObject.uid': path('involvedObject', 'uid'),
    'involvedObject.apiVersion': path('involvedObject', 'apiVersion'),
    'involvedObject.resourceVersion': path('involvedObject', 'resourceVersion'),
    'involvedObject.fieldPath': path('involvedObject', 'fieldPath'),
    reason: path('reason'),
    reportingComponent: path('reportingComponent'),
    source: (o) => path('source', 'component')(o) || path('reportingComponent')(o),
    type: path('type'),
  },
};

function fieldsOf(r: ResourceInfo): Record<string, Getter> {
  // events.k8s.io events are stored as core events: select on the stored (core) field names.
  const key = `${r.group === '' || r.group === 'events.k8s.io' ? 'core' : r.group}/${r.resource}`;
  return { ...common, ...(extra[key] ?? {}) };
}

export class FieldSelector {
  private constructor(
    readonly requirements: readonly FieldRequirement[],
    private readonly getters: Record<string, Getter>,
  ) {}

  static everything(): FieldSelector {
    return new FieldSelector([], {});
  }

  /** Parses and checks every field against what `r` supports; BadRequest otherwise. */
  static parse(text: string, r: ResourceInfo): FieldSelector {
    const getters = fieldsOf(r);
    const reqs = parseFieldRequirements(text);
    for (const q of reqs) {
      if (getters[q.field] === undefined) throw Errors.badRequest(`field label not supported: ${q.field}`);
    }
    return new FieldSelector(reqs, getters);
  }

  isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  /** The one name `metadata.name=x` pins, if any (lets a get replace a list). */
  exactName(): string | undefined {
    return this.requirements.find((q) => q.field === 'metadata.name' && q.op === '=')?.value;
  }

  matches(obj: Obj): boolean {
    for (const q of this.requirements) {
      const g = this.getters[q.field];
      if (g === undefined) return false;
      const v = g(obj);
      if (q.op === '=' ? v !== q.value : v === q.value) return false;
    }
    return true;
  }
}

/** Splits on unescaped commas; `\,` `\=` `\!` `\\` escape as in apimachinery. */
export function parseFieldRequirements(text: string): FieldRequirement[] {
  const out: FieldRequirement[] = [];
  if (text.trim() === '') return out;
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      cur += ch + text[i + 1];
      i++;
    } else if (ch === ',') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const p of parts) {
    const m = findOperator(p);
    if (m === undefined) throw Errors.badRequest(`invalid selector: '${text}'; can't understand '${p}'`);
    out.push({ field: unescape(m.field.trim()), op: m.op, value: unescape(m.value) });
  }
  return out;
}

function findOperator(p: string): { field: string; op: '=' | '!='; value: string } | undefined {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\') {
      i++;
      continue;
    }
    if (p.startsWith('!=', i)) return { field: p.slice(0, i), op: '!=', value: p.slice(i + 2) };
    if (p.startsWith('==', i)) return { field: p.slice(0, i), op: '=', value: p.slice(i + 2) };
    if (p[i] === '=') return { field: p.slice(0, i), op: '=', value: p.slice(i + 1) };
  }
  return undefined;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}
