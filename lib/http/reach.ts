// Where a client reaches a daemon's server (contimg status, the scheduler's /readyz probes). No imports, so
// CLI modules can load it eagerly.

/** Wildcard binds are reached on loopback; an IPv6 literal gets brackets. */
export function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
