// Prepared statements are cached per connection: preparing on every call would dominate the cost.
import type { Connection, Statement } from '../../lib/db/index.js';

const cache = new WeakMap<Connection, Map<string, Statement>>();
export function st(conn: Connection, sql: string): Statement {
  let m = cache.get(conn);
  if (!m) cache.set(conn, (m = new Map()));
  let s = m.get(sql);
  if (!s) m.set(sql, (s = conn.prepare(sql)));
  return s;
}
