// Field builders shared by every config section, so paths, ports and secrets behave the same everywhere.
import path from 'node:path';
import { z } from 'zod';

/** What a section needs to know about where the config file is. */
export interface SchemaContext {
  /** The folder of the config file: relative paths resolve against it. */
  baseDir: string;
  /** The resolved dataDir: default paths of the sections live under it. */
  dataDir: string;
}

/** A path key whose default is a folder or file under dataDir. */
export function dataPath(ctx: SchemaContext, ...parts: string[]) {
  return pathField(ctx).default(path.join(ctx.dataDir, ...parts));
}

/** A filesystem path; relative values are resolved against the config file's folder. */
export function pathField(ctx: SchemaContext) {
  return z
    .string({ error: 'expected a path (string)' })
    .min(1, 'expected a non-empty path')
    .refine((v) => !v.includes('\0'), 'path contains a NUL byte')
    .transform((v) => path.resolve(ctx.baseDir, v));
}

export const portField = (dflt: number) =>
  z.number({ error: 'expected a TCP port number' }).int().min(0).max(65535).default(dflt);

export const seconds = (dflt: number, min = 0) =>
  z.number({ error: 'expected a number of seconds' }).min(min).default(dflt);

/**
 * A secret given as a value or as a file (systemd LoadCredential=), never both. The section schema
 * calls this with the key name; `refineSecret` enforces "not both" on the enclosing object.
 */
export function secretFields<K extends string>(ctx: SchemaContext, key: K) {
  return {
    [key]: z.string().min(1).optional(),
    [`${key}File`]: pathField(ctx).optional(),
  } as { [P in K]: z.ZodOptional<z.ZodString> } & {
    [P in `${K}File`]: z.ZodOptional<ReturnType<typeof pathField>>;
  };
}

export function refineSecret(key: string) {
  return (obj: Record<string, unknown>, refinement: z.RefinementCtx) => {
    if (obj[key] !== undefined && obj[`${key}File`] !== undefined) {
      refinement.addIssue({
        code: 'custom',
        path: [key],
        message: `give either ${key} or ${key}File, not both`,
      });
    }
  };
}
