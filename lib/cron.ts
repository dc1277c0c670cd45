// Cron arithmetic, pure and clock-free (always UTC): validation, the fire times before and after an instant,
// and a schedule's shortest period. node-cron fires the triggers; this answers "when should it have fired",
// which node-cron cannot (it has no missed-run recovery), with cron-parser, a maintained parser. Five fields
// (minute precision) or six (a leading seconds field, for tests and fast demos).
import { CronExpressionParser } from 'cron-parser';
import nodeCron from 'node-cron';

/** null when node-cron (which fires the triggers) and cron-parser both accept the expression, else why not. */
export function cronProblem(expr: string): string | null {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return `expected 5 or 6 fields, got ${fields.length}`;
  const detailed = nodeCron.validateDetailed(expr);
  if (!detailed.valid) return detailed.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  try {
    // Stryker disable next-line ObjectLiteral: equivalent: whether an expression parses depends on neither option.
    CronExpressionParser.parse(expr, { tz: 'UTC', currentDate: 0 });
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

function parse(expr: string, atMs: number) {
  return CronExpressionParser.parse(expr, { tz: 'UTC', currentDate: atMs });
}

/** The latest fire time at or before atMs. */
export function previousFireMs(expr: string, atMs: number): number {
  // cron-parser's prev() is strictly before its current date; +1 ms makes an exact slot count as "at".
  return parse(expr, atMs + 1)
    .prev()
    .getTime();
}

/** The n-th latest fire time at or before atMs (n = 1 is previousFireMs). */
export function nthPreviousFireMs(expr: string, atMs: number, n: number): number {
  const it = parse(expr, atMs + 1);
  let t = Number.NaN;
  for (let i = 0; i < Math.max(1, n); i++) t = it.prev().getTime();
  return t;
}

/** The first fire time strictly after atMs. */
export function nextFireMs(expr: string, atMs: number): number {
  return parse(expr, atMs).next().getTime();
}

/**
 * The shortest gap between consecutive fire times among the first 64 fires after a fixed instant (so the
 * answer does not depend on when it is asked; 64 fires cover the irregular schedules a job would use, such as
 * "9 and 10 o'clock" or weekdays). A job's timeout must be shorter than this.
 */
export function shortestPeriodMs(expr: string): number {
  const known = periods.get(expr);
  if (known !== undefined) return known;
  const it = parse(expr, Date.UTC(2024, 0, 1));
  let prev = it.next().getTime();
  let best = Infinity;
  // Stryker disable next-line EqualityOperator: equivalent for any schedule a job uses: 64 or 65 gaps, the same shortest.
  for (let i = 0; i < 64; i++) {
    const t = it.next().getTime();
    best = Math.min(best, t - prev);
    prev = t;
  }
  periods.set(expr, best);
  return best;
}

/** Config parsing asks for the same few expressions again and again. */
const periods = new Map<string, number>();
