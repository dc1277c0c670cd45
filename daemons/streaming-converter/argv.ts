// The converter's argv template: placeholders expanded inside each argument, never through a shell.
import { ConfigError } from '../../lib/errors.js';

export const PLACEHOLDERS = ['manifest', 'out', 'result', 'scratch', 'group'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type ArgvVars = Record<Placeholder, string>;

const TOKEN = /\{([a-zA-Z_]+)\}/g;

/** Throw ConfigError naming the key if the template uses a placeholder we do not know. */
export function validateArgvTemplate(template: readonly string[]): void {
  for (const [i, arg] of template.entries()) {
    for (const m of arg.matchAll(TOKEN)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(m[1]))
        throw new ConfigError(`streamingConverter.converter.argv.${i}: unknown placeholder {${m[1]}}`, [
          `streamingConverter.converter.argv.${i}: unknown placeholder {${m[1]}} (known: ${PLACEHOLDERS.join(', ')})`,
        ]);
    }
  }
}

export function expandArgv(template: readonly string[], vars: ArgvVars): string[] {
  return template.map((arg) =>
    arg.replace(TOKEN, (whole, key: string) => (key in vars ? vars[key as Placeholder] : whole)),
  );
}

export function usesPlaceholder(template: readonly string[], key: Placeholder): boolean {
  return template.some((a) => a.includes(`{${key}}`));
}
