import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/errors.js';
import { loadConfigFile, parseConfig, readSecret, redact, REDACTED } from '../../../lib/config/index.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

const minimal = { dataDir: './var', databases: { state: 'var/s.sqlite3', pipeline: 'var/p.sqlite3' } };

function issuesOf(raw: unknown): string[] {
  try {
    parseConfig(raw, '/etc/contimg');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTmpDir();
  });
  afterEach(() => removeTmpDir(dir));

  it('the minimal file is valid and every default is filled in', () => {
    const cfg = parseConfig(minimal, '/etc/contimg');
    expect(cfg.dataDir).toBe('/etc/contimg/var');
    expect(cfg.databases.state).toBe('/etc/contimg/var/s.sqlite3');
    expect(cfg.http.host).toBe('127.0.0.1');
    expect(cfg.streamingConverter.port).toBe(9310);
    expect(cfg.streamingConverter.groupToleranceS).toBe(60);
    expect(cfg.streamingConverter.incomingDir).toBe('/etc/contimg/var/incoming');
    expect(cfg.pointingMonitor.port).toBe(9311);
    expect(cfg.thumbnailWorker.port).toBe(9314);
    expect(cfg.site.latDeg).toBeCloseTo(37.2314, 6);
    expect(Object.isFrozen(cfg.streamingConverter)).toBe(true);
  });

  it.each([
    [{ ...minimal, streamingConverter: { settelS: 3 } }, 'streamingConverter.settelS: unknown key'],
    [{ ...minimal, streamingConverter: { settleS: 'five' } }, 'streamingConverter.settleS:'],
    [
      { ...minimal, streamingConverter: { converter: { argv: 'convert {manifest}' } } },
      'streamingConverter.converter.argv:',
    ],
    [
      { ...minimal, http: { token: 'a', tokenFile: '/run/t' } },
      'http.token: give either token or tokenFile, not both',
    ],
    [{ dataDir: './var', databases: { state: 's.db' } }, 'databases.pipeline:'],
    [{ ...minimal, databases: { ...minimal.databases, state: '' } }, 'databases.state:'],
  ])('names the key path of a bad value (%#)', (raw, expected) => {
    const issues = issuesOf(raw);
    expect(issues.some((i) => i.startsWith(expected))).toBe(true);
  });

  it('resolves relative paths against the config file folder', () => {
    const file = path.join(dir, 'sub', 'contimg.yaml');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, 'dataDir: ../data\ndatabases: { state: st.db, pipeline: /abs/p.db }\n');
    const cfg = loadConfigFile(file);
    expect(cfg.dataDir).toBe(path.join(dir, 'data'));
    expect(cfg.databases.state).toBe(path.join(dir, 'sub', 'st.db'));
    expect(cfg.databases.pipeline).toBe('/abs/p.db');
  });

  it('reports YAML syntax errors and duplicate keys as config errors', () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'dataDir: a\ndataDir: b\n');
    expect(() => loadConfigFile(file)).toThrow(ConfigError);
  });

  it('reads a secret from a file and redacts secrets when printing', () => {
    const secretFile = path.join(dir, 'token');
    fs.writeFileSync(secretFile, 's3cret-value\n');
    const cfg = parseConfig({ ...minimal, http: { tokenFile: secretFile } }, dir);
    expect(readSecret(cfg.http, 'token', 'http')).toBe('s3cret-value');
    const inline = parseConfig({ ...minimal, http: { token: 's3cret-value' } }, dir);
    const printed = JSON.stringify(redact(inline));
    expect(printed).not.toContain('s3cret-value');
    expect(printed).toContain(REDACTED);
  });

  it('an unreadable secret file names the key and not the content', () => {
    const cfg = parseConfig({ ...minimal, http: { tokenFile: path.join(dir, 'missing') } }, dir);
    expect(() => readSecret(cfg.http, 'token', 'http')).toThrow(/http\.tokenFile/);
  });
});
