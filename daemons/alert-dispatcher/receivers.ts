// Receivers from the config: read each secret from its value or …File (at start; with LoadCredential= only
// this unit can read the files), check what the schema could not (a URL read from a file must be https, or
// http to loopback), and build the channel notifiers. Every problem is reported at once as a ConfigError
// (exit 78) naming the key path, never the secret.
import fs from 'node:fs';
import type { Clock } from '../../lib/clock.js';
import {
  receiverUrlProblem,
  type ReceiverConfig,
} from '../../lib/config/sections/alert-dispatcher-receivers.js';
import { ConfigError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { createNotifier, type Notifier, type ReceiverSecrets } from '../../lib/notifiers/index.js';
import { Secret } from '../../lib/secret.js';

function readFileSecret(file: string, where: string, problems: string[]): Secret | undefined {
  try {
    const v = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (!v) {
      problems.push(`${where}: ${file} is empty`);
      return undefined;
    }
    return new Secret(v);
  } catch (e) {
    problems.push(`${where}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

function pick(
  value: Secret | undefined,
  file: string | undefined,
  where: string,
  problems: string[],
): Secret | undefined {
  if (value) return value;
  return file === undefined ? undefined : readFileSecret(file, `${where}File`, problems);
}

export function receiverSecrets(r: ReceiverConfig, where: string, problems: string[]): ReceiverSecrets {
  switch (r.type) {
    case 'slack':
    case 'webhook': {
      const url = pick(r.url, r.urlFile, `${where}.url`, problems);
      if (url && r.urlFile && !r.url) {
        const why = receiverUrlProblem(url.reveal());
        if (why) problems.push(`${where}.urlFile: the URL in ${r.urlFile}: ${why}`);
      }
      if (r.type === 'slack') return { url };
      return {
        url,
        token: pick(r.token, r.tokenFile, `${where}.token`, problems),
        hmacSecret: pick(r.hmacSecret, r.hmacSecretFile, `${where}.hmacSecret`, problems),
      };
    }
    case 'email': {
      const password = pick(r.smtp.password, r.smtp.passwordFile, `${where}.smtp.password`, problems);
      let ca: string | undefined;
      if (r.smtp.caFile) {
        try {
          ca = fs.readFileSync(r.smtp.caFile, 'utf8');
        } catch (e) {
          problems.push(
            `${where}.smtp.caFile: cannot read ${r.smtp.caFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
          );
        }
      }
      return { password, ca };
    }
    case 'log':
      return {};
  }
}

/** Every receiver's notifier, or a ConfigError listing every unreadable or invalid secret. */
export function buildNotifiers(
  receivers: readonly ReceiverConfig[],
  deps: { clock: Clock; log: Logger },
): { notifiers: Map<string, Notifier>; secrets: Secret[] } {
  const problems: string[] = [];
  const all = receivers.map((r, i) => ({
    r,
    s: receiverSecrets(r, `alertDispatcher.receivers.${i}`, problems),
  }));
  if (problems.length)
    throw new ConfigError(`alertDispatcher.receivers: cannot start\n  ${problems.join('\n  ')}`, problems);
  const secrets: Secret[] = [];
  for (const { s } of all) for (const v of [s.url, s.password, s.token, s.hmacSecret]) if (v) secrets.push(v);
  return { notifiers: new Map(all.map(({ r, s }) => [r.name, createNotifier(r, s, deps)])), secrets };
}

/** What an operator may see about a receiver: never a secret (a URL's host only). */
export function describeReceiver(r: ReceiverConfig): { name: string; type: string; target: string } {
  const host = (u: Secret | undefined, file: string | undefined): string => {
    if (!u) return file ? `(URL in ${file})` : '-';
    try {
      return new URL(u.reveal()).host;
    } catch {
      return '-';
    }
  };
  switch (r.type) {
    case 'slack':
      return { name: r.name, type: r.type, target: host(r.url, r.urlFile) };
    case 'webhook':
      return { name: r.name, type: r.type, target: `${host(r.url, r.urlFile)} (${r.format})` };
    case 'email':
      return { name: r.name, type: r.type, target: `${r.smtp.host}:${r.smtp.port} → ${r.to.join(', ')}` };
    case 'log':
      return { name: r.name, type: r.type, target: `log (${r.level})` };
  }
}
