// Real peers on loopback for the alert dispatcher's tests: an HTTP server that answers like Slack's incoming
// webhooks (or any webhook consumer) from a script of answers (status, Retry-After, hang, reset), and an
// smtp-server that accepts, answers 451 at RCPT, 535 at AUTH or never answers DATA, keeping every message
// parsed with mailparser.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export type HttpAnswer =
  { status: number; body?: string; headers?: Record<string, string> } | 'hang' | 'reset';

export interface RecordedRequest {
  /** Real time (ms) the request arrived. */
  at: number;
  /** The test clock's time when it arrived (rate limits and retry times are in test-clock time). */
  clockAt: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  json: Record<string, unknown>;
  /** The answer given (status), or 'hang' / 'reset'. */
  answer: number | 'hang' | 'reset';
}

/** A scripted HTTP peer: answers come from `script` in order, then `fallback` (200 "ok"). */
export class HttpPeer {
  readonly requests: RecordedRequest[] = [];
  script: HttpAnswer[] = [];
  fallback: HttpAnswer = { status: 200, body: 'ok' };
  port = 0;
  /** The test clock, to stamp requests with. */
  clock: () => number = Date.now;
  /** Answer this long after the request arrived (a slow receiver). */
  delayMs = 0;
  private server: http.Server | undefined;
  private hung: http.ServerResponse[] = [];

  async start(port = 0): Promise<number> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        const answer = this.script.shift() ?? this.fallback;
        this.requests.push({
          at: Date.now(),
          clockAt: this.clock(),
          path: req.url ?? '/',
          headers: req.headers,
          raw,
          json,
          answer: typeof answer === 'string' ? answer : answer.status,
        });
        if (answer === 'hang') {
          this.hung.push(res);
          return;
        }
        if (answer === 'reset') {
          req.socket.destroy();
          return;
        }
        const reply = (): void => {
          res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
          res.end(answer.body ?? (answer.status === 200 ? 'ok' : 'error'));
        };
        if (this.delayMs > 0) setTimeout(reply, this.delayMs);
        else reply();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/services/T000/B000/secret`;
  }

  /** Requests answered 2xx. */
  get delivered(): RecordedRequest[] {
    return this.requests.filter((r) => typeof r.answer === 'number' && r.answer < 300);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    for (const r of this.hung.splice(0)) r.socket?.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = undefined;
  }
}

export interface SmtpFaults {
  /** Answer 451 at RCPT TO in this many sessions (attempts), then accept. */
  rcpt451?: number;
  /** Never answer the end of DATA. */
  hangData?: boolean;
  /** Refuse AUTH with 535. */
  auth535?: boolean;
  /** Answer 550 at RCPT TO. */
  rcpt550?: boolean;
  /** Answer 451 at the next this many RCPT TO commands, whatever the session. */
  rcpt451Next?: number;
}

export class SmtpPeer {
  readonly messages: ParsedMail[] = [];
  readonly raw: string[] = [];
  /** When each message's DATA ended (before parsing). */
  readonly receivedAt: number[] = [];
  readonly auths: { username?: string; password?: string | null }[] = [];
  rcptAttempts = 0;
  dataAttempts = 0;
  /** SMTP sessions (TCP connections) opened by clients. */
  connections = 0;
  /** The session of each accepted message, and of each RCPT answered 451 by rcpt451Next. */
  readonly dataSessions: string[] = [];
  readonly refusedSessions: string[] = [];
  port = 0;
  faults: SmtpFaults = {};
  private server: SMTPServer | undefined;
  private readonly seen = new Set<string>();
  private readonly greylisted = new Set<string>();

  async start(port = 0, extra: Partial<SMTPServerOptions> = {}): Promise<number> {
    this.server = new SMTPServer({
      authOptional: true,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: 200,
      onConnect: (_s, cb) => {
        this.connections++;
        cb();
      },
      onAuth: (auth, _s, cb) => {
        this.auths.push({ username: auth.username, password: auth.password });
        if (this.faults.auth535)
          return cb(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
        cb(null, { user: auth.username });
      },
      onRcptTo: (_a, session, cb) => {
        this.rcptAttempts++;
        if (this.faults.rcpt550)
          return cb(Object.assign(new Error('No such mailbox'), { responseCode: 550 }));
        if ((this.faults.rcpt451Next ?? 0) > 0) {
          this.faults.rcpt451Next!--;
          this.refusedSessions.push(session.id);
          return cb(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        }
        if (!this.seen.has(session.id) && (this.faults.rcpt451 ?? 0) > 0) {
          this.faults.rcpt451!--;
          this.greylisted.add(session.id);
        }
        this.seen.add(session.id);
        if (this.greylisted.has(session.id))
          return cb(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        cb();
      },
      onData: (stream, session, cb) => {
        this.dataAttempts++;
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (this.faults.hangData) return; // never answer: the client's socket timeout must fire
          this.receivedAt.push(Date.now());
          this.dataSessions.push(session.id);
          const text = Buffer.concat(chunks).toString('utf8');
          this.raw.push(text);
          void simpleParser(text).then((m) => {
            this.messages.push(m);
            cb();
          });
        });
      },
      ...extra,
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.server.address() as AddressInfo).port;
    return this.port;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    const s = this.server;
    this.server = undefined;
    await new Promise<void>((r) => s.close(() => r()));
  }
}
