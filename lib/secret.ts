// A secret value (a Slack webhook URL, an SMTP password, a webhook token or HMAC key) that cannot be printed by
// accident: JSON, string conversion, util.inspect and lib/config's redact() all see `[redacted]`. Code that
// must use the value calls reveal(), right where it is sent, and never logs the result.
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

export class Secret {
  /** The only enumerable field, so a deep copy of a config (redact(), --print-config) shows it as redacted. */
  readonly redacted = REDACTED;
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

export function isSecret(v: unknown): v is Secret {
  return v instanceof Secret;
}
