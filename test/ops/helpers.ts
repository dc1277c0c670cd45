// Shared by the ops tests: the real tools (a missing one fails the test with what to install, never a skip),
// the rule files and dashboards as data, and PromQL read with Prometheus's own lezer grammar.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import YAML from 'yaml';
import { requireExecutable } from '../../cli/prometheus.js';
import { DAEMONS, type DaemonName } from '../../lib/daemon/types.js';
import { REPO_ROOT } from '../helpers/tmp.js';

export const OPS = path.join(REPO_ROOT, 'ops');
export const RULES_DIR = path.join(OPS, 'prometheus', 'rules');
export const RULE_TESTS_DIR = path.join(OPS, 'prometheus', 'tests');
export const DASHBOARDS_DIR = path.join(OPS, 'grafana', 'dashboards');

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run one of the real ops tools (resolved on PATH; a missing one throws what to install). */
export function runTool(
  name: string,
  args: string[],
  opts: { input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<ToolResult> {
  const bin = requireExecutable(name);
  return new Promise((resolve) => {
    const child = execFile(
      bin,
      args,
      { cwd: opts.cwd ?? REPO_ROOT, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The daemons whose code exists (daemons/<name>/run.ts): only their series are required to exist. */
export function builtDaemons(): DaemonName[] {
  return (Object.keys(DAEMONS) as DaemonName[]).filter((n) =>
    fs.existsSync(path.join(REPO_ROOT, 'daemons', n, 'run.ts')),
  );
}

export interface Rule {
  file: string;
  group: string;
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function ruleFiles(): string[] {
  return fs
    .readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => path.join(RULES_DIR, f));
}

export function loadRules(): Rule[] {
  const out: Rule[] = [];
  for (const file of ruleFiles()) {
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as {
      groups: { name: string; rules: Partial<Omit<Rule, 'file' | 'group'>>[] }[];
    };
    for (const g of doc.groups)
      for (const r of g.rules)
        out.push({
          ...r,
          expr: r.expr ?? '',
          labels: r.labels ?? {},
          annotations: r.annotations ?? {},
          file: path.basename(file),
          group: g.name,
        });
  }
  return out;
}

export interface DashboardQuery {
  file: string;
  uid: string;
  panel: string;
  expr: string;
}

interface PanelJson {
  title?: string;
  targets?: { expr?: string }[];
  panels?: PanelJson[];
}

export function loadDashboards(): { file: string; json: Record<string, unknown> }[] {
  return fs
    .readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      json: JSON.parse(fs.readFileSync(path.join(DASHBOARDS_DIR, file), 'utf8')) as Record<string, unknown>,
    }));
}

/** Every PromQL query of every committed dashboard (panels inside collapsed rows too). */
export function dashboardQueries(): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const { file, json } of loadDashboards()) {
    const walk = (panels: PanelJson[] | undefined): void => {
      for (const p of panels ?? []) {
        for (const t of p.targets ?? [])
          if (t.expr) out.push({ file, uid: String(json.uid), panel: p.title ?? '', expr: t.expr });
        walk(p.panels);
      }
    };
    walk(json.panels as PanelJson[]);
  }
  return out;
}

export interface Selector {
  /** The metric name (from the identifier or an exact __name__ matcher). */
  name: string;
  /** Exact-match label matchers, e.g. job="streaming-converter". */
  equals: Record<string, string>;
}

/**
 * The vector selectors of a PromQL expression, from the lezer parse tree. Throws on a syntax error or a
 * selector without an exact metric name (a __name__ regex could match anything, so the contract cannot
 * check it).
 */
export function selectors(expr: string): Selector[] {
  const tree = parser.parse(expr);
  const out: Selector[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`syntax error at ${node.from}: …${expr.slice(node.from, node.from + 20)}`);
      if (node.name !== 'VectorSelector') return;
      let name: string | undefined;
      const equals: Record<string, string> = {};
      const ident = node.node.getChild('Identifier');
      if (ident) name = expr.slice(ident.from, ident.to);
      const matchers = node.node.getChild('LabelMatchers');
      for (const m of matchers?.getChildren('UnquotedLabelMatcher') ?? []) {
        const label = m.getChild('LabelName');
        const op = m.getChild('MatchOp');
        const value = m.getChild('StringLiteral');
        if (!label || !op || !value) continue;
        const key = expr.slice(label.from, label.to);
        const text = JSON.parse(expr.slice(value.from, value.to).replace(/^'|'$/g, '"')) as string;
        const opText = expr.slice(op.from, op.to);
        if (opText === '=') {
          if (key === '__name__') name = text;
          else equals[key] = text;
        } else if (key === '__name__') errors.push(`__name__${opText}"${text}": no exact metric name`);
      }
      if (!name) errors.push(`selector without a metric name: ${expr.slice(node.from, node.to)}`);
      else out.push({ name, equals });
    },
  });
  if (errors.length) throw new Error(`${expr}: ${errors.join('; ')}`);
  return out;
}

/** Series Prometheus makes itself (not exported by any daemon). */
export const PROMETHEUS_SERIES = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE', 'scrape_duration_seconds']);

export interface Family {
  name: string;
  type: string;
  help: string;
  /** Each sample's name (e.g. x_bucket) and labels. */
  samples: { name: string; labels: Record<string, string> }[];
}

/** Parse the Prometheus text exposition format into families (HELP, TYPE, samples with labels). */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return f;
  };
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      current = family(meta[2]);
      if (meta[1] === 'HELP') current.help = meta[3];
      else current.type = meta[3];
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const owner =
      current && (m[1] === current.name || m[1].startsWith(`${current.name}_`)) ? current : family(m[1]);
    owner.samples.push({ name: m[1], labels });
  }
  return families;
}

/**
 * Copy the shipped rule files into `dir` with shorter `for:` durations for the named alerts (everything else
 * unchanged), so a round trip on loopback sees pending → firing in seconds instead of minutes.
 */
export function rulesWithFor(dir: string, forByAlert: Record<string, string>): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  const out: string[] = [];
  for (const file of ruleFiles()) {
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as {
      groups: { rules: { alert?: string; for?: string }[] }[];
    };
    for (const g of doc.groups)
      for (const r of g.rules)
        if (r.alert && forByAlert[r.alert] !== undefined) {
          r.for = forByAlert[r.alert];
          seen.add(r.alert);
        }
    const dest = path.join(dir, path.basename(file));
    fs.writeFileSync(dest, YAML.stringify(doc));
    out.push(dest);
  }
  const unknown = Object.keys(forByAlert).filter((a) => !seen.has(a));
  if (unknown.length) throw new Error(`no such alert in the rules: ${unknown.join(', ')}`);
  return out;
}
