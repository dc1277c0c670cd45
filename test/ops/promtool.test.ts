// The shipped Prometheus files checked by the real promtool: config, rules, and the rule unit tests; and the
// house rules for alerts: severity, system label, summary/description/runbook_url with an anchor that exists
// in docs/runbook.md, and a unit test per alert that makes it fire and one that keeps it quiet.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { DAEMONS } from '../../lib/daemon/types.js';
import { makeTmpDir, removeTmpDir, REPO_ROOT } from '../helpers/tmp.js';
import { loadRules, OPS, RULE_TESTS_DIR, RULES_DIR, ruleFiles, runTool, selectors } from './helpers.js';

const RUNBOOK = path.join(REPO_ROOT, 'docs', 'runbook.md');
const RUNBOOK_URL = 'file:///opt/contimg/docs/runbook.md#';

/** GitHub's heading anchors: lower case, spaces to dashes, punctuation other than - and _ dropped. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6} (.+)$/gm))
    out.add(
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  return out;
}

interface RuleTestFile {
  rule_files: string[];
  tests: {
    name?: string;
    alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
  }[];
}

function ruleTests(): { file: string; doc: RuleTestFile }[] {
  return fs
    .readdirSync(RULE_TESTS_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => ({ file: f, doc: YAML.parse(fs.readFileSync(path.join(RULE_TESTS_DIR, f), 'utf8')) }));
}

describe('promtool', () => {
  it('check config: the committed prometheus.yml and the rule files it loads', async () => {
    const r = await runTool('promtool', ['check', 'config', path.join(OPS, 'prometheus', 'prometheus.yml')]);
    expect(r.stdout + r.stderr).toMatch(/SUCCESS: \d+ rule files found/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('check rules: every rule file', async () => {
    const r = await runTool('promtool', ['check', 'rules', ...ruleFiles()]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((r.stdout.match(/SUCCESS/g) ?? []).length).toBe(ruleFiles().length);
  });

  it('test rules: every unit test passes', async () => {
    const files = ruleTests().map((t) => path.join(RULE_TESTS_DIR, t.file));
    const r = await runTool('promtool', ['test', 'rules', ...files], { cwd: RULE_TESTS_DIR });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((r.stdout.match(/SUCCESS/g) ?? []).length).toBe(files.length);
  });

  it('test rules fails when an alert does not fire as a test expects (the check can fail)', async () => {
    // The platform tests, run against a copy of the rules where ContimgDaemonDown never fires.
    const dir = makeTmpDir('contimg-rules-');
    try {
      const broken = fs
        .readFileSync(path.join(RULES_DIR, 'platform.yml'), 'utf8')
        .replace('expr: up{system="contimg"} == 0', 'expr: up{system="contimg"} == 2');
      fs.mkdirSync(path.join(dir, 'rules'));
      fs.mkdirSync(path.join(dir, 'tests'));
      fs.writeFileSync(path.join(dir, 'rules', 'platform.yml'), broken);
      fs.copyFileSync(
        path.join(RULE_TESTS_DIR, 'platform.test.yml'),
        path.join(dir, 'tests', 'platform.test.yml'),
      );
      const r = await runTool('promtool', ['test', 'rules', 'platform.test.yml'], {
        cwd: path.join(dir, 'tests'),
      });
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/alertname: ContimgDaemonDown/);
    } finally {
      removeTmpDir(dir);
    }
  });
});

describe('rules', () => {
  const rules = loadRules();
  const alerts = rules.filter((r) => r.alert);

  it('one rules file per built-in area: platform or a daemon of the daemon table', () => {
    const names = ruleFiles().map((f) => path.basename(f, '.yml'));
    for (const n of names) expect(['platform', ...Object.keys(DAEMONS)]).toContain(n);
    expect(names).toContain('platform');
    // Each rules file has its promtool tests.
    for (const n of names) expect(fs.existsSync(path.join(RULE_TESTS_DIR, `${n}.test.yml`)), n).toBe(true);
  });

  it('every alert has severity, system, summary, description and a runbook anchor that exists', () => {
    const known = anchors(fs.readFileSync(RUNBOOK, 'utf8'));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels.severity);
      expect(a.labels.system, a.alert).toBe('contimg');
      expect(a.alert).toMatch(/^Contimg[A-Z]/);
      expect(a.annotations.summary?.length, a.alert).toBeGreaterThan(10);
      expect(a.annotations.description?.length, a.alert).toBeGreaterThan(40);
      const url = a.annotations.runbook_url ?? '';
      expect(url.startsWith(RUNBOOK_URL), `${a.alert}: ${url}`).toBe(true);
      const anchor = url.slice(RUNBOOK_URL.length);
      expect(anchor, a.alert).toBe(a.alert!.toLowerCase());
      expect(known.has(anchor), `docs/runbook.md has no heading for #${anchor}`).toBe(true);
    }
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
  });

  it('recording rules follow level:metric:operations and are named once', () => {
    const records = rules.filter((r) => r.record).map((r) => r.record!);
    for (const r of records) expect(r).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
    expect(new Set(records).size).toBe(records.length);
  });

  it('every expression parses, and job matchers name daemons of the daemon table', () => {
    for (const r of rules)
      for (const s of selectors(r.expr))
        if (s.equals.job !== undefined) expect(Object.keys(DAEMONS)).toContain(s.equals.job);
  });

  it('every alert has a unit test that makes it fire and one where it stays quiet', () => {
    const fires = new Set<string>();
    const quiet = new Set<string>();
    for (const { file, doc } of ruleTests()) {
      for (const rf of doc.rule_files)
        expect(fs.existsSync(path.join(RULE_TESTS_DIR, rf)), `${file}: ${rf}`).toBe(true);
      for (const t of doc.tests)
        for (const a of t.alert_rule_test ?? []) {
          if ((a.exp_alerts ?? []).length > 0) fires.add(a.alertname);
          else quiet.add(a.alertname);
        }
    }
    for (const a of alerts) {
      expect(fires.has(a.alert!), `no test makes ${a.alert} fire`).toBe(true);
      expect(quiet.has(a.alert!), `no test keeps ${a.alert} quiet`).toBe(true);
    }
  });
});
