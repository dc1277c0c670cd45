// Redaction for config output: the rules live in lib/redact (the one redaction helper); this adds the one
// thing that needs the file system, reading the secret files a config points at so their contents can be
// scrubbed from free text too.
import fs from 'node:fs';
import { collectSecrets, redact, REDACTED, isSecretKey, SecretScrubber } from '../redact.js';

export { redact, REDACTED, isSecretKey };

/** Every secret value a loaded config holds or points at (unreadable secret files are skipped). */
export function knownSecrets(config: unknown): string[] {
  return collectSecrets(config, (file) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  });
}

/** A scrubber that knows every secret of this config: for log lines and error texts. */
export function configScrubber(config: unknown): SecretScrubber {
  return new SecretScrubber(knownSecrets(config));
}
