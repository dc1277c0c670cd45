// Which modules a process loads: a module-resolution hook (node:module register) that appends every resolved
// URL to a trace file, for tests that pin lazy loading (the CLI's commands, an idle daemon's heavy modules).
// `%p` in the trace file's name becomes the pid, so a process tree (contimg dev and its daemons) leaves one
// trace per process.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './tmp.js';

const HOOKS = `import fs from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  fs.appendFileSync(process.env.CONTIMG_TRACE_FILE.replace('%p', String(process.pid)), r.url + '\\n');
  return r;
}
`;

/** Write the hook into dir; returns the environment that makes a node process (and its children) trace. */
export function moduleTraceEnv(dir: string, traceFile: string): Record<string, string> {
  fs.writeFileSync(path.join(dir, 'trace-hooks.mjs'), HOOKS);
  fs.writeFileSync(
    path.join(dir, 'trace-register.mjs'),
    `import { register } from 'node:module';\nregister('./trace-hooks.mjs', import.meta.url);\n`,
  );
  const hook = pathToFileURL(path.join(dir, 'trace-register.mjs')).href;
  return { CONTIMG_TRACE_FILE: traceFile, NODE_OPTIONS: `--import ${hook}` };
}

export interface LoadedModules {
  /** Files of this repository (dist/..., no node_modules), sorted. */
  files: string[];
  /** node_modules packages (a scope counts as one: `@slack`), sorted. */
  packages: string[];
}

/** The repository files and packages a trace file lists (empty if the process loaded nothing yet). */
export function readModuleTrace(traceFile: string): LoadedModules {
  const text = fs.existsSync(traceFile) ? fs.readFileSync(traceFile, 'utf8') : '';
  const urls = [...new Set(text.split('\n').filter((u) => u.startsWith('file://')))];
  const root = pathToFileURL(REPO_ROOT).href + '/';
  const inRepo = urls.filter((u) => u.startsWith(root)).map((u) => u.slice(root.length));
  const packages = [
    ...new Set(inRepo.filter((f) => f.startsWith('node_modules/')).map((f) => f.split('/')[1])),
  ].sort();
  return { files: inRepo.filter((f) => !f.startsWith('node_modules/')).sort(), packages };
}
