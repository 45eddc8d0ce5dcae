// Peer and client URLs as etcd's flags take them ("http://127.0.0.1:2380"), and the host:port
// form gRPC dials and listens on.

export class UrlError extends Error {
  override name = 'UrlError';
}

/** Parses "http://host:port" (also https, or bare host:port) into host:port. */
export function hostPort(url: string, what = 'URL'): string {
  const s = url.trim();
  const m = /^(?:(https?|unix|unixs):\/\/)?([^/?#]+)\/?$/.exec(s);
  if (!m || !m[2]) throw new UrlError(`invalid ${what} "${url}": expected http://host:port`);
  if (m[1] === 'unix' || m[1] === 'unixs') throw new UrlError(`invalid ${what} "${url}": unix sockets are not supported`);
  if (m[1] === 'https') throw new UrlError(`invalid ${what} "${url}": TLS is not supported yet, use http://`);
  const hp = m[2];
  const colon = hp.lastIndexOf(':');
  if (colon <= 0) throw new UrlError(`invalid ${what} "${url}": a port is required`);
  const port = Number(hp.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UrlError(`invalid ${what} "${url}": bad port`);
  return hp;
}

/** Splits a comma-separated URL list, checking each. */
export function parseUrls(list: string, what: string): string[] {
  const urls = list.split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  if (urls.length === 0) throw new UrlError(`${what} is empty`);
  for (const u of urls) hostPort(u, what);
  return urls;
}

/** "n1=http://a:2380,n2=http://b:2380" -> ordered [{name, peerURLs}] (a name may repeat). */
export function parseInitialCluster(s: string): { name: string; peerURLs: string[] }[] {
  const out = new Map<string, string[]>();
  for (const part of s.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UrlError(`invalid --initial-cluster entry "${part}": expected name=http://host:port`);
    const name = part.slice(0, eq);
    const url = part.slice(eq + 1);
    hostPort(url, `--initial-cluster URL of ${name}`);
    out.set(name, [...(out.get(name) ?? []), url]);
  }
  if (out.size === 0) throw new UrlError('--initial-cluster is empty');
  return [...out].map(([name, peerURLs]) => ({ name, peerURLs }));
}
