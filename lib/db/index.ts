export { Db, openDb, type Connection, type OpenOptions, type Statement } from './db.js';
export { cachedStatement } from './statements.js';
export { walGuardTick, type WalGuardResult } from './wal-guard.js';
