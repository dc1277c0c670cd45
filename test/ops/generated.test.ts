// Generated ops files are what the code generates (a CI drift check), and what they contain holds together:
// dashboards with fixed, unique uids that query the provisioned datasource with PromQL that parses; the
// default prometheus.yml scraping every daemon of the daemon table; `contimg prometheus-config` for a
// token-protected, non-default install passing `promtool check config`.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { DAEMONS } from '../../lib/daemon/types.js';
import {
  defaultPrometheusConfig,
  renderPrometheusConfig,
  type PrometheusConfig,
} from '../../lib/ops/prometheus-config.js';
import { DASHBOARDS_DIR as GENERATED_DIR, generateDashboards } from '../../ops/grafana/src/generate.js';
import { runCli } from '../helpers/cli.js';
import { makeTmpDir, removeTmpDir, REPO_ROOT } from '../helpers/tmp.js';
import {
  dashboardQueries,
  DASHBOARDS_DIR,
  loadDashboards,
  OPS,
  ruleFiles,
  runTool,
  selectors,
} from './helpers.js';

const PROVISIONING = path.join(OPS, 'grafana', 'provisioning');

describe('Grafana dashboards (generated from ops/grafana/src)', () => {
  it('the committed JSON is exactly what the generator writes (run `npm run ops:generate`)', async () => {
    expect(GENERATED_DIR).toBe(DASHBOARDS_DIR);
    const generated = await generateDashboards();
    const committed = fs.readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json'));
    expect(committed.sort()).toEqual([...generated.keys()].sort());
    for (const [file, text] of generated)
      expect(fs.readFileSync(path.join(DASHBOARDS_DIR, file), 'utf8'), `${file} is stale`).toBe(text);
  });

  it('has the part-1 dashboards with fixed, unique uids and the contimg tag', () => {
    const boards = loadDashboards();
    const uids = boards.map((b) => b.json.uid as string);
    expect(uids).toEqual(
      expect.arrayContaining([
        'contimg-overview',
        'contimg-converter',
        'contimg-pointing',
        'contimg-platform',
      ]),
    );
    expect(new Set(uids).size).toBe(uids.length);
    for (const b of boards) {
      expect(b.file).toBe(`${b.json.uid as string}.json`);
      expect(b.json.tags).toContain('contimg');
      expect(b.json.id ?? null).toBeNull();
    }
  });

  it('every panel queries the provisioned datasource with PromQL that parses', () => {
    const ds = YAML.parse(
      fs.readFileSync(path.join(PROVISIONING, 'datasources', 'contimg.yaml'), 'utf8'),
    ) as {
      datasources: { uid: string; type: string }[];
    };
    const uid = ds.datasources[0].uid;
    expect(ds.datasources[0].type).toBe('prometheus');
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(30);
    for (const q of queries) expect(selectors(q.expr).length, `${q.file} "${q.panel}"`).toBeGreaterThan(0);
    for (const { file, json } of loadDashboards()) {
      const walk = (panels: { datasource?: { uid: string }; panels?: unknown[]; type?: string }[]): void => {
        for (const p of panels ?? []) {
          if (p.type !== 'row') expect(p.datasource?.uid, `${file}: a panel`).toBe(uid);
          walk((p.panels ?? []) as typeof panels);
        }
      };
      walk(json.panels as Parameters<typeof walk>[0]);
    }
  });

  it('the dashboard provider reads the folder deploy.md installs them in', () => {
    const p = YAML.parse(fs.readFileSync(path.join(PROVISIONING, 'dashboards', 'contimg.yaml'), 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(p.providers[0].type).toBe('file');
    expect(p.providers[0].options.path).toBe('/opt/contimg/ops/grafana/dashboards');
    expect(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8')).toContain('/opt/contimg');
  });
});

describe('Prometheus configuration', () => {
  it('the committed prometheus.yml is the generator output for the default install', () => {
    const committed = fs.readFileSync(path.join(OPS, 'prometheus', 'prometheus.yml'), 'utf8');
    expect(committed).toBe(renderPrometheusConfig(defaultPrometheusConfig()));
  });

  it('scrapes every daemon of the daemon table by name on loopback and alerts the dispatcher', () => {
    const cfg = YAML.parse(
      fs.readFileSync(path.join(OPS, 'prometheus', 'prometheus.yml'), 'utf8'),
    ) as PrometheusConfig;
    const jobs = cfg.scrape_configs as {
      job_name: string;
      static_configs: { targets: string[]; labels: Record<string, string> }[];
    }[];
    expect(jobs.map((j) => j.job_name)).toEqual(Object.keys(DAEMONS));
    for (const j of jobs) {
      const name = j.job_name as keyof typeof DAEMONS;
      expect(j.static_configs).toEqual([
        { targets: [`127.0.0.1:${DAEMONS[name].port}`], labels: { system: 'contimg' } },
      ]);
    }
    expect(JSON.stringify(cfg.alerting)).toContain(`127.0.0.1:${DAEMONS['alert-dispatcher'].port}`);
  });

  it('contimg prometheus-config: ports, a wildcard bind and a token file from the contimg config; promtool accepts it', async () => {
    const dir = makeTmpDir('contimg-promcfg-');
    try {
      const token = path.join(dir, 'http-token');
      fs.writeFileSync(token, 'secret-token-value\n', { mode: 0o600 });
      const config = path.join(dir, 'contimg.yaml');
      fs.writeFileSync(
        config,
        YAML.stringify({
          dataDir: dir,
          databases: { state: 'state.sqlite3', pipeline: 'pipeline.sqlite3' },
          http: { host: '0.0.0.0', tokenFile: token },
          streamingConverter: { port: 19310 },
          thumbnailWorker: { port: 19314 },
        }),
      );
      const promToken = path.join(dir, 'prometheus-token');
      fs.writeFileSync(promToken, 'secret-token-value\n');
      const r = await runCli(['prometheus-config', '--config', config, '--token-file', promToken], {
        built: true,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toContain('secret-token-value');
      const cfg = YAML.parse(r.stdout) as PrometheusConfig;
      const jobs = cfg.scrape_configs as {
        job_name: string;
        authorization: { credentials_file: string };
        static_configs: { targets: string[] }[];
      }[];
      const byName = Object.fromEntries(jobs.map((j) => [j.job_name, j]));
      expect(byName['streaming-converter'].static_configs[0].targets).toEqual(['127.0.0.1:19310']);
      expect(byName['thumbnail-worker'].static_configs[0].targets).toEqual(['127.0.0.1:19314']);
      expect(byName['pointing-monitor'].static_configs[0].targets).toEqual(['127.0.0.1:9311']);
      for (const j of jobs) expect(j.authorization.credentials_file).toBe(promToken);
      expect(JSON.stringify(cfg.alerting)).toContain(promToken);

      fs.mkdirSync(path.join(dir, 'rules'));
      for (const f of fs.readdirSync(path.join(OPS, 'prometheus', 'rules')))
        fs.copyFileSync(path.join(OPS, 'prometheus', 'rules', f), path.join(dir, 'rules', f));
      const file = path.join(dir, 'prometheus.yml');
      fs.writeFileSync(file, r.stdout);
      const check = await runTool('promtool', ['check', 'config', file]);
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toContain(`SUCCESS: ${ruleFiles().length} rule files found`);

      // Without a token in the contimg config and on loopback, no credentials are asked for.
      fs.writeFileSync(config, YAML.stringify({ dataDir: dir, databases: { state: 's', pipeline: 'p' } }));
      const plain = await runCli(['prometheus-config', '--config', config], { built: true });
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout).not.toContain('credentials_file');
      expect(plain.stdout).toBe(renderPrometheusConfig(defaultPrometheusConfig()));
    } finally {
      removeTmpDir(dir);
    }
  });
});
