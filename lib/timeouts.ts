// One frozen timeouts object: the seeds' TimeoutConfig fields plus the lease, drain, WebSocket and DB budgets.
// Tests shrink values by passing overrides; production reads only the defaults and the config file.

export interface Timeouts {
  // From the original TimeoutConfig (seconds there; milliseconds here).
  dbConnectMs: number;
  dbQueryMs: number;
  httpRequestMs: number;
  externalServiceMs: number;
  healthCheckMs: number;
  websocketPingMs: number;
  fileOperationMs: number;
  subprocessMs: number;
  shutdownMs: number;
  // New budgets.
  dbBusyMs: number;
  dbWriteBudgetMs: number;
  leaseMs: number;
  jobTimeoutMs: number;
  drainMs: number;
  wsPingMs: number;
  wsMaxMissed: number;
  resumeTtlMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = Object.freeze({
  dbConnectMs: 10_000,
  dbQueryMs: 30_000,
  httpRequestMs: 30_000,
  externalServiceMs: 10_000,
  healthCheckMs: 5_000,
  websocketPingMs: 30_000,
  fileOperationMs: 60_000,
  subprocessMs: 3_600_000,
  shutdownMs: 60_000,
  dbBusyMs: 5_000,
  dbWriteBudgetMs: 15_000,
  leaseMs: 60_000,
  jobTimeoutMs: 3_600_000,
  drainMs: 50_000,
  wsPingMs: 30_000,
  wsMaxMissed: 3,
  resumeTtlMs: 300_000,
});

export function makeTimeouts(overrides: Partial<Timeouts> = {}): Timeouts {
  return Object.freeze({ ...DEFAULT_TIMEOUTS, ...overrides });
}

/** Race a promise against a deadline; the label names what timed out. */
export async function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
