// The watch benchmark of issue 8: N HTTP watchers on the pods of one namespace while a writer
// creates and then updates pods at a fixed rate; measures events delivered per second, delivery
// latency (p50/p99, from the write's send time, stamped in an annotation, to the event's arrival
// at a watcher) and memory.
//
// The pieces are separate so that `keelson bench` (suite apiserver-watch) can spread watchers
// over several load-generator processes and write from one of them:
//   preparePodNamespace  creates the namespace, returns the resourceVersion to watch from;
//   PodWatchers          N watches (one HTTP connection each) counting and timing events;
//   writePods            the fixed-rate writer.
// runWatchBenchmark puts them together in one process (the API server's memory is then this
// process's, when the server runs in it too).
//
// The send time is CLOCK_MONOTONIC in ns (process.hrtime): one clock for every process on the
// machine, so a watcher in another process can subtract it.

import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';

export const SENT_AT_ANNOTATION = 'bench.keelson.dev/sent-at';
/** How the annotation appears in an event's JSON (JSON.stringify output: no spaces). */
const SENT_AT_JSON = `"${SENT_AT_ANNOTATION}":"`;
const MAX_ERROR_SAMPLES = 5;
/** Longest event line accepted; a watch sending more without a newline is broken. */
const MAX_LINE_CHARS = 8 * 1024 * 1024;
/** Bound on a writer response body kept for an error message. */
const MAX_ERROR_BODY_CHARS = 300;
const REQUEST_TIMEOUT_MS = 30_000;

export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

class ErrorSamples {
  readonly samples: string[] = [];
  count = 0;
  add(msg: string): void {
    this.count++;
    if (this.samples.length < MAX_ERROR_SAMPLES && !this.samples.includes(msg)) this.samples.push(msg);
  }
}

interface HttpReply {
  status: number;
  body: string;
}

/** One JSON request; the body is read whole (bounded by the server's answers: Status or an object). */
function httpJson(agent: Agent, url: string, method: string, body?: unknown, contentType = 'application/json'): Promise<HttpReply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<HttpReply>((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer after ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Creates `namespace` (or finds it) and returns the resourceVersion of its empty pod list: a
 * watch from there sees every later write exactly once.
 */
export async function preparePodNamespace(url: string, namespace: string): Promise<string> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const created = await httpJson(agent, `${url}/api/v1/namespaces`, 'POST', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    if (created.status !== 201 && created.status !== 409) throw new Error(`cannot create namespace ${namespace}: ${created.status} ${created.body.slice(0, MAX_ERROR_BODY_CHARS)}`);
    const list = await httpJson(agent, `${url}/api/v1/namespaces/${namespace}/pods`, 'GET');
    if (list.status !== 200) throw new Error(`cannot list pods of ${namespace}: ${list.status} ${list.body.slice(0, MAX_ERROR_BODY_CHARS)}`);
    const parsed = JSON.parse(list.body) as { metadata?: { resourceVersion?: string }; items?: unknown[] };
    if ((parsed.items ?? []).length > 0) throw new Error(`namespace ${namespace} already holds pods: use a fresh one`);
    const rv = parsed.metadata?.resourceVersion;
    if (rv === undefined || !/^\d+$/.test(rv)) throw new Error(`pod list of ${namespace} has no resourceVersion`);
    return rv;
  } finally {
    agent.destroy();
  }
}

export interface PodWatchersOptions {
  url: string;
  namespace: string;
  /** Watch from here (preparePodNamespace). */
  resourceVersion: string;
  count: number;
  /** Called for every ADDED/MODIFIED event with its latency in ns (undefined: no send time in it). */
  onEvent?: (latencyNs: number | undefined) => void;
}

/** N HTTP watches on the pods of one namespace, each on its own connection. */
export class PodWatchers {
  /** ADDED/MODIFIED events received, per watcher and in all. */
  readonly perWatcher: number[];
  events = 0;
  /** Watches whose stream ended (or failed) before close(), in all and which. */
  lost = 0;
  readonly ended: boolean[];
  /** ERROR events, failed or refused watches, unparsable lines. */
  readonly errors = new ErrorSamples();
  private readonly requests: ClientRequest[] = [];
  private closing = false;
  /** Called after each received chunk (cheap: the caller checks its own condition). */
  onChange: (() => void) | undefined;

  constructor(private readonly o: PodWatchersOptions) {
    if (!(Number.isInteger(o.count) && o.count >= 0 && o.count <= 10_000)) throw new RangeError('PodWatchers: count must be 0..10000');
    this.perWatcher = new Array<number>(o.count).fill(0);
    this.ended = new Array<boolean>(o.count).fill(false);
  }

  /** Opens every watch; resolves when each has answered 200 (events flow from then on). */
  async open(): Promise<void> {
    const path = `/api/v1/namespaces/${encodeURIComponent(this.o.namespace)}/pods?watch=1&resourceVersion=${this.o.resourceVersion}`;
    await Promise.all(Array.from({ length: this.o.count }, (_, i) => this.openOne(i, this.o.url + path)));
  }

  private openOne(i: number, url: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // agent: false — a connection of its own, never pooled or reused.
      const req = request(url, { agent: false }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`watch ${i} refused: HTTP ${res.statusCode}`));
          return;
        }
        resolve();
        this.consume(i, res);
      });
      req.on('error', (err) => {
        if (this.closing) return resolve();
        this.errors.add(`watch ${i}: ${err.message}`);
        reject(err);
      });
      req.end();
      this.requests.push(req);
    });
  }

  private consume(i: number, res: IncomingMessage): void {
    let pending = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      let text = pending + chunk;
      let start = 0;
      let nl: number;
      while ((nl = text.indexOf('\n', start)) >= 0) {
        this.line(i, text, start, nl);
        start = nl + 1;
      }
      pending = start === 0 ? text : text.slice(start);
      text = '';
      if (pending.length > MAX_LINE_CHARS) {
        this.errors.add(`watch ${i}: an event longer than ${MAX_LINE_CHARS} characters`);
        res.destroy();
      }
      this.onChange?.();
    });
    res.on('error', () => undefined); // 'close' follows and counts it
    res.on('close', () => {
      if (this.closing) return;
      this.ended[i] = true;
      this.lost++;
      this.onChange?.();
    });
  }

  /** One event: text[start, end). Reads type and send time without parsing the whole object. */
  private line(i: number, text: string, start: number, end: number): void {
    if (end === start) return;
    const now = monotonicNs();
    const head = '{"type":"';
    let type: string;
    if (text.startsWith(head, start)) {
      const q = text.indexOf('"', start + head.length);
      type = q < 0 || q > end ? '' : text.slice(start + head.length, q);
    } else {
      type = '';
    }
    if (type === 'BOOKMARK') return;
    if (type !== 'ADDED' && type !== 'MODIFIED') {
      this.errors.add(`watch ${i}: ${this.describe(text.slice(start, end))}`);
      return;
    }
    this.perWatcher[i]!++;
    this.events++;
    let latency: number | undefined;
    const at = text.indexOf(SENT_AT_JSON, start);
    if (at >= 0 && at < end) {
      const from = at + SENT_AT_JSON.length;
      const sent = Number(text.slice(from, text.indexOf('"', from)));
      if (Number.isFinite(sent) && sent > 0) latency = now - sent;
    }
    this.o.onEvent?.(latency);
  }

  private describe(line: string): string {
    try {
      const ev = JSON.parse(line) as { type?: string; object?: { message?: string; code?: number } };
      if (ev.type === 'ERROR') return `ERROR event: ${ev.object?.code ?? ''} ${ev.object?.message ?? ''}`.trim();
      return `unexpected ${ev.type ?? 'untyped'} event`;
    } catch {
      return `not JSON: ${line.slice(0, 80)}`;
    }
  }

  /** Watchers that are through: got n events (or more), or ended. */
  settled(n: number): number {
    let c = 0;
    for (let i = 0; i < this.perWatcher.length; i++) if (this.perWatcher[i]! >= n || this.ended[i]) c++;
    return c;
  }

  close(): void {
    this.closing = true;
    for (const r of this.requests) r.destroy();
  }
}

export interface PodWriterOptions {
  url: string;
  namespace: string;
  writesPerSecond: number;
  /** Writes in all: the first `pods` create pods, the rest update them round-robin. */
  writes: number;
  pods: number;
  /** Bound on writes in flight (default 64): a slow server slows the writer instead of queueing. */
  maxInFlight?: number;
  /** Stops early when this says so (checked before each write). */
  stop?: () => boolean;
  /** Called when a write is answered (ok: 2xx), with its send and answer times (monotonic ns). */
  onAnswer?: (sentNs: number, answeredNs: number, ok: boolean) => void;
}

export interface PodWriterResult {
  /** Writes the server accepted. */
  writes: number;
  /** Writes the server answered with an error, or not at all. */
  failedWrites: number;
  errors: string[];
  /** Send time of the first write and answer time of the last one (monotonic ns; 0 if none). */
  firstSentNs: number;
  lastDoneNs: number;
}

export async function writePods(o: PodWriterOptions): Promise<PodWriterResult> {
  if (!(o.writesPerSecond > 0 && o.writesPerSecond <= 10_000)) throw new RangeError('writesPerSecond must be in (0, 10000]');
  if (!(Number.isInteger(o.pods) && o.pods >= 1 && o.pods <= 100_000)) throw new RangeError('pods must be 1..100000');
  if (!(Number.isInteger(o.writes) && o.writes >= 0)) throw new RangeError('writes must be a whole number');
  const maxInFlight = o.maxInFlight ?? 64;
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
  const base = `${o.url}/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods`;
  const errors = new ErrorSamples();
  const out = { writes: 0, failedWrites: 0, firstSentNs: 0, lastDoneNs: 0 };
  const inflight = new Set<Promise<void>>();
  const intervalNs = 1e9 / o.writesPerSecond;
  const start = monotonicNs();
  try {
    for (let i = 0; i < o.writes; i++) {
      if (o.stop?.()) break;
      // Open loop: write i is due at start + i/rate; behind schedule, it goes at once.
      const waitMs = (start + i * intervalNs - monotonicNs()) / 1e6;
      if (waitMs > 0) await sleep(waitMs);
      // Updates of a pod must not overtake its create: the creates complete first.
      if (i === o.pods) await Promise.all(inflight);
      const name = `bench-${i % o.pods}`;
      const sent = monotonicNs();
      if (out.firstSentNs === 0) out.firstSentNs = sent;
      const annotations = { [SENT_AT_ANNOTATION]: String(sent) };
      const call =
        i < o.pods
          ? httpJson(agent, base, 'POST', { apiVersion: 'v1', kind: 'Pod', metadata: { name, annotations }, spec: { containers: [{ name: 'c', image: 'bench' }] } })
          : httpJson(agent, `${base}/${name}`, 'PATCH', { metadata: { annotations } }, 'application/merge-patch+json');
      const tracked: Promise<void> = call
        .then(
          (r) => {
            if (r.status < 300) out.writes++;
            else {
              out.failedWrites++;
              errors.add(`write ${i < o.pods ? 'POST' : 'PATCH'} ${name}: HTTP ${r.status} ${r.body.slice(0, MAX_ERROR_BODY_CHARS)}`);
            }
          },
          (err: Error) => {
            out.failedWrites++;
            errors.add(`write ${name}: ${err.message}`);
          },
        )
        .finally(() => {
          out.lastDoneNs = monotonicNs();
          inflight.delete(tracked);
        });
      if (o.onAnswer) {
        const onAnswer = o.onAnswer;
        void call.then(
          (r) => onAnswer(sent, monotonicNs(), r.status < 300),
          () => onAnswer(sent, monotonicNs(), false),
        );
      }
      inflight.add(tracked);
      if (inflight.size >= maxInFlight) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  } finally {
    agent.destroy();
  }
  return { ...out, errors: errors.samples };
}

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

/** Latency samples kept (a bound on memory for long runs; later samples replace at random). */
const MAX_SAMPLES = 200_000;
/** After the last write, events still on their way get this long. */
const DRAIN_MS = 10_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runWatchBenchmark(o: WatchBenchmarkOptions): Promise<WatchBenchmarkResult> {
  if (!(o.watchers >= 1 && o.watchers <= 10_000)) throw new RangeError('watchers must be 1..10000');
  if (!(o.writesPerSecond > 0 && o.writesPerSecond <= 10_000)) throw new RangeError('writesPerSecond must be 1..10000');
  const rv = await preparePodNamespace(o.url, o.namespace);
  const samples: number[] = [];
  const watchers = new PodWatchers({
    url: o.url,
    namespace: o.namespace,
    resourceVersion: rv,
    count: o.watchers,
    onEvent: (ns) => {
      if (ns === undefined) return;
      const ms = ns / 1e6;
      if (samples.length < MAX_SAMPLES) samples.push(ms);
      else samples[Math.floor(Math.random() * MAX_SAMPLES)] = ms;
    },
  });
  try {
    await watchers.open();
    const start = monotonicNs();
    const w = await writePods({
      url: o.url,
      namespace: o.namespace,
      writesPerSecond: o.writesPerSecond,
      writes: Math.ceil((o.durationMs / 1000) * o.writesPerSecond),
      pods: o.pods ?? 50,
    });
    const expected = w.writes * o.watchers;
    for (let i = 0; i < DRAIN_MS / 20 && watchers.events < expected && watchers.lost === 0; i++) await sleep(20);
    const elapsedMs = (monotonicNs() - start) / 1e6;
    samples.sort((a, b) => a - b);
    const round = (ms: number) => Math.round(ms * 100) / 100;
    return {
      writes: w.writes,
      failedWrites: w.failedWrites,
      events: watchers.events,
      eventsPerSecond: Math.round((watchers.events / elapsedMs) * 1000),
      p50Ms: round(percentile(samples, 50)),
      p99Ms: round(percentile(samples, 99)),
      maxMs: round(samples.length === 0 ? 0 : samples[samples.length - 1]!),
      watchersLost: watchers.lost,
      rssMb: Math.round(process.memoryUsage().rss / (1024 * 1024)),
    };
  } finally {
    watchers.close();
  }
}
