// Migration files on disk: locating the migrations folder, parsing names and directives, checksums and the
// gap-free ordering rule. Pure reads; nothing here touches a database.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContimgError } from '../errors.js';

export const SETS = ['state', 'pipeline'] as const;
export type MigrationSet = (typeof SETS)[number];

export function isMigrationSet(s: string): s is MigrationSet {
  return (SETS as readonly string[]).includes(s);
}

export interface Directives {
  irreversible: boolean;
  foreignKeysOff: boolean;
  noTransaction: boolean;
}

export interface MigrationFile {
  version: number;
  name: string;
  upPath: string;
  downPath: string | null;
  up: string;
  down: string | null;
  /** sha256 (hex) of the up file's bytes: what the ledger records. */
  checksum: string;
  directives: Directives;
}

/** A migration folder that breaks the rules (gap, duplicate, bad name, missing down file). Exit 1. */
export class MigrationFileError extends ContimgError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'MIGRATION_FILES', retryable: false, details });
  }
}

export const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$/;
export const SLUG_RE = /^[a-z0-9_]+$/;
export const SNAPSHOT_FILE = 'schema.snapshot.sql';

/**
 * The folder holding migrations/state: found by walking up from this module, so it works from lib/ (tsx)
 * and from dist/lib/ (built) alike. Installs that move the files pass `dir` (CLI: --dir).
 */
export function defaultMigrationsRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'migrations');
    if (fs.existsSync(path.join(candidate, 'state'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new MigrationFileError('cannot find the migrations folder (migrations/state) above lib/');
    dir = parent;
  }
}

export function setDir(set: MigrationSet, root?: string): string {
  return path.join(root ?? defaultMigrationsRoot(), set);
}

export function sha256(text: string | Buffer): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** Directives are `-- contimg:<word>` lines in the leading comment block of the up file. */
export function parseDirectives(sql: string, where: string): Directives {
  const d: Directives = { irreversible: false, foreignKeysOff: false, noTransaction: false };
  for (const raw of sql.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (!line.startsWith('--')) break;
    const m = /^--\s*contimg:(\S+)/.exec(line);
    if (!m) continue;
    if (m[1] === 'irreversible') d.irreversible = true;
    else if (m[1] === 'foreign_keys=off') d.foreignKeysOff = true;
    else if (m[1] === 'no-transaction') d.noTransaction = true;
    else throw new MigrationFileError(`${where}: unknown directive "contimg:${m[1]}"`);
  }
  if (d.noTransaction && d.foreignKeysOff) {
    throw new MigrationFileError(`${where}: contimg:no-transaction cannot be combined with foreign_keys=off`);
  }
  if (
    d.noTransaction &&
    /^\s*(create|alter|drop|insert|update|delete|replace)\b/im.test(stripComments(sql))
  ) {
    // Outside a transaction a failure half-way leaves a half-applied step; keep such files to VACUUM/PRAGMA.
    throw new MigrationFileError(
      `${where}: a contimg:no-transaction file may not mix in DDL or DML statements`,
    );
  }
  return d;
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

/** Read and check one set's folder: numbered from 0001, gap-free, each up with its down (unless irreversible). */
export function loadMigrations(set: MigrationSet, root?: string): MigrationFile[] {
  const dir = setDir(set, root);
  if (!fs.existsSync(dir)) throw new MigrationFileError(`no migrations folder for "${set}": ${dir}`);
  const ups = new Map<number, { name: string; file: string }>();
  const downs = new Map<number, { name: string; file: string }>();
  for (const f of fs.readdirSync(dir).sort()) {
    if (f === SNAPSHOT_FILE || !f.endsWith('.sql')) continue;
    const m = FILE_RE.exec(f);
    if (!m) throw new MigrationFileError(`${set}/${f}: name must be NNNN_slug.up.sql or NNNN_slug.down.sql`);
    const version = Number(m[1]);
    const target = m[3] === 'up' ? ups : downs;
    const prev = target.get(version);
    if (prev) throw new MigrationFileError(`${set}: two ${m[3]} files numbered ${m[1]}: ${prev.file}, ${f}`);
    target.set(version, { name: m[2], file: f });
  }
  const versions = [...ups.keys()].sort((a, b) => a - b);
  const out: MigrationFile[] = [];
  versions.forEach((version, i) => {
    if (version !== i + 1) {
      throw new MigrationFileError(
        `${set}: migrations must be numbered 0001, 0002, … without gaps; found ${pad(version)} after ${pad(i)}`,
      );
    }
    out.push(readPair(set, dir, version, ups.get(version)!, downs.get(version)));
  });
  for (const [version, d] of downs) {
    if (!ups.has(version)) throw new MigrationFileError(`${set}/${d.file}: down file without an up file`);
  }
  return out;
}

function readPair(
  set: MigrationSet,
  dir: string,
  version: number,
  up: { name: string; file: string },
  down: { name: string; file: string } | undefined,
): MigrationFile {
  const upPath = path.join(dir, up.file);
  const upBytes = fs.readFileSync(upPath);
  const upText = upBytes.toString('utf8');
  const directives = parseDirectives(upText, `${set}/${up.file}`);
  if (down && down.name !== up.name) {
    throw new MigrationFileError(`${set}: ${up.file} and ${down.file} must share their slug`);
  }
  if (directives.irreversible && down) {
    throw new MigrationFileError(`${set}/${up.file} is marked contimg:irreversible but has a down file`);
  }
  if (!directives.irreversible && !down) {
    throw new MigrationFileError(
      `${set}/${up.file} has no down file (add one or mark it -- contimg:irreversible)`,
    );
  }
  const downPath = down ? path.join(dir, down.file) : null;
  return {
    version,
    name: up.name,
    upPath,
    downPath,
    up: upText,
    down: downPath ? fs.readFileSync(downPath, 'utf8') : null,
    checksum: sha256(upBytes),
    directives,
  };
}

export function pad(version: number): string {
  return String(version).padStart(4, '0');
}

/** The head version of a set: the highest migration number on disk. */
export function headVersion(set: MigrationSet, root?: string): number {
  return loadMigrations(set, root).length;
}

/** Create the next numbered up/down pair; returns the two paths. */
export function newMigration(set: MigrationSet, slug: string, root?: string): { up: string; down: string } {
  if (!SLUG_RE.test(slug)) throw new MigrationFileError(`slug "${slug}" must match [a-z0-9_]+`);
  const dir = setDir(set, root);
  fs.mkdirSync(dir, { recursive: true });
  const next = pad(loadMigrations(set, root).length + 1);
  const up = path.join(dir, `${next}_${slug}.up.sql`);
  const down = path.join(dir, `${next}_${slug}.down.sql`);
  fs.writeFileSync(
    up,
    `-- ${slug}: describe what this step does and why.\n` +
      `-- Directives (leading comment lines): contimg:irreversible, contimg:foreign_keys=off, contimg:no-transaction.\n` +
      `-- Table rebuilds name their columns explicitly (no INSERT … SELECT *).\n\n`,
    { flag: 'wx' },
  );
  fs.writeFileSync(down, `-- Reverses ${next}_${slug}.up.sql.\n\n`, { flag: 'wx' });
  return { up, down };
}
