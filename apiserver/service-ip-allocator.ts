// Cluster IPs and node ports of Services. DESIGN.md: cluster IPs come from the loopback range so
// the proxy can really listen on them on one machine. Each allocation is a key
// (/registry/ipaddresses/<ip>, like kube-apiserver's IPAddress objects; /registry/servicenodeports/<port>)
// written in the same transaction as the Service, so a conflict is detected by the store and
// nothing leaks when a Service goes away.

import { randomInt } from 'node:crypto';
import { isIPv4 } from './name-validation.js';

export const IPADDRESS_PREFIX = '/registry/ipaddresses/';
export const NODEPORT_PREFIX = '/registry/servicenodeports/';

export class Cidr {
  readonly base: number;
  readonly size: number;
  constructor(readonly text: string) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text);
    if (!m || !isIPv4(m[1]!) || Number(m[2]) < 8 || Number(m[2]) > 30) throw new RangeError(`invalid service CIDR ${text} (IPv4, /8 to /30)`);
    const bits = Number(m[2]);
    this.size = 2 ** (32 - bits);
    this.base = Math.floor(ipToInt(m[1]!) / this.size) * this.size;
  }

  contains(ip: string): boolean {
    if (!isIPv4(ip)) return false;
    const n = ipToInt(ip);
    return n >= this.base && n < this.base + this.size;
  }

  /** The first usable address (network + 1): kube-apiserver keeps it for the `kubernetes` Service. */
  get first(): string {
    return intToIp(this.base + 1);
  }

  /** A random usable address other than the network, broadcast and first addresses. */
  random(): string {
    return intToIp(this.base + 2 + randomInt(this.size - 3));
  }
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export class PortRange {
  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (!(min >= 1 && max <= 65535 && min <= max)) throw new RangeError(`invalid node port range ${min}-${max}`);
  }
  contains(p: number): boolean {
    return p >= this.min && p <= this.max;
  }
  random(): number {
    return this.min + randomInt(this.max - this.min + 1);
  }
  toString(): string {
    return `${this.min}-${this.max}`;
  }
}

export function ipAddressObject(ip: string, namespace: string, name: string): string {
  return JSON.stringify({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IPAddress',
    metadata: { name: ip, labels: { 'ipaddress.kubernetes.io/managed-by': 'ipallocator.k8s.io' } },
    spec: { parentRef: { group: '', resource: 'services', namespace, name } },
  });
}
