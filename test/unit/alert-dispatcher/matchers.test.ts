// Alertmanager matcher syntax: the four operators, quoting and escapes, braced lists, anchored regexes,
// missing labels as "", and clear errors for bad input.
import { describe, expect, it } from 'vitest';
import {
  compileAll,
  compileMatcher,
  formatMatcher,
  matchesAll,
  MatcherSyntaxError,
  parseMatcher,
  type Matcher,
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

  // Each rejected form with its exact message: a message that changes, or a check that is skipped and
  // leaves a later one to fail with another reason, is a regression operators see in config errors.
  it.each([
    ['alertname', 'expected name, an operator (=, !=, =~, !~) and a value'],
    ['!a="b"', 'expected name, an operator (=, !=, =~, !~) and a value'],
    ['="b"', 'expected name, an operator (=, !=, =~, !~) and a value'],
    ['9x="a"', 'label name "9x" is not [A-Za-z_][A-Za-z0-9_]*'],
    ['a-b="x"', 'label name "a-b" is not [A-Za-z_][A-Za-z0-9_]*'],
    ['a="unterminated', 'unterminated quoted value'],
    ['a="ends in a backslash\\', 'unterminated quoted value'],
    ['a="x\\\\"y', 'text after the closing quote'],
    ['a=b"c', 'unquoted values cannot contain " { } ,'],
    ['a=~"("', 'invalid regular expression ('],
  ])('rejects %s with its exact reason', (text, why) => {
    let err: unknown;
    try {
      parseMatcher(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MatcherSyntaxError);
    const { message, details } = err as MatcherSyntaxError;
    const want = `bad matcher ${JSON.stringify(text)}: ${why}`;
    // The regex reason goes on with the engine's own words.
    if (why.endsWith('(')) expect(message.startsWith(want)).toBe(true);
    else expect(message).toBe(want);
    expect(details).toEqual({ matcher: text });
  });

  it('reads backslash, quote and newline escapes inside quotes and keeps a regex escape as written', () => {
    expect(parseMatcher('a="x\\\\y"').value).toBe('x\\y');
    expect(parseMatcher('a="x\\\\"').value).toBe('x\\');
    expect(parseMatcher('a=~"\\w\\"\\n"').value).toBe('\\w"\n');
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

  it('takes a braced list with spaces around it, a trailing comma, or nothing in it', () => {
    const ab = [{ name: 'a', op: '=', value: 'b' }];
    expect(parseMatchers(' {a="b"} ')).toEqual(ab);
    expect(parseMatchers('{a="b",}')).toEqual(ab);
    expect(parseMatchers('{a="b", }')).toEqual(ab);
    expect(parseMatchers('ab="x", c="y"')).toEqual([
      { name: 'ab', op: '=', value: 'x' },
      { name: 'c', op: '=', value: 'y' },
    ]);
    expect(parseMatchers('{}')).toEqual([]);
  });

  it('an escaped quote inside a value neither ends it nor lets a comma after it split the list', () => {
    expect(parseMatchers('{a="x\\",y", b="c"}')).toEqual([
      { name: 'a', op: '=', value: 'x",y' },
      { name: 'b', op: '=', value: 'c' },
    ]);
    expect(parseMatchers('a="p\\\\", bb="q,r"')).toEqual([
      { name: 'a', op: '=', value: 'p\\' },
      { name: 'bb', op: '=', value: 'q,r' },
    ]);
  });

  it('a list without its closing brace is rejected as such', () => {
    expect(() => parseMatchers('{a="b"')).toThrow(new MatcherSyntaxError('{a="b"', 'missing closing }'));
  });

  it('compileMatcher rejects a bad name, operator or value given as an object, naming the source', () => {
    const bad = (m: unknown, source?: string) => () => compileMatcher(m as Matcher, source);
    expect(bad({ name: '9x', op: '=', value: 'a' })).toThrow(
      'bad matcher "9x=\\"a\\"": label name "9x" is not valid',
    );
    expect(bad({ name: 'a', op: '==', value: 'a' })).toThrow('bad matcher "a==\\"a\\"": unknown operator ==');
    expect(bad({ name: 'a', op: '=', value: 5 }, 'a=5')).toThrow(
      'bad matcher "a=5": the value must be a string',
    );
  });

  it('= and != compare the value literally, never as a regex', () => {
    expect(matchesAll(compileAll(['a="x.y"']), { a: 'x.y' })).toBe(true);
    expect(matchesAll(compileAll(['a="x.y"']), { a: 'xzy' })).toBe(false);
    expect(matchesAll(compileAll(['a!="x.y"']), { a: 'xzy' })).toBe(true);
    expect(matchesAll(compileAll(['a!="x.y"']), { a: 'x.y' })).toBe(false);
    expect(matchesAll(compileAll(['a="("']), { a: '(' })).toBe(true);
  });

  it('formatMatcher escapes backslashes, quotes and newlines so the text parses back to the same matcher', () => {
    const m: Matcher = { name: 'a', op: '=~', value: 'back\\slash "q"\nline' };
    expect(formatMatcher(m)).toBe('a=~"back\\\\slash \\"q\\"\\nline"');
    expect(parseMatcher(formatMatcher(m))).toEqual(m);
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
