// What a membership change entry carries besides the node id: the member's name and URLs.
// Written by whoever proposes the change (bootstrap, MemberAdd), read when it is applied.

import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false });

export interface MemberContext {
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export function encodeMemberContext(c: MemberContext): Uint8Array {
  return packr.pack([c.name, c.peerURLs, c.clientURLs]);
}

export function decodeMemberContext(data: Uint8Array): MemberContext | undefined {
  if (data.length === 0) return undefined;
  try {
    const a: unknown = packr.unpack(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (!Array.isArray(a) || typeof a[0] !== 'string' || !Array.isArray(a[1]) || !Array.isArray(a[2])) return undefined;
    return { name: a[0], peerURLs: a[1].map(String), clientURLs: a[2].map(String) };
  } catch {
    return undefined;
  }
}
