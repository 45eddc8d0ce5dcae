// What a Service holds besides its object: a cluster IP and node ports. They are keys in the
// store written in the same transaction as the Service (see object-storage.ts SideEffects), so
// two Services can never get the same address and nothing leaks when one goes away.

import { isJsonObject, type JsonObject } from './json-value.js';
import { metaOf } from './object-meta.js';
import type { SideEffects } from './object-storage.js';
import type { ResourceInfo } from './registry.js';
import { Cidr, IPADDRESS_PREFIX, ipAddressObject, NODEPORT_PREFIX, PortRange } from './service-ip-allocator.js';
import { ApiError, Errors, Field } from './status-error.js';

export /** Addresses and ports the client asked for by value (conflicts on them are not retried). */
interface ExplicitAllocations {
  ip?: string;
  ports: Map<number, number>;
}

export class ServiceAllocations {
  constructor(
    readonly serviceCidr: Cidr,
    readonly nodePorts: PortRange,
  ) {}

  /** Cluster IP and node port allocations of a new Service (written in its create transaction). */
  createSideEffects(r: ResourceInfo, o: JsonObject, explicit: ExplicitAllocations): SideEffects {
    if (r.group !== '' || r.kind !== 'Service') return {};
    const spec = o['spec'] as JsonObject;
    const ns = String(metaOf(o)['namespace']);
    const name = String(metaOf(o)['name']);
    const create: Array<{ key: string; value: string }> = [];
    if (spec['type'] !== 'ExternalName') {
      const asked = spec['clusterIP'];
      if (asked === 'None') {
        spec['clusterIPs'] = ['None'];
      } else {
        let ip: string;
        if (typeof asked === 'string' && asked !== '') {
          if (!this.serviceCidr.contains(asked)) {
            throw Errors.invalid(r.kind, r.group, name, [
              Field.invalid('spec.clusterIPs', [asked], `failed to allocate IP ${asked}: provided IP is not in the valid range. The range of valid IPs is ${this.serviceCidr.text}`),
            ]);
          }
          ip = asked;
          explicit.ip = asked;
        } else {
          ip = this.serviceCidr.random();
        }
        spec['clusterIP'] = ip;
        spec['clusterIPs'] = [ip];
        create.push({ key: IPADDRESS_PREFIX + ip, value: ipAddressObject(ip, ns, name) });
      }
      spec['ipFamilies'] = ['IPv4'];
      spec['ipFamilyPolicy'] = 'SingleStack';
    }
    create.push(...this.nodePortAllocations(r, o, new Set(), explicit));
    return { create };
  }

  nodePortAllocations(
    r: ResourceInfo,
    o: JsonObject,
    keep: Set<number>,
    explicit: ExplicitAllocations = { ports: new Map() },
  ): Array<{ key: string; value: string }> {
    const spec = o['spec'] as JsonObject;
    const out: Array<{ key: string; value: string }> = [];
    if (spec['type'] !== 'NodePort' && spec['type'] !== 'LoadBalancer') return out;
    const ports = Array.isArray(spec['ports']) ? spec['ports'].filter(isJsonObject) : [];
    const used = new Set<number>();
    ports.forEach((p, i) => {
      let np = p['nodePort'];
      if (typeof np === 'number' && np !== 0) {
        if (!this.nodePorts.contains(np)) {
          throw Errors.invalid(r.kind, r.group, String(metaOf(o)['name']), [
            Field.invalid(`spec.ports[${i}].nodePort`, np, `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.toString()}`),
          ]);
        }
        explicit.ports.set(np, i);
      } else {
        do np = this.nodePorts.random();
        while (used.has(np as number));
        p['nodePort'] = np;
      }
      used.add(np as number);
      if (!keep.has(np as number)) out.push({ key: NODEPORT_PREFIX + String(np), value: `${String(metaOf(o)['namespace'])}/${String(metaOf(o)['name'])}` });
    });
    return out;
  }

  /** A conflict on an address or port the client chose itself is the client's error (422). */
  explicitAllocationConflict(r: ResourceInfo, o: JsonObject, key: string, explicit: ExplicitAllocations): ApiError | undefined {
    const name = String(metaOf(o)['name']);
    if (key.startsWith(IPADDRESS_PREFIX) && explicit.ip === key.slice(IPADDRESS_PREFIX.length)) {
      const ip = explicit.ip;
      return Errors.invalid(r.kind, r.group, name, [
        Field.invalid('spec.clusterIPs', [ip], `failed to allocate IP ${ip}: provided IP is already allocated`),
      ]);
    }
    if (key.startsWith(NODEPORT_PREFIX)) {
      const port = Number(key.slice(NODEPORT_PREFIX.length));
      const i = explicit.ports.get(port);
      if (i !== undefined) {
        return Errors.invalid(r.kind, r.group, name, [Field.invalid(`spec.ports[${i}].nodePort`, port, 'provided port is already allocated')]);
      }
    }
    return undefined;
  }

  /** clusterIP / clusterIPs / nodePorts are kept when an update leaves them out. */
  keepServiceAllocations(next: JsonObject, old: JsonObject): void {
    const ns = next['spec'] as JsonObject;
    const os = isJsonObject(old['spec']) ? old['spec'] : {};
    if ((ns['clusterIP'] === undefined || ns['clusterIP'] === '') && os['clusterIP'] !== undefined && ns['type'] !== 'ExternalName') {
      ns['clusterIP'] = os['clusterIP'];
    }
    if (ns['clusterIPs'] === undefined && os['clusterIPs'] !== undefined && ns['type'] !== 'ExternalName') ns['clusterIPs'] = os['clusterIPs'];
    for (const k of ['ipFamilies', 'ipFamilyPolicy']) if (ns[k] === undefined && os[k] !== undefined) ns[k] = os[k];
    const oldPorts = Array.isArray(os['ports']) ? os['ports'].filter(isJsonObject) : [];
    const newPorts = Array.isArray(ns['ports']) ? ns['ports'].filter(isJsonObject) : [];
    for (const p of newPorts) {
      if (p['nodePort'] === undefined) {
        const same = oldPorts.find((q) => q['port'] === p['port'] && (q['protocol'] ?? 'TCP') === (p['protocol'] ?? 'TCP'));
        if (same?.['nodePort'] !== undefined && (ns['type'] === 'NodePort' || ns['type'] === 'LoadBalancer')) p['nodePort'] = same['nodePort'];
      }
    }
  }

  servicePorts(o: JsonObject): Set<number> {
    const spec = isJsonObject(o['spec']) ? o['spec'] : {};
    const ports = Array.isArray(spec['ports']) ? spec['ports'].filter(isJsonObject) : [];
    return new Set(ports.map((p) => p['nodePort']).filter((p): p is number => typeof p === 'number' && p > 0));
  }

  updateSideEffects(r: ResourceInfo, next: JsonObject, old: JsonObject): SideEffects {
    if (r.group !== '' || r.kind !== 'Service') return {};
    const oldPorts = this.servicePorts(old);
    const create = this.nodePortAllocations(r, next, oldPorts);
    const nowPorts = this.servicePorts(next);
    const remove = [...oldPorts].filter((p) => !nowPorts.has(p)).map((p) => NODEPORT_PREFIX + String(p));
    return { create, remove };
  }

  releaseOnDelete(r: ResourceInfo, o: JsonObject): SideEffects {
    if (r.group !== '' || r.kind !== 'Service') return {};
    const spec = isJsonObject(o['spec']) ? o['spec'] : {};
    const remove: string[] = [];
    if (typeof spec['clusterIP'] === 'string' && spec['clusterIP'] !== 'None' && spec['clusterIP'] !== '') remove.push(IPADDRESS_PREFIX + spec['clusterIP']);
    for (const p of this.servicePorts(o)) remove.push(NODEPORT_PREFIX + String(p));
    return { remove };
  }
}
