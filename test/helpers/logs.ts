// A real logger whose JSON lines land in an array, for tests that check what an operator would read.
import { createLogger, type Logger } from '../../lib/log.js';

export interface LogLine {
  msg: string;
  level: string;
  [field: string]: unknown;
}

export function captureLog(level: 'debug' | 'info' | 'warn' = 'debug'): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({
    daemon: 'test',
    level,
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  });
  return { log, lines };
}
