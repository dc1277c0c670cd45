// Cross-daemon events: the append-only table (table.ts) and its tail (tail.ts), woken at once by commits in
// this process (wake.ts) and by a watch on the -wal file for other processes' commits (wal-hint.ts).
export { appendEvent, maxEventSeq, readEventsAfter, type EventRow, type NewEvent } from './table.js';
export { EventTail, type EventTailOptions } from './tail.js';
export { onEventsCommitted } from './wake.js';
