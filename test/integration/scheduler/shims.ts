// PATH shims for systemctl, docker and nvidia-smi (shell scripts answering like the real commands for the
// unit/container names the tests use), and a loopback HTTP server with an endpoint per status.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const SYSTEMCTL = `#!/bin/sh
# systemctl show UNIT --property=LoadState,ActiveState,SubState,Result
echo "$@" >> "$(dirname "$0")/calls.log"
[ "$1" = show ] || { echo "unexpected: $*" >&2; exit 2; }
case "$2" in
  active.service) printf 'SubState=running\\nActiveState=active\\nLoadState=loaded\\nResult=success\\n' ;;
  inactive.service) printf 'LoadState=loaded\\nActiveState=inactive\\nSubState=dead\\nResult=success\\n' ;;
  failed.service) printf 'LoadState=loaded\\nActiveState=failed\\nSubState=failed\\nResult=exit-code\\n' ;;
  activating.service) printf 'LoadState=loaded\\nActiveState=activating\\nSubState=start\\nResult=success\\n' ;;
  notfound.service) printf 'LoadState=not-found\\nActiveState=inactive\\nSubState=dead\\nResult=success\\n' ;;
  sleepy.service) sleep 30; printf 'ActiveState=active\\n' ;;
  unit-*.service) printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nResult=success\\n' ;;
  *) echo "Unit $2 could not be found." >&2; exit 1 ;;
esac
`;

const DOCKER = `#!/bin/sh
# docker inspect --format {{json .State}} NAME
echo "$@" >> "$(dirname "$0")/calls.log"
case "$4" in
  web) echo '{"Status":"running","Running":true,"Health":{"Status":"healthy"}}' ;;
  sick) echo '{"Status":"running","Running":true,"Health":{"Status":"unhealthy"}}' ;;
  loop) echo '{"Status":"restarting","Running":true}' ;;
  *) echo "Error: No such object: $4" >&2; exit 1 ;;
esac
`;

const NVIDIA = `#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls.log"
printf '0, Tesla T4, 80, 45, 1000, 16000, [N/A]\\n1, Tesla T4, 40, 5, 100, 16000, 30.5\\n'
`;

/** A folder of shims; put it first on PATH. */
export function writeShims(dir: string): { bin: string; calls: () => string[]; env: NodeJS.ProcessEnv } {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const [name, body] of [
    ['systemctl', SYSTEMCTL],
    ['docker', DOCKER],
    ['nvidia-smi', NVIDIA],
  ])
    fs.writeFileSync(path.join(bin, name), body, { mode: 0o755 });
  const log = path.join(bin, 'calls.log');
  return {
    bin,
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []),
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
  };
}

/** /ok 200, /missing 404, /broken 503 (until fixed), /hang never answers, /slow answers 200 after delayMs. */
export async function statusServer(delayMs = 200): Promise<{
  url: (p: string) => string;
  fix: () => void;
  requests: () => number;
  /** Requests to /hang whose connection the client still holds open. */
  openHung: () => number;
  close: () => Promise<void>;
}> {
  let broken = true;
  let n = 0;
  let closedHung = 0;
  const hung: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    n++;
    const url = (req.url ?? '').split('?')[0];
    if (url === '/ok') return res.end('ok');
    if (url === '/missing') return res.writeHead(404).end();
    if (url === '/broken') return res.writeHead(broken ? 503 : 200).end();
    if (url === '/slow') return void setTimeout(() => res.end('ok'), delayMs);
    if (url === '/hang') {
      hung.push(res);
      res.on('close', () => (closedHung += 1));
      return;
    }
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    fix: () => (broken = false),
    requests: () => n,
    openHung: () => hung.length - closedHung,
    close: () =>
      new Promise((r) => {
        for (const h of hung) h.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
