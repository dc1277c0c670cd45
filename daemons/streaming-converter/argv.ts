// The converter's argv template: placeholders expanded inside each argument, never through a shell.
// The schema (lib/config) rejects unknown placeholders first, so `contimg check-config` and the daemon agree;
// validateArgvTemplate is the same check for templates that did not come through the schema.
import {
  ARGV_PLACEHOLDERS,
  PLACEHOLDER_TOKEN as TOKEN,
  unknownPlaceholders,
  type ArgvPlaceholder,
} from '../../lib/config/sections/streaming-converter.js';
import { ConfigError } from '../../lib/errors.js';

export const PLACEHOLDERS = ARGV_PLACEHOLDERS;
export type Placeholder = ArgvPlaceholder;
export type ArgvVars = Record<Placeholder, string>;

/** Throw ConfigError naming the key if the template uses a placeholder we do not know. */
export function validateArgvTemplate(template: readonly string[]): void {
  const issues = unknownPlaceholders(template).map(
    (u) => `streamingConverter.converter.argv.${u.index}: ${u.message}`,
  );
  if (issues.length) throw new ConfigError(issues.join('; '), issues);
}

export function expandArgv(template: readonly string[], vars: ArgvVars): string[] {
  return template.map((arg) =>
    arg.replace(TOKEN, (whole, key: string) => (key in vars ? vars[key as Placeholder] : whole)),
  );
}

export function usesPlaceholder(template: readonly string[], key: Placeholder): boolean {
  return template.some((a) => a.includes(`{${key}}`));
}
