// Loading: read YAML, parse strictly, name every bad key path, read secret files. Throws ConfigError.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { isSecretKey } from './redact.js';
import { configSchema, dataDirOnly, type Config } from './schema.js';

function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const where = i.path.length ? i.path.map(String).join('.') : '(top level)';
    if (i.code === 'unrecognized_keys') {
      const keys = (i as { keys: string[] }).keys;
      return keys.map((k) => `${i.path.length ? `${where}.` : ''}${k}: unknown key`).join('\n');
    }
    return `${where}: ${i.message}`;
  });
}

/** Parse an already-read object as if it came from a file in baseDir. */
export function parseConfig(raw: unknown, baseDir: string, source = '<inline>'): Config {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${source}: expected a YAML mapping at the top level`, [
      '(top level): expected a mapping',
    ]);
  }
  const first = dataDirOnly(baseDir).safeParse(raw);
  if (!first.success) {
    const issues = formatIssues(first.error.issues);
    throw new ConfigError(`${source}: invalid config\n  ${issues.join('\n  ')}`, issues);
  }
  const parsed = configSchema({ baseDir, dataDir: first.data.dataDir }).safeParse(raw);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error.issues).flatMap((s) => s.split('\n'));
    throw new ConfigError(`${source}: invalid config\n  ${issues.join('\n  ')}`, issues);
  }
  return deepFreeze(parsed.data);
}

export function loadConfigFile(file: string): Config {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `cannot read config file ${abs}: ${(e as Error).message}`,
      [`(file): unreadable`],
      e,
    );
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    // The pretty message quotes the offending lines, which may hold a secret: keep only "what at line, column".
    const what = (e as Error).message.split('\n')[0].replace(/:$/, '');
    throw new ConfigError(`${abs}: YAML syntax error: ${what}`, ['(file): YAML syntax error']);
  }
  return parseConfig(raw ?? {}, path.dirname(abs), abs);
}

/**
 * The value of a secret given as `key` or `keyFile` in a config object. Reads the file each call, so a
 * rotated credential is picked up; trailing newlines are trimmed. Never logs or returns the path's content
 * in an error.
 */
export function readSecret(section: Record<string, unknown>, key: string, where: string): string | undefined {
  if (!isSecretKey(key)) throw new Error(`readSecret: ${key} is not a secret key name`);
  const inline = section[key];
  if (typeof inline === 'string') return inline;
  const file = section[`${key}File`];
  if (typeof file !== 'string') return undefined;
  try {
    return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new ConfigError(
      `${where}.${key}File: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      [`${where}.${key}File: unreadable`],
    );
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
