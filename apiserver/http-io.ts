// Reading request bodies (bounded, decoded by media type) and writing responses (JSON, Status
// objects for errors), plus the Accept-header negotiation kube-apiserver does for Table and
// PartialObjectMetadata output.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, Errors, type Status } from './status-error.js';
import { decodeProtobufBody, ProtobufBodyError } from './protobuf-body.js';
import { parseYaml, YamlError } from './yaml.js';

/** kube-apiserver's limit on request bodies (3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export type BodyKind = 'json' | 'yaml' | 'protobuf' | 'json-patch' | 'merge-patch' | 'strategic-merge-patch' | 'apply-patch';

export function mediaTypeOf(req: IncomingMessage): string {
  const ct = req.headers['content-type'];
  return (ct ?? '').split(';')[0]!.trim().toLowerCase();
}

export function bodyKindOf(mediaType: string): BodyKind | undefined {
  switch (mediaType) {
    case 'application/json':
    case '':
      return 'json';
    case 'application/yaml':
    case 'application/x-yaml':
    case 'text/yaml':
      return 'yaml';
    case 'application/vnd.kubernetes.protobuf':
      return 'protobuf';
    case 'application/json-patch+json':
      return 'json-patch';
    case 'application/merge-patch+json':
      return 'merge-patch';
    case 'application/strategic-merge-patch+json':
      return 'strategic-merge-patch';
    case 'application/apply-patch+yaml':
      return 'apply-patch';
    default:
      return undefined;
  }
}

/** Reads the whole body, refusing more than `limit` bytes (413, nothing is processed). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(Errors.tooLarge(`Request entity too large: limit is ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(Errors.tooLarge(`Request entity too large: limit is ${limit}`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(Errors.badRequest(`error reading the request body: ${err.message}`));
      failed = true;
    });
  });
}

/** Parses a JSON or YAML body; malformed input is a 400 naming the problem. */
export function decodeBody(buf: Buffer, kind: BodyKind): unknown {
  if (kind === 'protobuf') {
    try {
      return decodeProtobufBody(buf);
    } catch (err) {
      if (err instanceof ProtobufBodyError) throw Errors.badRequest(err.message);
      throw err;
    }
  }
  const text = buf.toString('utf8');
  if (text.trim() === '') throw Errors.badRequest('the request body is empty');
  if (kind === 'yaml' || kind === 'apply-patch') {
    try {
      return parseYaml(text);
    } catch (err) {
      if (err instanceof YamlError) throw Errors.badRequest(`error converting YAML to JSON: ${err.message}`);
      throw err;
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw Errors.badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

// ---- output negotiation ----

export type OutputForm =
  | { as: 'object' }
  | { as: 'table' }
  | { as: 'partial'; list: boolean };

/** Table / PartialObjectMetadata(List) when the Accept header asks for them first; else plain JSON. */
export function negotiateOutput(accept: string | undefined): OutputForm | 'not-acceptable' {
  if (accept === undefined || accept.trim() === '') return { as: 'object' };
  let sawAcceptable = false;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const p = new Map(params.map((x) => x.split('=').map((y) => y.trim()) as [string, string]));
    const t = (type ?? '').toLowerCase();
    if (t !== 'application/json' && t !== '*/*' && t !== 'application/*' && t !== 'application/yaml') continue;
    sawAcceptable = true;
    const as = p.get('as');
    if (as === undefined) return { as: 'object' };
    if (p.get('g') !== 'meta.k8s.io' || (p.get('v') !== 'v1' && p.get('v') !== 'v1beta1')) continue;
    if (as === 'Table') return { as: 'table' };
    if (as === 'PartialObjectMetadata') return { as: 'partial', list: false };
    if (as === 'PartialObjectMetadataList') return { as: 'partial', list: true };
  }
  return sawAcceptable ? { as: 'object' } : 'not-acceptable';
}

export function sendJson(res: ServerResponse, code: number, body: unknown, pretty = false, contentType = 'application/json'): void {
  const text = pretty ? JSON.stringify(body, null, 2) + '\n' : JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, private',
  });
  res.end(text);
}

export function sendStatus(res: ServerResponse, err: ApiError, pretty = false): void {
  const s: Status = err.status;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (s.details?.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(s.details.retryAfterSeconds));
  sendJson(res, s.code, s, pretty);
}

export function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}
