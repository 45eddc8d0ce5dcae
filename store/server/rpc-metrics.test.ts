import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { RpcMetrics } from './rpc-metrics.js';

test('RPC counts and handling times come out of a prom-client registry as Prometheus text', async () => {
  const registry = new Registry();
  const rpcs = new RpcMetrics(registry);
  const put = rpcs.recorder('unary', 'KV', 'Put');
  for (const s of [0.0001, 0.0005, 0.0004]) put('OK', s); // 0.0005 is in the 0.0005 bucket (le)
  put('OK', 0.003);
  put('Unavailable', 20);
  // A second recorder for the same method counts into the same series.
  rpcs.recorder('unary', 'KV', 'Put')('OK', 0.2);
  rpcs.recorder('bidi_stream', 'Watch', 'Watch'); // no RPC yet: no histogram series
  const text = await registry.metrics();
  const put_ = 'grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put"';
  const lines = new Set(text.split('\n'));
  for (const want of [
    '# TYPE grpc_server_handled_total counter',
    '# TYPE grpc_server_handling_seconds histogram',
    `grpc_server_handled_total{${put_},grpc_code="OK"} 5`,
    `grpc_server_handled_total{${put_},grpc_code="Unavailable"} 1`,
    `grpc_server_handling_seconds_bucket{${put_},le="0.0005"} 3`,
    `grpc_server_handling_seconds_bucket{${put_},le="0.001"} 3`,
    `grpc_server_handling_seconds_bucket{${put_},le="0.005"} 4`,
    `grpc_server_handling_seconds_bucket{${put_},le="0.25"} 5`,
    `grpc_server_handling_seconds_bucket{${put_},le="10"} 5`,
    `grpc_server_handling_seconds_bucket{${put_},le="+Inf"} 6`,
    `grpc_server_handling_seconds_count{${put_}} 6`,
  ]) {
    assert.ok(lines.has(want), `missing: ${want}\n${text}`);
  }
  const sum = text.match(/grpc_server_handling_seconds_sum\{[^}]*\} (\S+)/);
  assert.ok(sum, text);
  assert.ok(Math.abs(Number(sum[1]) - 20.204) < 1e-9, `sum ${sum[1]}`);
  assert.ok(!text.includes('grpc_method="Watch"'), 'a method without RPCs has no series');
  // The registry's JSON and reset work on them too.
  const json = await registry.getMetricsAsJSON();
  assert.equal(json.find((m) => m.name === 'grpc_server_handled_total')?.values.length, 2);
  registry.resetMetrics();
  assert.ok(!(await registry.metrics()).includes('grpc_server_handled_total{'));
});
