// Child process for events.test.ts: append N events, one transaction each, through lib/db.
import { openDb } from '../../../lib/db/index.js';
import { appendEvent } from '../../../lib/events/index.js';

const [file, n] = process.argv.slice(2);
const db = openDb({ name: 'state', path: file });
for (let i = 0; i < Number(n); i++)
  db.write((c) => appendEvent(c, { topic: 'other', type: 'z', payload: { i } }, Date.now()));
db.close();
