// Loads etcd 3.4's API definitions (proto/etcd/*.proto) once with protobufjs. The .proto files
// live in the source tree, found by walking up from this module to the folder with package.json,
// so the same code works from dist/ and dist-<dev>/.

import { join } from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../../common/package-root.js';

export const PROTO_DIR = join(packageRoot(), 'proto');

let root: protobuf.Root | undefined;

/** The resolved protobufjs Root holding etcdserverpb, mvccpb and authpb. */
export function etcdRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  // Imports in rpc.proto are relative to proto/ ("etcd/kv.proto").
  r.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  r.loadSync('etcd/rpc.proto', { keepCase: false });
  r.resolveAll();
  root = r;
  return r;
}

export function lookupType(fullName: string): protobuf.Type {
  return etcdRoot().lookupType(fullName);
}

export function lookupService(fullName: string): protobuf.Service {
  return etcdRoot().lookupService(fullName);
}
