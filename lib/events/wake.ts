// In-process commit signal: appendEvent notes the seq it wrote on its connection, and once the caller's
// transaction has ended (a microtask after the synchronous db.write body: write bodies cannot await) the
// note is checked against the table and, only if the event is there, every tail of this process on that
// file is woken at once. A transaction that rolled back leaves nothing to find, so it wakes no one: readers
// are never woken to nothing, and they read events from the table, never from the note, so nothing that did
// not commit can reach a client. Commits by other processes are not seen here (see wal-hint.ts).
import { cachedStatement, type Connection } from '../db/index.js';

type Listener = () => void;

/** Tails by database file (Connection.name: the path the Db opened). */
const listeners = new Map<string, Set<Listener>>();
/** Connections with events appended since the last check, and the lowest seq appended on each. */
const pending = new Map<Connection, number>();
let checkQueued = false;

/** How long to wait before looking again when a transaction is still open (a hand-written BEGIN). */
const OPEN_TX_RETRY_MS = 5;

const COMMITTED = 'SELECT EXISTS(SELECT 1 FROM events WHERE seq >= ?) AS found';

/** Call `fn` after every commit in this process that added events to `file`; returns the unsubscribe. */
export function onEventsCommitted(file: string, fn: Listener): () => void {
  let set = listeners.get(file);
  if (!set) listeners.set(file, (set = new Set()));
  set.add(fn);
  return () => {
    set.delete(fn);
    if (set.size === 0 && listeners.get(file) === set) listeners.delete(file);
  };
}

/** appendEvent's note: `seq` was inserted on `conn`, maybe inside a transaction that has not ended yet. */
export function noteAppended(conn: Connection, seq: number): void {
  if (!listeners.has(conn.name)) return; // no tail on this file in this process: nothing to wake
  const lowest = pending.get(conn);
  if (lowest === undefined || seq < lowest) pending.set(conn, seq);
  if (!checkQueued) {
    checkQueued = true;
    queueMicrotask(checkPending);
  }
}

function checkPending(): void {
  checkQueued = false;
  let retry = false;
  for (const [conn, lowest] of pending) {
    if (conn.open && conn.inTransaction) {
      retry = true; // not ended yet: look again shortly
      continue;
    }
    pending.delete(conn);
    if (conn.open && !committed(conn, lowest)) continue;
    for (const fn of listeners.get(conn.name) ?? []) fn();
  }
  if (retry && !checkQueued) {
    checkQueued = true;
    setTimeout(checkPending, OPEN_TX_RETRY_MS);
  }
}

/**
 * Whether an event at or after `lowest` is in the table now that the transaction has ended. An event a
 * later commit (ours or another process's) put there after a rollback is real too: the wake finds it.
 */
function committed(conn: Connection, lowest: number): boolean {
  try {
    return (cachedStatement(conn, COMMITTED).get(lowest) as { found: number }).found === 1;
  } catch {
    return true; // cannot tell: a wake to nothing costs one look; a missed wake would cost a safety poll
  }
}
