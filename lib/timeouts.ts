// The `timeouts` config section: the platform's own budgets, each read by the daemon lifecycle (lib/daemon).
// Budgets that belong to one part live with it instead (databases.busyTimeoutMs and the write budgets, each
// daemon's lease and job timeouts in its section), so no key here shadows another. docs/config.md lists the
// same keys, and test/integration/config/docs.test.ts checks both ways and that lib/ reads every key.
// Tests shrink values by passing overrides; production reads the defaults and the config file.

export interface Timeouts {
  /**
   * After SIGTERM, how long run() has to finish in-flight work before deps.hardStop aborts it; every queue
   * worker drains until then (lib/queue's worker waits for the hard stop).
   */
  drainMs: number;
  /** WebSocket protocol ping and application heartbeat interval. */
  wsPingMs: number;
  /** Missed pongs before the hub closes a client with 4000 heartbeat_timeout. */
  wsMaxMissed: number;
  /** How long a reconnect token stays usable after its connection ended. */
  resumeTtlMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = Object.freeze({
  drainMs: 50_000,
  wsPingMs: 30_000,
  wsMaxMissed: 3,
  resumeTtlMs: 300_000,
});

export function makeTimeouts(overrides: Partial<Timeouts> = {}): Timeouts {
  return Object.freeze({ ...DEFAULT_TIMEOUTS, ...overrides });
}
