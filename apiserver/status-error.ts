// Errors as values that carry their Kubernetes `Status` (metav1.Status): every failure the API
// server answers is one of these, with the reason, code and message kube-apiserver uses
// (k8s.io/apimachinery/pkg/api/errors), so clients that match on reason/code keep working.

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'ServerTimeout'
  | 'Timeout'
  | 'TooManyRequests'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'InternalError'
  | 'Expired'
  | 'ServiceUnavailable'
  | '';

export type CauseType =
  | 'FieldValueNotFound'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'InternalError'
  | 'FieldValueTypeInvalid'
  | 'UnexpectedServerResponse'
  | 'FieldManagerConflict'
  | 'ResourceVersionTooLarge';

export interface StatusCause {
  reason: CauseType;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string; resourceVersion?: string };
  status: 'Success' | 'Failure';
  message: string;
  reason: StatusReason;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly status: Status) {
    super(status.message);
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): StatusReason {
    return this.status.reason;
  }
}

/** group/resource as Kubernetes prints it in messages: `pods`, `deployments.apps`. */
export interface GroupResource {
  group: string;
  resource: string;
}

export function qualified(gr: GroupResource): string {
  return gr.group === '' ? gr.resource : `${gr.resource}.${gr.group}`;
}

function failure(code: number, reason: StatusReason, message: string, details?: StatusDetails): ApiError {
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details !== undefined) status.details = details;
  return new ApiError(status);
}

export function successStatus(details?: StatusDetails): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', message: '', reason: '', code: 200 };
  if (details !== undefined) s.details = details;
  return s;
}

export const Errors = {
  notFound: (gr: GroupResource, name: string): ApiError =>
    failure(404, 'NotFound', `${qualified(gr)} "${name}" not found`, { name, group: gr.group, kind: gr.resource }),
  alreadyExists: (gr: GroupResource, name: string): ApiError =>
    failure(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, {
      name,
      group: gr.group,
      kind: gr.resource,
    }),
  conflict: (gr: GroupResource, name: string, why: string): ApiError =>
    failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, {
      name,
      group: gr.group,
      kind: gr.resource,
    }),
  /** The optimistic-concurrency conflict, with kube-apiserver's exact wording. */
  modified: (gr: GroupResource, name: string): ApiError =>
    Errors.conflict(
      gr,
      name,
      'the object has been modified; please apply your changes to the latest version and try again',
    ),
  invalid: (kind: string, group: string, name: string, causes: FieldError[]): ApiError => {
    const msgs = causes.map(fieldErrorString);
    const agg = msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`;
    return failure(422, 'Invalid', `${kind}${group === '' ? '' : `.${group}`} "${name}" is invalid: ${agg}`, {
      name,
      group,
      kind,
      causes: causes.map((c) => ({ reason: c.type, message: fieldErrorBody(c), field: c.field })),
    });
  },
  badRequest: (message: string): ApiError => failure(400, 'BadRequest', message),
  /** A JSON patch that does not apply: kube-apiserver's generic 422 with the reason as a cause. */
  patchFailed: (message: string): ApiError =>
    failure(422, 'Invalid', 'the server rejected our request due to an error in our request', {
      causes: [{ reason: 'UnexpectedServerResponse', message, field: '' }],
    }),
  forbidden: (gr: GroupResource, name: string, why: string): ApiError =>
    failure(403, 'Forbidden', `${qualified(gr)} "${name}" is forbidden: ${why}`, {
      name,
      group: gr.group,
      kind: gr.resource,
    }),
  methodNotSupported: (gr: GroupResource, action: string): ApiError =>
    failure(405, 'MethodNotAllowed', `${action} is not supported on resources of kind "${qualified(gr)}"`, {
      group: gr.group,
      kind: gr.resource,
    }),
  gone: (message: string): ApiError => failure(410, 'Gone', message),
  expired: (message: string): ApiError => failure(410, 'Expired', message),
  tooLarge: (message: string): ApiError => failure(413, 'RequestEntityTooLarge', message),
  unsupportedMediaType: (accepted: readonly string[]): ApiError =>
    failure(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
    ),
  notAcceptable: (message: string): ApiError => failure(406, 'NotAcceptable', message),
  timeout: (message: string, retryAfterSeconds: number): ApiError =>
    failure(504, 'Timeout', message, { retryAfterSeconds }),
  tooManyRequests: (message: string): ApiError => failure(429, 'TooManyRequests', message, { retryAfterSeconds: 1 }),
  internal: (message: string): ApiError =>
    failure(500, 'InternalError', `Internal error occurred: ${message}`, {
      causes: [{ reason: 'UnexpectedServerResponse' as CauseType, message, field: '' }],
    }),
  serviceUnavailable: (message: string): ApiError => failure(503, 'ServiceUnavailable', message),
  /** 404 for a URL that names no resource (kube-apiserver's plain "the server could not find the requested resource"). */
  noRoute: (): ApiError => failure(404, 'NotFound', 'the server could not find the requested resource', {}),
};

// ---- field errors (k8s.io/apimachinery/pkg/util/validation/field) ----

export interface FieldError {
  type: CauseType;
  field: string;
  /** The offending value, printed as Kubernetes prints it; absent for Required/Forbidden. */
  value?: unknown;
  hasValue: boolean;
  detail: string;
}

function typeString(t: CauseType): string {
  switch (t) {
    case 'FieldValueNotFound':
      return 'Not found';
    case 'FieldValueRequired':
      return 'Required value';
    case 'FieldValueDuplicate':
      return 'Duplicate value';
    case 'FieldValueInvalid':
      return 'Invalid value';
    case 'FieldValueNotSupported':
      return 'Unsupported value';
    case 'FieldValueForbidden':
      return 'Forbidden';
    case 'FieldValueTooLong':
      return 'Too long';
    case 'FieldValueTooMany':
      return 'Too many';
    case 'FieldValueTypeInvalid':
      return 'Invalid value';
    default:
      return 'Internal error';
  }
}

function printValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'null';
  return JSON.stringify(v);
}

/** "Invalid value: \"Foo\": detail" — the cause's message. */
export function fieldErrorBody(e: FieldError): string {
  let s = typeString(e.type);
  if (e.hasValue && e.type !== 'FieldValueRequired' && e.type !== 'FieldValueForbidden') s += `: ${printValue(e.value)}`;
  if (e.detail !== '') s += `: ${e.detail}`;
  return s;
}

/** "spec.x: Invalid value: ..." — how the field error reads inside a Status message. */
export function fieldErrorString(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

export const Field = {
  required: (field: string, detail = ''): FieldError => ({ type: 'FieldValueRequired', field, hasValue: false, detail }),
  invalid: (field: string, value: unknown, detail: string): FieldError => ({
    type: 'FieldValueInvalid',
    field,
    value,
    hasValue: true,
    detail,
  }),
  notSupported: (field: string, value: unknown, supported: readonly string[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field,
    value,
    hasValue: true,
    detail: `supported values: ${[...supported].sort().map((s) => JSON.stringify(s)).join(', ')}`,
  }),
  forbidden: (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, hasValue: false, detail }),
  duplicate: (field: string, value: unknown): FieldError => ({
    type: 'FieldValueDuplicate',
    field,
    value,
    hasValue: true,
    detail: '',
  }),
  tooLong: (field: string, value: unknown, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field,
    value,
    hasValue: false,
    detail: `may not be more than ${max} bytes`,
  }),
  typeInvalid: (field: string, value: unknown, detail: string): FieldError => ({
    type: 'FieldValueTypeInvalid',
    field,
    value,
    hasValue: true,
    detail,
  }),
};

/** Maps anything thrown inside a handler to an ApiError (unknown errors become 500 InternalError). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return Errors.internal(msg);
}
