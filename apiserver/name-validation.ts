// The name and label formats of k8s.io/apimachinery/pkg/util/validation, with the exact messages
// kube-apiserver puts into Invalid causes.

export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;

const LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const SUBDOMAIN_FMT = `${LABEL_FMT}(\\.${LABEL_FMT})*`;
const DNS1035_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const label = new RegExp(`^${LABEL_FMT}$`);
const subdomain = new RegExp(`^${SUBDOMAIN_FMT}$`);
const dns1035 = new RegExp(`^${DNS1035_FMT}$`);

function maxLen(n: number): string {
  return `must be no more than ${n} characters`;
}

/** Empty list: valid. Otherwise the messages, as IsDNS1123Label returns them. */
export function isDns1123Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123_LABEL_MAX) out.push(maxLen(DNS1123_LABEL_MAX));
  if (!label.test(v)) {
    out.push(
      `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${LABEL_FMT}')`,
    );
  }
  return out;
}

export function isDns1123Subdomain(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123_SUBDOMAIN_MAX) out.push(maxLen(DNS1123_SUBDOMAIN_MAX));
  if (!subdomain.test(v)) {
    out.push(
      `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${SUBDOMAIN_FMT}')`,
    );
  }
  return out;
}

export function isDns1035Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123_LABEL_MAX) out.push(maxLen(DNS1123_LABEL_MAX));
  if (!dns1035.test(v)) {
    out.push(
      `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '${DNS1035_FMT}')`,
    );
  }
  return out;
}

/** Names that only have to be usable as one URL path segment (events, ...). */
export function isPathSegmentName(v: string): string[] {
  if (v === '.' || v === '..') return [`may not be '${v}'`];
  const out: string[] = [];
  for (const bad of ['/', '%']) if (v.includes(bad)) out.push(`may not contain '${bad}'`);
  return out;
}

const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const qualifiedName = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const labelValue = new RegExp(`^${LABEL_VALUE_FMT}$`);

/** Label and annotation keys: optional DNS subdomain prefix + "/" + name part. */
export function isQualifiedName(v: string): string[] {
  const parts = v.split('/');
  let name = v;
  const out: string[] = [];
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix.length === 0) out.push('prefix part must be non-empty');
    else for (const m of isDns1123Subdomain(prefix)) out.push(`prefix part ${m}`);
  } else if (parts.length > 2) {
    return [
      `a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME_FMT}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) out.push('name part must be non-empty');
  else if (name.length > 63) out.push('name part must be no more than 63 characters');
  if (name.length > 0 && !qualifiedName.test(name)) {
    out.push(
      `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME_FMT}')`,
    );
  }
  return out;
}

export function isValidLabelValue(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push('must be no more than 63 characters');
  if (!labelValue.test(v)) {
    out.push(
      `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '${LABEL_VALUE_FMT}')`,
    );
  }
  return out;
}

const CONFIG_KEY_FMT = '[-._a-zA-Z0-9]+';
const configKey = new RegExp(`^${CONFIG_KEY_FMT}$`);

/** Keys of ConfigMap/Secret data. */
export function isConfigMapKey(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123_SUBDOMAIN_MAX) out.push(maxLen(DNS1123_SUBDOMAIN_MAX));
  if (!configKey.test(v)) {
    out.push(
      `a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '${CONFIG_KEY_FMT}')`,
    );
  }
  if (v === '.') out.push(`must not be '.'`);
  else if (v === '..') out.push(`must not be '..'`);
  else if (v.startsWith('..')) out.push(`must not start with '..'`);
  return out;
}

const C_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Env var names: since 1.32 any printable ASCII except '='; kept to the long-standing C identifier rule plus '.', '-'. */
export function isEnvVarName(v: string): string[] {
  if (v.length === 0) return ['must not be empty'];
  if (C_IDENT.test(v) || /^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(v)) return [];
  return [
    `a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`,
  ];
}

export function isValidPortNum(p: unknown): boolean {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
}

export function isIPv4(v: string): boolean {
  const parts = v.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}
