// `npm run ops:generate`: write every generated file of the ops package: the Grafana dashboards (from
// ops/grafana/src/dashboards) and ops/prometheus/prometheus.yml (the default install's scrape config, from
// lib/ops/prometheus-config.ts). Tests fail when the committed files differ from this output.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultPrometheusConfig, renderPrometheusConfig } from '../lib/ops/prometheus-config.js';
import { DASHBOARDS_DIR, generateDashboards } from './grafana/src/generate.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROMETHEUS_YML = path.join(here, 'prometheus', 'prometheus.yml');

async function main(): Promise<void> {
  const dashboards = await generateDashboards();
  fs.mkdirSync(DASHBOARDS_DIR, { recursive: true });
  for (const f of fs.readdirSync(DASHBOARDS_DIR))
    if (f.endsWith('.json') && !dashboards.has(f)) fs.rmSync(path.join(DASHBOARDS_DIR, f));
  for (const [f, text] of dashboards) fs.writeFileSync(path.join(DASHBOARDS_DIR, f), text);
  fs.writeFileSync(PROMETHEUS_YML, renderPrometheusConfig(defaultPrometheusConfig()));
  process.stdout.write(`wrote ${dashboards.size} dashboards to ${DASHBOARDS_DIR} and ${PROMETHEUS_YML}\n`);
}

await main();
