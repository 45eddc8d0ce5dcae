// Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for, with the columns
// kube-apiserver's printers give each built-in kind (pkg/printers/internalversion/printers.go):
// pods show NAME READY STATUS RESTARTS AGE, deployments NAME READY UP-TO-DATE AVAILABLE AGE, ...
// Priority-1 columns appear only with `-o wide`.

import { LabelSelector } from './label-selector.js';
import { isJsonObject, type JsonObject } from './json-value.js';
import type { ResourceInfo } from './registry.js';

export interface ColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format: string;
  description: string;
  priority: number;
}

type Cell = string | number | boolean;
type Printer = (o: JsonObject, now: number) => Cell[];

const col = (name: string, type: ColumnDefinition['type'] = 'string', priority = 0, format = '', description = ''): ColumnDefinition => ({
  name,
  type,
  format,
  description: description || `${name} of the object`,
  priority,
});
const NAME = col('Name', 'string', 0, 'name', 'Name must be unique within a namespace.');
const AGE = col('Age', 'string', 0, '', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

const o = (v: unknown): JsonObject => (isJsonObject(v) ? v : {});
const a = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
const s = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const meta = (x: JsonObject): JsonObject => o(x['metadata']);

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const sec = seconds % 60;
    return sec === 0 ? `${minutes}m` : `${minutes}m${sec}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function since(ts: unknown, now: number): string {
  if (typeof ts !== 'string' || ts === '') return '<unknown>';
  const t = Date.parse(ts);
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

function age(x: JsonObject, now: number): string {
  return since(meta(x)['creationTimestamp'], now);
}

function containersOf(spec: JsonObject): { names: string; images: string } {
  const cs = a(spec['containers']).map(o);
  return { names: cs.map((c) => s(c['name'])).join(','), images: cs.map((c) => s(c['image'])).join(',') };
}

function templateSpec(x: JsonObject): JsonObject {
  return o(o(o(x['spec'])['template'])['spec']);
}

function selectorText(sel: unknown): string {
  if (sel === undefined || sel === null) return '<none>';
  const t = LabelSelector.fromStructured(sel).toString();
  return t === '' ? '<none>' : t;
}

function mapSelectorText(sel: unknown): string {
  const m = o(sel);
  const keys = Object.keys(m).sort();
  return keys.length === 0 ? '<none>' : keys.map((k) => `${k}=${s(m[k])}`).join(',');
}

// ---- pods ----

function podRow(x: JsonObject, now: number): Cell[] {
  const spec = o(x['spec']);
  const status = o(x['status']);
  const m = meta(x);
  const total = a(spec['containers']).length;
  let ready = 0;
  let restarts = 0;
  let lastRestart = 0;
  let reason = s(status['phase']);
  if (s(status['reason']) !== '') reason = s(status['reason']);

  let initializing = false;
  const initStatuses = a(status['initContainerStatuses']).map(o);
  initStatuses.forEach((c, i) => {
    restarts += n(c['restartCount']);
    const st = o(c['state']);
    if (isJsonObject(st['terminated']) && n(st['terminated']['exitCode']) === 0) return;
    if (initializing) return;
    if (isJsonObject(st['terminated'])) {
      const t = st['terminated'];
      reason = s(t['reason']) !== '' ? `Init:${s(t['reason'])}` : t['signal'] ? `Init:Signal:${s(t['signal'])}` : `Init:ExitCode:${n(t['exitCode'])}`;
      initializing = true;
    } else if (isJsonObject(st['waiting']) && s(st['waiting']['reason']) !== '' && st['waiting']['reason'] !== 'PodInitializing') {
      reason = `Init:${s(st['waiting']['reason'])}`;
      initializing = true;
    } else {
      reason = `Init:${i}/${a(spec['initContainers']).length}`;
      initializing = true;
    }
  });
  if (!initializing) {
    let hasRunning = false;
    const statuses = a(status['containerStatuses']).map(o);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      restarts += n(c['restartCount']);
      const last = o(o(c['lastState'])['terminated']);
      if (typeof last['finishedAt'] === 'string') lastRestart = Math.max(lastRestart, Date.parse(last['finishedAt']) || 0);
      const st = o(c['state']);
      if (isJsonObject(st['waiting']) && s(st['waiting']['reason']) !== '') reason = s(st['waiting']['reason']);
      else if (isJsonObject(st['terminated'])) {
        const t = st['terminated'];
        reason = s(t['reason']) !== '' ? s(t['reason']) : t['signal'] ? `Signal:${s(t['signal'])}` : `ExitCode:${n(t['exitCode'])}`;
      } else if (isJsonObject(st['running']) && c['ready'] === true) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const readyCond = a(status['conditions']).map(o).find((c) => c['type'] === 'Ready');
      reason = readyCond?.['status'] === 'True' ? 'Running' : 'NotReady';
    }
  }
  if (m['deletionTimestamp'] !== undefined && status['reason'] === 'NodeLost') reason = 'Unknown';
  else if (m['deletionTimestamp'] !== undefined) reason = 'Terminating';
  const restartText = lastRestart > 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  const nominated = s(status['nominatedNodeName']) || '<none>';
  const gates = a(spec['readinessGates']).map(o);
  let gatesText = '<none>';
  if (gates.length > 0) {
    const conds = a(status['conditions']).map(o);
    const trueGates = gates.filter((g) => conds.some((c) => c['type'] === g['conditionType'] && c['status'] === 'True')).length;
    gatesText = `${trueGates}/${gates.length}`;
  }
  return [s(m['name']), `${ready}/${total}`, reason, restartText, age(x, now), s(status['podIP']) || '<none>', s(spec['nodeName']) || '<none>', nominated, gatesText];
}

// ---- the table of printers ----

interface KindPrinter {
  columns: ColumnDefinition[];
  row: Printer;
}

const P: Record<string, KindPrinter> = {
  '/pods': {
    columns: [
      NAME,
      col('Ready', 'string', 0, '', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'string', 0, '', 'The aggregate status of the containers in this pod.'),
      col('Restarts', 'string', 0, '', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      AGE,
      col('IP', 'string', 1, '', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.'),
      col('Node', 'string', 1, '', 'NodeName is a request to schedule this pod onto a specific node.'),
      col('Nominated Node', 'string', 1, '', 'nominatedNodeName is set only when this pod preempts other pods on the node.'),
      col('Readiness Gates', 'string', 1, '', 'If specified, all readiness gates will be evaluated for pod readiness.'),
    ],
    row: podRow,
  },
  '/namespaces': {
    columns: [NAME, col('Status', 'string', 0, '', 'The status of the namespace'), AGE],
    row: (x, now) => [s(meta(x)['name']), s(o(x['status'])['phase']), age(x, now)],
  },
  '/nodes': {
    columns: [
      NAME,
      col('Status', 'string', 0, '', "The status of the node"),
      col('Roles', 'string', 0, '', 'The roles of the node'),
      AGE,
      col('Version', 'string', 0, '', 'Kubelet Version reported by the node.'),
      col('Internal-IP', 'string', 1, '', 'List of addresses reachable to the node. Queried from cloud provider, if available.'),
      col('External-IP', 'string', 1, '', 'List of addresses reachable to the node. Queried from cloud provider, if available.'),
      col('OS-Image', 'string', 1, '', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).'),
      col('Kernel-Version', 'string', 1, '', 'Kernel Version reported by the node.'),
      col('Container-Runtime', 'string', 1, '', 'ContainerRuntime Version reported by the node.'),
    ],
    row: (x, now) => {
      const st = o(x['status']);
      const conds = a(st['conditions']).map(o);
      const readyC = conds.find((c) => c['type'] === 'Ready');
      let status = readyC === undefined ? 'Unknown' : readyC['status'] === 'True' ? 'Ready' : 'NotReady';
      if (o(x['spec'])['unschedulable'] === true) status += ',SchedulingDisabled';
      const labels = o(meta(x)['labels']);
      const roles = Object.keys(labels)
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length))
        .filter((r) => r !== '');
      const info = o(st['nodeInfo']);
      const addr = (t: string): string => s(a(st['addresses']).map(o).find((ad) => ad['type'] === t)?.['address']) || '<none>';
      return [
        s(meta(x)['name']),
        status,
        roles.length === 0 ? '<none>' : roles.sort().join(','),
        age(x, now),
        s(info['kubeletVersion']),
        addr('InternalIP'),
        addr('ExternalIP'),
        s(info['osImage']) || '<unknown>',
        s(info['kernelVersion']) || '<unknown>',
        s(info['containerRuntimeVersion']) || '<unknown>',
      ];
    },
  },
  '/services': {
    columns: [
      NAME,
      col('Type', 'string', 0, '', 'The type of the service.'),
      col('Cluster-IP', 'string', 0, '', 'The cluster IP of the service.'),
      col('External-IP', 'string', 0, '', 'The external IP of the service.'),
      col('Port(s)', 'string', 0, '', 'The ports of the service.'),
      AGE,
      col('Selector', 'string', 1, '', 'The label selector of the service.'),
    ],
    row: (x, now) => {
      const spec = o(x['spec']);
      const type = s(spec['type']) || 'ClusterIP';
      let ext = '<none>';
      if (type === 'ExternalName') ext = s(spec['externalName']);
      else if (a(spec['externalIPs']).length > 0) ext = a(spec['externalIPs']).map(s).join(',');
      else if (type === 'LoadBalancer') {
        const ing = a(o(o(x['status'])['loadBalancer'])['ingress']).map(o);
        ext = ing.length === 0 ? '<pending>' : ing.map((i) => s(i['ip']) || s(i['hostname'])).join(',');
      }
      const ports = a(spec['ports']).map(o).map((p) => {
        const np = p['nodePort'] ? `:${n(p['nodePort'])}` : '';
        return `${n(p['port'])}${np}/${s(p['protocol']) || 'TCP'}`;
      });
      return [
        s(meta(x)['name']),
        type,
        s(spec['clusterIP']) || '<none>',
        ext,
        ports.length === 0 ? '<none>' : ports.join(','),
        age(x, now),
        mapSelectorText(spec['selector']),
      ];
    },
  },
  '/endpoints': {
    columns: [NAME, col('Endpoints', 'string', 0, '', 'Endpoints of the service'), AGE],
    row: (x, now) => {
      const list: string[] = [];
      for (const ss of a(x['subsets']).map(o)) {
        const ports = a(ss['ports']).map(o);
        for (const ad of a(ss['addresses']).map(o)) {
          if (ports.length === 0) list.push(s(ad['ip']));
          else for (const p of ports) list.push(`${s(ad['ip'])}:${n(p['port'])}`);
        }
      }
      let text = list.length === 0 ? '<none>' : list.slice(0, 3).join(',');
      if (list.length > 3) text += ` + ${list.length - 3} more...`;
      return [s(meta(x)['name']), text, age(x, now)];
    },
  },
  '/configmaps': {
    columns: [NAME, col('Data', 'integer', 0, '', 'Data contains the configuration data.'), AGE],
    row: (x, now) => [s(meta(x)['name']), Object.keys(o(x['data'])).length + Object.keys(o(x['binaryData'])).length, age(x, now)],
  },
  '/secrets': {
    columns: [NAME, col('Type', 'string', 0, '', 'The type of the secret'), col('Data', 'integer', 0, '', 'The number of entries in the secret'), AGE],
    row: (x, now) => [s(meta(x)['name']), s(x['type']), Object.keys(o(x['data'])).length, age(x, now)],
  },
  '/serviceaccounts': {
    columns: [NAME, col('Secrets', 'integer', 0, '', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), AGE],
    row: (x, now) => [s(meta(x)['name']), a(x['secrets']).length, age(x, now)],
  },
  '/events': {
    columns: [
      col('Last Seen', 'string', 0, '', 'Time when last this event was observed.'),
      col('Type', 'string', 0, '', 'Type of this event.'),
      col('Reason', 'string', 0, '', 'Short, machine understandable string that gives the reason for this event being generated.'),
      col('Object', 'string', 0, '', 'The object that this event is about.'),
      col('Subobject', 'string', 1, '', 'The subobject this event is about.'),
      col('Source', 'string', 1, '', 'The component reporting this event.'),
      col('Message', 'string', 0, '', 'A human-readable description of the status of this operation.'),
      col('First Seen', 'string', 1, '', 'The time at which the event was first recorded.'),
      col('Count', 'string', 1, '', 'The number of times this event has occurred.'),
      col('Name', 'string', 1, 'name', NAME.description),
    ],
    row: (x, now) => eventRow(x, now),
  },
  '/replicationcontrollers': {
    columns: [
      NAME,
      col('Desired', 'integer', 0, '', 'Number of desired pods.'),
      col('Current', 'integer', 0, '', 'Number of current pods.'),
      col('Ready', 'integer', 0, '', 'Number of ready pods.'),
      AGE,
      col('Containers', 'string', 1, '', 'Names of each container in the template.'),
      col('Images', 'string', 1, '', 'Images referenced by each container in the template.'),
      col('Selector', 'string', 1, '', 'Label selector for pods.'),
    ],
    row: (x, now) => {
      const c = containersOf(templateSpec(x));
      return [s(meta(x)['name']), n(o(x['spec'])['replicas']), n(o(x['status'])['replicas']), n(o(x['status'])['readyReplicas']), age(x, now), c.names, c.images, mapSelectorText(o(x['spec'])['selector'])];
    },
  },
  'apps/deployments': {
    columns: [
      NAME,
      col('Ready', 'string', 0, '', 'Number of the pod with ready state'),
      col('Up-to-date', 'integer', 0, '', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
      col('Available', 'integer', 0, '', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
      AGE,
      col('Containers', 'string', 1, '', 'Names of each container in the template.'),
      col('Images', 'string', 1, '', 'Images referenced by each container in the template.'),
      col('Selector', 'string', 1, '', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.'),
    ],
    row: (x, now) => {
      const st = o(x['status']);
      const c = containersOf(templateSpec(x));
      return [s(meta(x)['name']), `${n(st['readyReplicas'])}/${n(o(x['spec'])['replicas'])}`, n(st['updatedReplicas']), n(st['availableReplicas']), age(x, now), c.names, c.images, selectorText(o(x['spec'])['selector'])];
    },
  },
  'apps/replicasets': {
    columns: [
      NAME,
      col('Desired', 'integer', 0, '', 'Number of desired pods.'),
      col('Current', 'integer', 0, '', 'Number of current pods.'),
      col('Ready', 'integer', 0, '', 'Number of ready pods.'),
      AGE,
      col('Containers', 'string', 1, '', 'Names of each container in the template.'),
      col('Images', 'string', 1, '', 'Images referenced by each container in the template.'),
      col('Selector', 'string', 1, '', 'Label selector for pods.'),
    ],
    row: (x, now) => {
      const c = containersOf(templateSpec(x));
      return [s(meta(x)['name']), n(o(x['spec'])['replicas']), n(o(x['status'])['replicas']), n(o(x['status'])['readyReplicas']), age(x, now), c.names, c.images, selectorText(o(x['spec'])['selector'])];
    },
  },
  'apps/statefulsets': {
    columns: [
      NAME,
      col('Ready', 'string', 0, '', 'Number of the pod with ready state'),
      AGE,
      col('Containers', 'string', 1, '', 'Names of each container in the template.'),
      col('Images', 'string', 1, '', 'Images referenced by each container in the template.'),
    ],
    row: (x, now) => {
      const c = containersOf(templateSpec(x));
      return [s(meta(x)['name']), `${n(o(x['status'])['readyReplicas'])}/${n(o(x['spec'])['replicas'])}`, age(x, now), c.names, c.images];
    },
  },
  'apps/daemonsets': {
    columns: [
      NAME,
      col('Desired', 'integer', 0, '', 'The total number of nodes that should be running the daemon pod.'),
      col('Current', 'integer', 0, '', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
      col('Ready', 'integer', 0, '', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.'),
      col('Up-to-date', 'integer', 0, '', 'The total number of nodes that are running updated daemon pod'),
      col('Available', 'integer', 0, '', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
      col('Node Selector', 'string', 0, '', 'NodeSelector is a selector which must be true for the pod to fit on a node.'),
      AGE,
      col('Containers', 'string', 1, '', 'Names of each container in the template.'),
      col('Images', 'string', 1, '', 'Images referenced by each container in the template.'),
      col('Selector', 'string', 1, '', 'A label query over pods that are managed by the daemon set.'),
    ],
    row: (x, now) => {
      const st = o(x['status']);
      const c = containersOf(templateSpec(x));
      return [
        s(meta(x)['name']),
        n(st['desiredNumberScheduled']),
        n(st['currentNumberScheduled']),
        n(st['numberReady']),
        n(st['updatedNumberScheduled']),
        n(st['numberAvailable']),
        mapSelectorText(templateSpec(x)['nodeSelector']),
        age(x, now),
        c.names,
        c.images,
        selectorText(o(x['spec'])['selector']),
      ];
    },
  },
  'batch/jobs': {
    columns: [
      NAME,
      col('Status', 'string', 0, '', 'Status of the job.'),
      col('Completions', 'string', 0, '', 'The desired number of successfully finished pods the job should be run with.'),
      col('Duration', 'string', 0, '', 'Time required to complete the job.'),
      AGE,
      col('Containers', 'string', 1, '', 'Names of each container in the template.'),
      col('Images', 'string', 1, '', 'Images referenced by each container in the template.'),
      col('Selector', 'string', 1, '', 'A label query over pods that should match the pod count.'),
    ],
    row: (x, now) => {
      const spec = o(x['spec']);
      const st = o(x['status']);
      const completions = spec['completions'] !== undefined ? `${n(st['succeeded'])}/${n(spec['completions'])}` : `${n(st['succeeded'])}/1 of ${n(spec['parallelism'])}`;
      const conds = a(st['conditions']).map(o);
      const has = (t: string): boolean => conds.some((c) => c['type'] === t && c['status'] === 'True');
      let status = 'Running';
      if (has('Complete')) status = 'Complete';
      else if (has('Failed')) status = 'Failed';
      else if (has('FailureTarget')) status = 'FailureTarget';
      else if (has('SuccessCriteriaMet')) status = 'SuccessCriteriaMet';
      else if (has('Suspended')) status = 'Suspended';
      else if (meta(x)['deletionTimestamp'] !== undefined) status = 'Terminating';
      let duration = '';
      if (typeof st['startTime'] === 'string') {
        const start = Date.parse(st['startTime']);
        const end = typeof st['completionTime'] === 'string' ? Date.parse(st['completionTime']) : now;
        duration = humanDuration(end - start);
      }
      const c = containersOf(templateSpec(x));
      return [s(meta(x)['name']), status, completions, duration, age(x, now), c.names, c.images, selectorText(spec['selector'])];
    },
  },
  'batch/cronjobs': {
    columns: [
      NAME,
      col('Schedule', 'string', 0, '', 'The schedule in Cron format'),
      col('Timezone', 'string', 0, '', 'The time zone name for the given schedule'),
      col('Suspend', 'boolean', 0, '', 'This flag tells the controller to suspend subsequent executions.'),
      col('Active', 'integer', 0, '', 'A list of pointers to currently running jobs.'),
      col('Last Schedule', 'string', 0, '', 'Information when was the last time the job was successfully scheduled.'),
      AGE,
      col('Containers', 'string', 1, '', 'Names of each container in the template.'),
      col('Images', 'string', 1, '', 'Images referenced by each container in the template.'),
      col('Selector', 'string', 1, '', 'A label query over pods that should match the pod count.'),
    ],
    row: (x, now) => {
      const spec = o(x['spec']);
      const st = o(x['status']);
      const js = o(o(spec['jobTemplate'])['spec']);
      const c = containersOf(o(o(js['template'])['spec']));
      const last = typeof st['lastScheduleTime'] === 'string' ? since(st['lastScheduleTime'], now) : '<none>';
      return [s(meta(x)['name']), s(spec['schedule']), s(spec['timeZone']) || '<none>', spec['suspend'] === true ? 'True' : 'False', a(st['active']).length, last, age(x, now), c.names, c.images, selectorText(js['selector'])];
    },
  },
  'coordination.k8s.io/leases': {
    columns: [NAME, col('Holder', 'string', 0, '', 'Name of the holder of the lease'), AGE],
    row: (x, now) => [s(meta(x)['name']), s(o(x['spec'])['holderIdentity']), age(x, now)],
  },
  'discovery.k8s.io/endpointslices': {
    columns: [
      NAME,
      col('AddressType', 'string', 0, '', 'The type of address held in the EndpointSlice'),
      col('Ports', 'string', 0, '', 'Ports of the EndpointSlice'),
      col('Endpoints', 'string', 0, '', 'Endpoints of the EndpointSlice'),
      AGE,
    ],
    row: (x, now) => {
      const ports = a(x['ports']).map(o).map((p) => (p['port'] === undefined ? '' : String(n(p['port']))));
      const addrs = a(x['endpoints']).map(o).flatMap((e) => a(e['addresses']).map(s));
      let text = addrs.length === 0 ? '<unset>' : addrs.slice(0, 3).join(',');
      if (addrs.length > 3) text += ` + ${addrs.length - 3} more...`;
      return [s(meta(x)['name']), s(x['addressType']), ports.length === 0 ? '<unset>' : ports.join(','), text, age(x, now)];
    },
  },
};

function eventRow(x: JsonObject, now: number): Cell[] {
  // Served events may be core (involvedObject) or events.k8s.io (regarding) shaped.
  const io = o(x['involvedObject'] ?? x['regarding']);
  const first = x['firstTimestamp'] ?? x['deprecatedFirstTimestamp'] ?? x['eventTime'];
  const last = x['lastTimestamp'] ?? x['deprecatedLastTimestamp'] ?? o(x['series'])['lastObservedTime'] ?? x['eventTime'] ?? first;
  const src = o(x['source'] ?? x['deprecatedSource']);
  const source = s(src['component']) || s(x['reportingComponent']) || s(x['reportingController']);
  const count = n(x['count'] ?? x['deprecatedCount']) || n(o(x['series'])['count']) || 1;
  return [
    since(last, now),
    s(x['type']),
    s(x['reason']),
    `${s(io['kind']).toLowerCase()}/${s(io['name'])}`,
    s(io['fieldPath']),
    source + (s(src['host']) ? `, ${s(src['host'])}` : ''),
    s(x['message'] ?? x['note']).trim(),
    since(first, now),
    String(count),
    s(meta(x)['name']),
  ];
}

const DEFAULT: KindPrinter = {
  columns: [NAME, col('Created At', 'date', 0, '', 'CreationTimestamp is a timestamp representing the server time when this object was created.')],
  row: (x) => [s(meta(x)['name']), s(meta(x)['creationTimestamp'])],
};

function printerFor(r: ResourceInfo): KindPrinter {
  const key = `${r.group === 'events.k8s.io' ? '' : r.group}/${r.resource}`;
  return P[key] ?? DEFAULT;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(x: JsonObject, include: IncludeObject): JsonObject | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return x;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: meta(x) };
}

/** A Table of `items`; `listMeta` carries resourceVersion/continue of the list it came from. */
export function toTable(r: ResourceInfo, items: JsonObject[], listMeta: JsonObject, include: IncludeObject, now: number, noHeaders = false): JsonObject {
  const p = printerFor(r);
  const rows = items.map((x) => {
    const row: JsonObject = { cells: p.row(x, now) };
    const obj = rowObject(x, include);
    if (obj !== undefined) row['object'] = obj;
    return row;
  });
  const t: JsonObject = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta, columnDefinitions: p.columns, rows };
  if (noHeaders) t['columnDefinitions'] = null;
  return t;
}
