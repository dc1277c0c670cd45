// Prepared statements cached per connection: preparing on every call would dominate the cost of small
// queries. Keyed by the SQL text; the WeakMap lets a closed connection's statements go with it.
import type { Connection, Statement } from './db.js';

const cache = new WeakMap<Connection, Map<string, Statement>>();

/** The statement for `sql` on `conn`, prepared once. */
export function cachedStatement(conn: Connection, sql: string): Statement {
  let m = cache.get(conn);
  if (!m) cache.set(conn, (m = new Map()));
  let s = m.get(sql);
  if (!s) m.set(sql, (s = conn.prepare(sql)));
  return s;
}
