// Redaction of secrets for every place a config is printed: --print-config, logs, errors, API output.
import { SECRET_KEY_PATTERN } from './fields.js';

export const REDACTED = '[redacted]';

export function isSecretKey(key: string): boolean {
  return SECRET_KEY_PATTERN.test(key);
}

/** A deep copy with every secret value replaced; `…File` paths are kept (they are not secrets). */
export function redact<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redact(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = isSecretKey(k) && v !== undefined && v !== null ? REDACTED : redact(v);
    }
    return out as T;
  }
  return value;
}
