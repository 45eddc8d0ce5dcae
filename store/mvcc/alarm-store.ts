// etcd's alarm store (etcdserver/api/v3alarm): raised alarms per member, replicated through the
// log. An active NOSPACE alarm refuses writes that add data; CORRUPT refuses everything.

import { AlarmType, type AlarmMember } from '../api/types.js';

export class AlarmStore {
  private readonly alarms = new Map<string, AlarmMember>();

  private static key(memberID: bigint, alarm: AlarmType): string {
    return `${alarm}:${memberID}`;
  }

  /** Alarms of one type, or all for NONE; by member ID. */
  get(type: AlarmType): AlarmMember[] {
    const out = [...this.alarms.values()].filter((a) => type === AlarmType.NONE || a.alarm === type);
    return out.sort((a, b) => (a.alarm - b.alarm) || (a.memberID < b.memberID ? -1 : a.memberID > b.memberID ? 1 : 0));
  }

  /** Returns the alarm (the existing one if it was already raised). */
  activate(memberID: bigint, alarm: AlarmType): { member: AlarmMember; added: boolean } {
    const k = AlarmStore.key(memberID, alarm);
    const existing = this.alarms.get(k);
    if (existing !== undefined) return { member: existing, added: false };
    const m = { memberID, alarm };
    this.alarms.set(k, m);
    return { member: m, added: true };
  }

  /** Returns the removed alarm, or undefined if it was not raised. */
  deactivate(memberID: bigint, alarm: AlarmType): AlarmMember | undefined {
    const k = AlarmStore.key(memberID, alarm);
    const m = this.alarms.get(k);
    if (m !== undefined) this.alarms.delete(k);
    return m;
  }

  has(type: AlarmType): boolean {
    return this.get(type).length > 0;
  }

  clear(): void {
    this.alarms.clear();
  }
}
