// Alertmanager's label matcher syntax, for routes, inhibition rules and silences: `name="value"`,
// `name!="value"`, `name=~"regex"`, `name!~"regex"` (values quoted with \" \\ \n escapes, or bare words), and a
// braced list `{a="b", c=~"d.*"}`. Regexes are anchored at both ends, as in Alertmanager, and a missing label
// matches as the empty string. Pure: no I/O, no clock.
import { ValidationError } from '../errors.js';

export const MATCH_OPS = ['=', '!=', '=~', '!~'] as const;
export type MatchOp = (typeof MATCH_OPS)[number];
export type LabelSet = Readonly<Record<string, string>>;

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
}

/** A matcher ready to test label sets (its regex compiled once). */
export interface CompiledMatcher extends Matcher {
  matches(labels: LabelSet): boolean;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class MatcherSyntaxError extends ValidationError {
  constructor(text: string, why: string) {
    super(`bad matcher ${JSON.stringify(text)}: ${why}`, { matcher: text });
  }
}

/**
 * Read a double-quoted value starting at text[start] === '"'; returns the value and the index after the quote.
 * Errors name `source`, the whole matcher the user wrote, not only its value.
 */
function readQuoted(text: string, start: number, source: string): { value: string; end: number } {
  let out = '';
  // Stryker disable next-line EqualityOperator: equivalent: one more step past the end reads undefined, keeps
  // no quote, and falls out of the loop to the same 'unterminated' error.
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') return { value: out, end: i + 1 };
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === 'n') out += '\n';
    else if (next === '"' || next === '\\') out += next;
    else if (
      // Stryker disable next-line ConditionalExpression: equivalent: without the break the loop ends anyway (the
      // index is past the end) and throws the same 'unterminated' error.
      next === undefined
    )
      break;
    else out += `\\${next}`; // a regex escape such as \d stays as written
  }
  throw new MatcherSyntaxError(source, 'unterminated quoted value');
}

/** One matcher; throws MatcherSyntaxError with the reason. */
export function parseMatcher(text: string): Matcher {
  const src = text.trim();
  const m = /^([^=!~\s]+)\s*(=~|!~|!=|=)\s*/.exec(src);
  if (!m) throw new MatcherSyntaxError(text, 'expected name, an operator (=, !=, =~, !~) and a value');
  const name = m[1];
  if (!NAME_RE.test(name))
    throw new MatcherSyntaxError(text, `label name "${name}" is not [A-Za-z_][A-Za-z0-9_]*`);
  const op = m[2] as MatchOp;
  const rest = src.slice(m[0].length);
  let value: string;
  if (rest.startsWith('"')) {
    const q = readQuoted(rest, 0, text);
    // Stryker disable next-line MethodExpression: equivalent: src is trimmed, so what follows the quote is empty or
    // ends in a non-space.
    if (rest.slice(q.end).trim() !== '') throw new MatcherSyntaxError(text, 'text after the closing quote');
    value = q.value;
  } else {
    if (/["{},]/.test(rest)) throw new MatcherSyntaxError(text, 'unquoted values cannot contain " { } ,');
    // Stryker disable next-line MethodExpression: equivalent: the operator's pattern ate the leading spaces and src
    // is trimmed.
    value = rest.trim();
  }
  const matcher = { name, op, value };
  compileMatcher(matcher, text); // validates the regex
  return matcher;
}

/** Split a braced or comma-separated list on top-level commas (commas inside quotes stay). */
function splitList(text: string): string[] {
  let body = text.trim();
  if (body.startsWith('{')) {
    if (!body.endsWith('}')) throw new MatcherSyntaxError(text, 'missing closing }');
    body = body.slice(1, -1);
  }
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && quoted) {
      // Stryker disable next-line StringLiteral: equivalent: a backslash ending the text leaves its quote open, and
      // the matcher fails as unterminated whatever follows the backslash.
      cur += c + (body[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** `{a="b", c=~"d"}` or `a="b", c=~"d"`: each part one matcher. */
export function parseMatchers(text: string): Matcher[] {
  return splitList(text).map(parseMatcher);
}

/** Compile a matcher; a bad regex is a MatcherSyntaxError naming `source` (the text the user wrote). */
export function compileMatcher(m: Matcher, source = formatMatcher(m)): CompiledMatcher {
  if (!NAME_RE.test(m.name)) throw new MatcherSyntaxError(source, `label name "${m.name}" is not valid`);
  if (!MATCH_OPS.includes(m.op)) throw new MatcherSyntaxError(source, `unknown operator ${String(m.op)}`);
  if (typeof m.value !== 'string') throw new MatcherSyntaxError(source, 'the value must be a string');
  let test: (v: string) => boolean;
  if (m.op === '=' || m.op === '!=') {
    const want = m.value;
    test = (v) => v === want;
  } else {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${m.value})$`);
    } catch (e) {
      throw new MatcherSyntaxError(source, `invalid regular expression (${(e as Error).message})`);
    }
    test = (v) => re.test(v);
  }
  const negate = m.op === '!=' || m.op === '!~';
  return {
    name: m.name,
    op: m.op,
    value: m.value,
    matches: (labels) => test(labels[m.name] ?? '') !== negate,
  };
}

/** True when every matcher matches (an empty list matches everything). */
export function matchesAll(matchers: readonly CompiledMatcher[], labels: LabelSet): boolean {
  for (const m of matchers) if (!m.matches(labels)) return false;
  return true;
}

/** The canonical text of a matcher: name, operator, double-quoted value. */
export function formatMatcher(m: Matcher): string {
  const v = m.value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
  return `${m.name}${m.op}"${v}"`;
}

/** Parse and compile a list of matcher strings (one matcher each, or braced lists). */
export function compileAll(texts: readonly string[]): CompiledMatcher[] {
  return texts.flatMap((t) => parseMatchers(t).map((m) => compileMatcher(m, t)));
}
