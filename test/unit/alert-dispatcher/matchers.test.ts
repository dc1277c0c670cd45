// Alertmanager matcher syntax: the four operators, quoting and escapes, braced lists, anchored regexes,
// missing labels as "", and clear errors for bad input.
import { describe, expect, it } from 'vitest';
import {
  compileAll,
  formatMatcher,
  matchesAll,
  MatcherSyntaxError,
  parseMatcher,
  parseMatchers,
} from '../../../lib/matchers/index.js';

describe('parseMatcher', () => {
  it.each([
    ['severity="critical"', { name: 'severity', op: '=', value: 'critical' }],
    ['alertname=~"Calibr.*"', { name: 'alertname', op: '=~', value: 'Calibr.*' }],
    ['unit!="contimg-api.service"', { name: 'unit', op: '!=', value: 'contimg-api.service' }],
    ['job!~"flux|health"', { name: 'job', op: '!~', value: 'flux|health' }],
    ['severity=critical', { name: 'severity', op: '=', value: 'critical' }],
    [' host = "a b" ', { name: 'host', op: '=', value: 'a b' }],
    ['msg="say \\"hi\\"\\n"', { name: 'msg', op: '=', value: 'say "hi"\n' }],
    ['path=~"\\d+"', { name: 'path', op: '=~', value: '\\d+' }],
  ])('%s', (text, want) => {
    expect(parseMatcher(text)).toEqual(want);
  });

  it.each([
    ['alertname', 'expected name, an operator'],
    ['9x="a"', 'label name "9x"'],
    ['a=~"("', 'invalid regular expression'],
    ['a="unterminated', 'unterminated quoted value'],
    ['a="b" c', 'text after the closing quote'],
    ['a=b,c', 'unquoted values cannot contain'],
  ])('rejects %s', (text, why) => {
    expect(() => parseMatcher(text)).toThrow(MatcherSyntaxError);
    expect(() => parseMatcher(text)).toThrow(why);
  });

  it('round-trips through formatMatcher', () => {
    for (const t of ['a="x"', 'b!="y \\"q\\""', 'c=~"a|b"', 'd!~".*"'])
      expect(formatMatcher(parseMatcher(t))).toBe(t);
  });
});

describe('lists and matching', () => {
  it('parses braced lists with commas inside quotes', () => {
    expect(parseMatchers('{alertname="A", note="x,y", sev=~"crit.*"}')).toEqual([
      { name: 'alertname', op: '=', value: 'A' },
      { name: 'note', op: '=', value: 'x,y' },
      { name: 'sev', op: '=~', value: 'crit.*' },
    ]);
  });

  it('anchors regexes and treats a missing label as the empty string', () => {
    const ms = compileAll(['alertname=~"Calibr.*"']);
    expect(matchesAll(ms, { alertname: 'CalibratorFluxDrift' })).toBe(true);
    expect(matchesAll(ms, { alertname: 'NoCalibrator' })).toBe(false);
    expect(matchesAll(compileAll(['team=""']), {})).toBe(true);
    expect(matchesAll(compileAll(['team!=""']), {})).toBe(false);
    expect(matchesAll(compileAll(['team!="ops"']), {})).toBe(true);
    expect(matchesAll(compileAll(['team!~"o.*"']), { team: 'ops' })).toBe(false);
  });

  it('needs every matcher; none matches everything', () => {
    const ms = compileAll(['severity="critical"', 'host=~"dsa.*"']);
    expect(matchesAll(ms, { severity: 'critical', host: 'dsa110' })).toBe(true);
    expect(matchesAll(ms, { severity: 'critical', host: 'lxd' })).toBe(false);
    expect(matchesAll([], { anything: 'x' })).toBe(true);
  });
});
