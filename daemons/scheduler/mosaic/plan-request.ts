// A planning request from an operator (the CLI's `mosaic plan`, POST /api/v1/mosaics), checked and turned
// into a PlanRequest: a tier and an observation-time window (a UTC day, or from/to), for deep also the RA box,
// the strip and a label. Dates are UTC: YYYY-MM-DD (a whole day) or an ISO-8601 time with Z.
import { z } from 'zod';
import { ValidationError } from '../../../lib/errors.js';
import { MOSAIC_TIERS } from '../../../lib/mosaic/manifest.js';
import type { PlanRequest } from './plan-job.js';
import type { PlanTrigger } from './plan-row.js';

const DAY_MS = 86_400_000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

const time = z
  .string()
  .refine(
    (s) => (DAY.test(s) || s.endsWith('Z')) && !Number.isNaN(Date.parse(DAY.test(s) ? `${s}T00:00:00Z` : s)),
    {
      message: 'expected YYYY-MM-DD or an ISO-8601 UTC time ending in Z',
    },
  );
const ms = (s: string) => Date.parse(DAY.test(s) ? `${s}T00:00:00Z` : s);
/** `to` as a date means the end of that day. */
const endMs = (s: string) => (DAY.test(s) ? ms(s) + DAY_MS : ms(s));
const ra = z.number().min(0).lt(360);

export const PlanRequestBody = z.strictObject({
  tier: z.enum(MOSAIC_TIERS),
  /** A UTC day (YYYY-MM-DD). */
  date: z.string().regex(DAY, 'expected YYYY-MM-DD').optional(),
  window: z.strictObject({ from: time, to: time }).optional(),
  from: time.optional(),
  to: time.optional(),
  raMin: ra.optional(),
  raMax: ra.optional(),
  strip: z.number().min(-90).max(90).optional(),
  label: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,32}$/, 'letters, digits and - (1–32)')
    .optional(),
  dryRun: z.boolean().optional(),
});
export type PlanRequestBody = z.input<typeof PlanRequestBody>;

export function planRequestOf(body: unknown, trigger: PlanTrigger): PlanRequest {
  const r = PlanRequestBody.safeParse(body);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    throw new ValidationError(`bad mosaic plan request: ${issues.join('; ')}`, { issues });
  }
  const b = r.data;
  const from = b.window?.from ?? b.from ?? b.date;
  const to = b.window?.to ?? b.to ?? b.date;
  if (from === undefined || to === undefined)
    throw new ValidationError('a mosaic plan request needs a date, or a window {from, to}', {});
  const window = { fromMs: ms(from), toMs: endMs(to) };
  if (!(window.toMs > window.fromMs))
    throw new ValidationError('the window ends before it starts', { from, to });
  if (b.tier === 'deep') {
    if (b.raMin === undefined || b.raMax === undefined || b.strip === undefined)
      throw new ValidationError('a deep mosaic needs raMin, raMax and strip', {});
    return {
      tier: 'deep',
      window,
      stripDeg: b.strip,
      deep: { raMinDeg: b.raMin, raMaxDeg: b.raMax, label: b.label ?? 'request' },
      trigger,
      dryRun: b.dryRun,
    };
  }
  return {
    tier: b.tier,
    window,
    ...(b.strip !== undefined && { stripDeg: b.strip }),
    trigger,
    dryRun: b.dryRun,
  };
}
