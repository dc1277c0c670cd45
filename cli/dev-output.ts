// What `contimg dev` shows a person: the status page's URL as its first line, and the daemons' log lines
// human-readable when its stdout is a terminal (time, level, daemon, message, then the other fields, through
// pino-pretty) or as the daemons wrote them (one JSON object a line, prefixed with the daemon's name) when it
// is a pipe or a file, so `npm start | jq`-style tooling and the tests keep working.
import { prettyFactory } from 'pino-pretty';
import { reachableHost } from '../lib/http/reach.js';

/** The status page on the first daemon dev starts (every daemon serves it; any one is enough). */
export function statusPageUrl(host: string, port: number): string {
  return `http://${reachableHost(host)}:${port}/`;
}

/** The first line dev prints; with a token the page is opened as /?token=… (the token is not printed). */
export function statusPageLine(host: string, port: number, tokenRequired: boolean): string {
  const url = statusPageUrl(host, port);
  return tokenRequired
    ? `Status page: ${url}?token=<the http token>  (the daemons require http.token / http.tokenFile)\n`
    : `Status page: ${url}\n`;
}

/** Fields every line carries that the pretty form shows elsewhere (daemon) or nobody needs at a terminal. */
const HIDDEN = 'pid,host,hostname,version,daemon';

/**
 * A formatter for one daemon's output lines. Pretty: a JSON log line becomes
 * `[12:00:01.234] INFO: scheduler: message {"job":"flux",...}` (errors with their stack below); anything
 * else (a line that is not a log object) is kept as is. Plain: `[daemon] line`, unchanged.
 */
export function lineFormatter(
  daemon: string,
  pretty: { colorize: boolean } | null,
): (line: string) => string {
  if (!pretty) return (line) => `[${daemon}] ${line}\n`;
  const format = prettyFactory({
    colorize: pretty.colorize,
    translateTime: 'UTC:HH:MM:ss.l',
    ignore: HIDDEN,
    messageFormat: `${daemon}: {msg}`,
    singleLine: true,
  });
  return (line) => {
    if (!line.startsWith('{')) return `[${daemon}] ${line}\n`;
    const out = format(line);
    return out.endsWith('\n') ? out : `${out}\n`;
  };
}
