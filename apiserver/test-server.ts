// Test support: a real etcd 3.4 (common/etcd-reference.ts), a RemoteKV to it and an ApiServer on
// a free loopback port, torn down together.
//
// The same suites run on another KV implementation (the in-process keelson store) by naming a
// module in KEELSON_APISERVER_TEST_KV that exports `startKvBackend(): Promise<KvBackend>`;
// tests that need the etcd process itself (outage tests) skip then.

import { startEtcdReference, type EtcdReference } from '../common/etcd-reference.js';
import { RemoteKV } from '../store/kv-remote.js';
import type { KV } from '../store/kv.js';
import { ApiServer, type ApiServerOptions } from './api-server.js';

export interface KvBackend {
  kv: KV;
  /** The reference etcd when the backend is one (outage tests kill and restart it). */
  etcd?: EtcdReference;
  /** Closes the KV and stops whatever serves it. */
  stop(): Promise<void>;
}

export interface TestServer {
  api: ApiServer;
  kv: KV;
  /** Undefined when the suite runs on another backend than etcd. */
  etcd: EtcdReference | undefined;
  url: string;
  stop(): Promise<void>;
}

async function startEtcdBackend(): Promise<KvBackend> {
  const etcd = await startEtcdReference({ dirPrefix: 'keelson-apiserver-' });
  try {
    const kv = new RemoteKV({ endpoints: etcd.endpoints });
    return {
      kv,
      etcd,
      async stop() {
        await kv.close().catch(() => undefined);
        await etcd.stop();
      },
    };
  } catch (err) {
    await etcd.stop();
    throw err;
  }
}

async function startBackend(): Promise<KvBackend> {
  const mod = process.env['KEELSON_APISERVER_TEST_KV'];
  if (mod === undefined || mod === '' || mod === 'etcd') return startEtcdBackend();
  const m = (await import(mod)) as { startKvBackend?: () => Promise<KvBackend> };
  if (typeof m.startKvBackend !== 'function') throw new Error(`${mod} does not export startKvBackend()`);
  return m.startKvBackend();
}

export async function startTestServer(opts: Partial<Omit<ApiServerOptions, 'kv' | 'listen'>> = {}): Promise<TestServer> {
  const backend = await startBackend();
  let api: ApiServer | undefined;
  try {
    api = new ApiServer({ kv: backend.kv, listen: 'http://127.0.0.1:0', ...opts });
    await api.start();
  } catch (err) {
    await api?.stop().catch(() => undefined);
    await backend.stop();
    throw err;
  }
  const a = api;
  let stopped: Promise<void> | undefined;
  return {
    api: a,
    kv: backend.kv,
    etcd: backend.etcd,
    url: a.url,
    stop() {
      stopped ??= (async () => {
        await a.stop().catch(() => undefined);
        await backend.stop();
      })();
      return stopped;
    },
  };
}

/** A small HTTP client for tests: JSON in, parsed JSON (or text) out, status code kept. */
export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const h: Record<string, string> = { ...headers };
  let payload: string | Buffer | undefined;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body: parsed, text };
}
