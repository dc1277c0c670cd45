// systemd notification (sd_notify) without a native addon. Node has no AF_UNIX datagram socket, so one
// long-lived python3 child (spawned with an argument array, no shell) reads JSON strings from stdin, sends
// each as one datagram to $NOTIFY_SOCKET (a leading @ means the abstract namespace) and acknowledges it on
// stdout. The datagrams come from the helper's PID, not the main PID, so units need NotifyAccess=all (see
// docs/runbook.md for the trade-off). Without NOTIFY_SOCKET every call is a no-op.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from './log.js';

// The helper ignores SIGINT/SIGTERM (a Ctrl-C or a control-group kill must not silence STOPPING=1); it
// exits when node closes its stdin, which also happens when node dies.
const HELPER = `
import json, signal, socket, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
path = sys.argv[1]
addr = "\\0" + path[1:] if path.startswith("@") else path
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for line in sys.stdin:
    try:
        s.sendto(json.loads(line).encode("utf-8"), addr)
        sys.stdout.write("ok\\n")
    except Exception as e:
        sys.stderr.write("sd_notify helper: %s\\n" % e)
        sys.stdout.write("err\\n")
    sys.stdout.flush()
`;

export interface SystemdNotifyOptions {
  /** The environment to read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from. */
  env: Record<string, string | undefined>;
  pid: number;
  log: Logger;
  /** The interpreter for the helper; python3 is on every DSA-110 host. */
  python?: string;
  /**
   * How long one notification may wait for the helper's acknowledgement (default 2000 ms). A wedged helper
   * must not hold up the drain, which awaits STOPPING=1 before it stops the daemon's work.
   */
  ackTimeoutMs?: number;
}

/** A liveness probe for the watchdog: true (or resolves true) when the daemon is healthy. */
export type LivenessProbe = () => boolean | Promise<boolean>;

export class SystemdNotifier {
  /** Half of WATCHDOG_USEC in ms when systemd's watchdog is on for this process, else undefined. */
  readonly watchdogIntervalMs: number | undefined;
  private readonly opts: SystemdNotifyOptions;
  private readonly socketPath: string | undefined;
  private helper: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  private readonly pending: ((ok: boolean) => void)[] = [];
  private dead = false;
  private watchdogTimer: NodeJS.Timeout | undefined;

  constructor(opts: SystemdNotifyOptions) {
    this.opts = opts;
    this.socketPath = opts.env.NOTIFY_SOCKET || undefined;
    const usec = Number(opts.env.WATCHDOG_USEC ?? NaN);
    const wdPid = opts.env.WATCHDOG_PID;
    const forUs = wdPid === undefined || wdPid === '' || Number(wdPid) === opts.pid;
    this.watchdogIntervalMs =
      this.socketPath && forUs && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : undefined;
  }

  get enabled(): boolean {
    return this.socketPath !== undefined && !this.dead;
  }

  ready(status?: string): Promise<boolean> {
    return this.send(status ? `READY=1\nSTATUS=${oneLine(status)}` : 'READY=1');
  }

  status(text: string): Promise<boolean> {
    return this.send(`STATUS=${oneLine(text)}`);
  }

  watchdog(): Promise<boolean> {
    return this.send('WATCHDOG=1');
  }

  stopping(status?: string): Promise<boolean> {
    return this.send(status ? `STOPPING=1\nSTATUS=${oneLine(status)}` : 'STOPPING=1');
  }

  /**
   * Send WATCHDOG=1 every WATCHDOG_USEC/2, but only when the probe passes: a wedged daemon stops pinging
   * and systemd restarts it. No-op when the watchdog is off.
   */
  startWatchdog(probe: LivenessProbe): void {
    const every = this.watchdogIntervalMs;
    if (every === undefined || this.watchdogTimer) return;
    let running = false;
    const tick = async (): Promise<void> => {
      // One tick at a time: a slow probe or helper must not pile up pings that pass after the probe fails.
      if (running) return;
      running = true;
      try {
        await this.watchdogTick(probe);
      } finally {
        running = false;
      }
    };
    // One ping at once: the watchdog runs from unit start, and start-up has used part of the window.
    void tick();
    this.watchdogTimer = setInterval(() => void tick(), every);
    this.watchdogTimer.unref();
  }

  private async watchdogTick(probe: LivenessProbe): Promise<void> {
    let ok = false;
    try {
      ok = await probe();
    } catch (e) {
      this.opts.log.warn({ err: e }, 'liveness probe threw');
    }
    if (ok) await this.watchdog();
    else this.opts.log.warn('liveness probe failed: not sending WATCHDOG=1');
  }

  /** Stop the watchdog and let the helper exit once everything queued has been sent. */
  async close(): Promise<void> {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
    const h = this.helper;
    if (!h || h.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        h.kill('SIGKILL');
        resolve();
      }, 2_000);
      h.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      h.stdin.end();
    });
  }

  /** Send one notification; resolves true once the datagram was sent, false if it could not be. */
  send(message: string): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false);
    const h = this.ensureHelper();
    if (!h) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      // The slot stays queued after a timeout so a late ack still pairs with its own message.
      const timer = setTimeout(() => {
        this.opts.log.warn(
          { message: message.split('\n')[0] },
          'sd_notify helper did not acknowledge in time',
        );
        resolve(false);
      }, this.opts.ackTimeoutMs ?? 2_000);
      timer.unref();
      this.pending.push((ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
      h.stdin.write(`${JSON.stringify(message)}\n`);
    });
  }

  private ensureHelper(): ChildProcessByStdio<Writable, Readable, Readable> | undefined {
    if (this.helper) return this.helper;
    const h = spawn(this.opts.python ?? 'python3', ['-u', '-c', HELPER, this.socketPath as string], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: this.opts.env.PATH ?? '/usr/bin:/bin' },
    });
    this.helper = h;
    readline.createInterface({ input: h.stdout }).on('line', (line) => this.pending.shift()?.(line === 'ok'));
    readline
      .createInterface({ input: h.stderr })
      .on('line', (line) => this.opts.log.warn({ helper: line }, 'sd_notify helper reported an error'));
    const fail = (why: string, err?: unknown): void => {
      if (!this.dead)
        this.opts.log.error({ err, why }, 'sd_notify helper is gone: systemd notifications disabled');
      this.dead = true;
      for (const resolve of this.pending.splice(0)) resolve(false);
    };
    h.on('error', (e) => fail('spawn failed', e));
    h.on('exit', (code, sig) => {
      if (code !== 0 || this.pending.length > 0) fail(`exited code=${code} signal=${sig}`);
    });
    h.stdin.on('error', (e) => fail('stdin closed', e));
    // close() ends stdin and the helper exits; lib/daemon calls it on every way out.
    return h;
  }
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 400);
}
