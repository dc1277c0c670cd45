// Dashboards as code: every module in ./dashboards exports `file` (the JSON file name under
// ops/grafana/dashboards/) and `build()` (a foundation-SDK DashboardBuilder). Adding a dashboard is adding a
// module there. `npm run ops:generate` writes the JSON; test/ops/dashboards.test.ts fails when the committed
// JSON differs from what this generates.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DASHBOARD_SOURCES = path.join(here, 'dashboards');
export const DASHBOARDS_DIR = path.resolve(here, '..', 'dashboards');

interface DashboardModule {
  file: string;
  build(): { build(): unknown };
}

/** File name → JSON text, for every dashboard module, in file-name order. */
export async function generateDashboards(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const modules = fs
    .readdirSync(DASHBOARD_SOURCES)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  for (const f of modules) {
    const mod = (await import(pathToFileURL(path.join(DASHBOARD_SOURCES, f)).href)) as DashboardModule;
    if (out.has(mod.file)) throw new Error(`${f}: dashboard file ${mod.file} is produced twice`);
    out.set(mod.file, `${JSON.stringify(mod.build().build(), null, 2)}\n`);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}
