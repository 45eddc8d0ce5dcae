import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startEtcdReference, type EtcdReference } from '../common/etcd-reference.js';
import { freePort } from '../common/free-port.js';
import { EtcdError, Errors, GrpcCode } from './api/errors.js';
import { AlarmAction, type MemberAddResponse } from './api/types.js';
import { describeClusterConformance } from './cluster-conformance.js';
import { describeKVConformance } from './kv-conformance.js';
import { RemoteKV } from './kv-remote.js';
import { b, recordWatch, rejectsWith, waitUntil } from './kv-test-support.js';

describeKVConformance('RemoteKV against etcd 3.4 (1 member): KV, Watch, Lease semantics', async () => {
  const ref = await startEtcdReference({ members: 1 });
  const kv = new RemoteKV({ endpoints: ref.endpoints });
  return {
    kv,
    async cleanup() {
      await kv.close();
      await ref.stop();
    },
  };
});

describeClusterConformance('RemoteKV against a 3-member etcd 3.4: cluster, maintenance, endpoints', () => startEtcdReference({ members: 3 }), {
  boltSnapshot: true,
});
