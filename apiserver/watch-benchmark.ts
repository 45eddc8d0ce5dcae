// The watch benchmark of issue 8, as a library: N HTTP watchers on the pods of one namespace
// while a writer creates and then updates pods at a fixed rate; measures events delivered per
// second, delivery latency (p50/p99, from the write's timestamp annotation to its arrival at a
// watcher) and the memory of this process (the API server's, when it runs in-process).
// A bench/ entry runs it against an API server on keelson and on etcd side by side.

import { request, type ClientRequest } from 'node:http';

export interface WatchBenchmarkOptions {
  /** Base URL of the API server. */
  url: string;
  namespace: string;
  watchers: number;
  /** Pod writes per second (creates first, then updates round-robin). */
  writesPerSecond: number;
  durationMs: number;
  /** Distinct pods written (default 50). */
  pods?: number;
}

export interface WatchBenchmarkResult {
  writes: number;
  /** Writes the server answered with an error (or not at all). */
  failedWrites: number;
  events: number;
  eventsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Watchers whose stream ended before the benchmark did (cut off or failed). */
  watchersLost: number;
  rssMb: number;
}

const SENT_AT = 'bench.keelson.dev/sent-at';
/** Latency samples kept (a bound on memory for long runs; later samples replace at random). */
const MAX_SAMPLES = 200_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function call(url: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

export async function runWatchBenchmark(o: WatchBenchmarkOptions): Promise<WatchBenchmarkResult> {
  if (!(o.watchers >= 1 && o.watchers <= 10_000)) throw new RangeError('watchers must be 1..10000');
  if (!(o.writesPerSecond > 0 && o.writesPerSecond <= 10_000)) throw new RangeError('writesPerSecond must be 1..10000');
  const podCount = o.pods ?? 50;
  const ns = o.namespace;
  const created = await call(o.url, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  if (created.status !== 201 && created.status !== 409) throw new Error(`cannot create namespace ${ns}: ${JSON.stringify(created.body)}`);
  const list = await call(o.url, 'GET', `/api/v1/namespaces/${ns}/pods`);
  const rv = String(list.body.metadata.resourceVersion);

  const samples: number[] = [];
  let events = 0;
  let lost = 0;
  let running = true;
  const requests: ClientRequest[] = [];
  const record = (line: string): void => {
    const ev = JSON.parse(line) as { type: string; object: { metadata?: { annotations?: Record<string, string> } } };
    if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') return;
    events++;
    const sent = Number(ev.object.metadata?.annotations?.[SENT_AT]);
    if (!Number.isFinite(sent)) return;
    const lat = Date.now() - sent;
    if (samples.length < MAX_SAMPLES) samples.push(lat);
    else samples[Math.floor(Math.random() * MAX_SAMPLES)] = lat;
  };
  await Promise.all(
    Array.from(
      { length: o.watchers },
      () =>
        new Promise<void>((resolve, reject) => {
          const req = request(`${o.url}/api/v1/namespaces/${ns}/pods?watch=1&resourceVersion=${rv}`, (res) => {
            let buf = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              buf += c;
              let i: number;
              while ((i = buf.indexOf('\n')) >= 0) {
                record(buf.slice(0, i));
                buf = buf.slice(i + 1);
              }
            });
            res.on('close', () => {
              if (running) lost++;
            });
            resolve();
          });
          req.on('error', (err) => (running ? reject(err) : resolve()));
          req.end();
          requests.push(req);
        }),
    ),
  );

  const interval = 1000 / o.writesPerSecond;
  const start = Date.now();
  let writes = 0;
  let failedWrites = 0;
  const inflight = new Set<Promise<unknown>>();
  const maxWrites = Math.ceil((o.durationMs / 1000) * o.writesPerSecond);
  for (let i = 0; i < maxWrites; i++) {
    const due = start + i * interval;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // Updates of a pod must not overtake its create: the creates complete first.
    if (i === podCount) await Promise.all(inflight);
    const name = `bench-${i % podCount}`;
    const annotations = { [SENT_AT]: String(Date.now()) };
    const p =
      i < podCount
        ? call(o.url, 'POST', `/api/v1/namespaces/${ns}/pods`, {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name, annotations },
            spec: { containers: [{ name: 'c', image: 'bench' }] },
          })
        : call(o.url, 'PATCH', `/api/v1/namespaces/${ns}/pods/${name}`, { metadata: { annotations } }, 'application/merge-patch+json');
    const tracked = p
      .then((r) => (r.status < 300 ? writes++ : failedWrites++), () => failedWrites++)
      .finally(() => inflight.delete(tracked));
    inflight.add(tracked);
    // Bound the writes in flight: a slow server slows the writer instead of queueing without end.
    if (inflight.size >= 64) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  // Let the last events arrive (bounded: 10 s).
  const expected = writes * o.watchers;
  for (let i = 0; i < 500 && events < expected && lost === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const elapsed = Date.now() - start;
  running = false;
  for (const r of requests) r.destroy();
  samples.sort((a, b) => a - b);
  return {
    writes,
    failedWrites,
    events,
    eventsPerSecond: Math.round((events / elapsed) * 1000),
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    maxMs: samples.length === 0 ? 0 : samples[samples.length - 1]!,
    watchersLost: lost,
    rssMb: Math.round(process.memoryUsage().rss / (1024 * 1024)),
  };
}
