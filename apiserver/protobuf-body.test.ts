import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtobufBody, encodeProtobufBody, ProtobufBodyError } from './protobuf-body.js';

test('protobuf bodies decode to the JSON form (inline structs, maps, bytes, int-or-string, quantities)', () => {
  const deployment = {
    metadata: { name: 'd', labels: { app: 'd' } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'd' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
      template: {
        metadata: { labels: { app: 'd' } },
        spec: {
          containers: [
            {
              name: 'c',
              image: 'nginx',
              ports: [{ containerPort: 80 }],
              env: [{ name: 'CM', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }],
              resources: { limits: { cpu: '500m', memory: '64Mi' } },
            },
          ],
          volumes: [{ name: 'v', configMap: { name: 'cfg' } }, { name: 'e', emptyDir: {} }],
          enableServiceLinks: false,
        },
      },
    },
  };
  const out = decodeProtobufBody(encodeProtobufBody('apps/v1', 'Deployment', deployment));
  assert.deepEqual(out, { apiVersion: 'apps/v1', kind: 'Deployment', ...deployment });
  const secret = { metadata: { name: 's' }, type: 'Opaque', data: { pw: Buffer.from('hunter2').toString('base64') } };
  assert.deepEqual(decodeProtobufBody(encodeProtobufBody('v1', 'Secret', secret)), { apiVersion: 'v1', kind: 'Secret', ...secret });
  const svc = { metadata: { name: 's' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], selector: { a: 'b' }, type: 'ClusterIP' } };
  assert.deepEqual(decodeProtobufBody(encodeProtobufBody('v1', 'Service', svc)), { apiVersion: 'v1', kind: 'Service', ...svc });
});

test('protobuf bodies: bad magic, truncated data and unknown kinds are errors', () => {
  assert.throws(() => decodeProtobufBody(Buffer.from('{"json":true}')), ProtobufBodyError);
  const good = encodeProtobufBody('v1', 'ConfigMap', { metadata: { name: 'c' }, data: { a: 'b' } });
  assert.throws(() => decodeProtobufBody(good.subarray(0, good.length - 3)), ProtobufBodyError);
  assert.throws(() => encodeProtobufBody('v1', 'Widget', {}), ProtobufBodyError);
});
