// The one redaction helper. What counts as a secret (key names in any spelling, every `env` value, the value
// after a secret-looking command-line flag, URL credentials, tokens in query strings) and how it is kept out
// of every output: `redact` for objects (--print-config, log lines, API output), `maskArgv` for command
// lines, and `SecretScrubber` for free text (error messages, child stderr, a channel's error text) that may
// quote a secret the process knows. Pure: no I/O (lib/config's knownSecrets reads the secret files).

export const REDACTED = '[redacted]';

/** Known secret values shorter than this are not scrubbed from free text (they would mangle ordinary words). */
export const MIN_SCRUB_LENGTH = 4;

/** Substrings of a key's letters (separators removed, lower case) that make it a secret. */
const SECRET_PARTS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'webhookurl',
  'credential',
  'privatekey',
  'accesskey',
  'signingkey',
  'encryptionkey',
  'masterkey',
  'sessionkey',
  'authorization',
  'cookie',
];
/** Whole words that make a key a secret (`DB_PASS`, `pwd`, `auth`, `SENTRY_DSN`, a key named `webhook`). */
const SECRET_WORDS = new Set(['pass', 'pwd', 'pw', 'auth', 'dsn', 'bearer', 'webhook']);
/** In flags and query strings a bare `key` or signature is a secret too (`--key X`, `?sig=…`). */
const LOOSE_WORDS = new Set(['key', 'sig', 'signature']);
/** A last word that makes the key a reference to a secret, not the secret: `tokenFile`, `PASSWORD_FILE`. */
const REFERENCE_WORDS = new Set(['file', 'path', 'dir', 'env']);
/** A first word that makes a token-like key a plain number: a lease's `fencingToken` is a counter, not a secret. */
const NOT_SECRET_FIRST_WORDS = new Set(['fencing']);
/** Keys whose every value is a secret, whatever the names inside (a child's environment). */
const ALL_SECRET_CONTAINERS = new Set(['env', 'environment']);
/** Keys holding a command line: masked with maskArgv. */
const ARGV_KEYS = new Set(['argv', 'args', 'command']);

/** A key's words in lower case: camelCase, PascalCase, snake_case, UPPER_SNAKE, kebab-case and dotted. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/**
 * Whether a key (config key, environment variable, header, flag or query parameter name) names a secret.
 * `loose` also counts a bare `key`/`sig`/`signature` word (flags and query strings, not config keys, where
 * `key` is often a sort key or a file name).
 */
export function isSecretKey(key: string, opts: { loose?: boolean } = {}): boolean {
  const words = keyWords(key);
  if (words.length === 0) return false;
  if (REFERENCE_WORDS.has(words[words.length - 1]) && words.length > 1) return false;
  if (NOT_SECRET_FIRST_WORDS.has(words[0]) && words.length > 1) return false;
  const compact = words.join('');
  if (SECRET_PARTS.some((p) => compact.includes(p))) return true;
  return words.some((w) => SECRET_WORDS.has(w) || (opts.loose === true && LOOSE_WORDS.has(w)));
}

// Patterns that find secrets in text without knowing them.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
const QUERY_PARAM = /([?&;])([^=&#\s"'<>]+)=([^&#\s"'<>]*)/g;
const ASSIGNMENT = /(^|[^\w.-])(-{0,2}[A-Za-z_][\w.-]*)=("[^"]*"|'[^']*'|[^\s&;,"']+)/g;
const JSON_PAIR = /"([^"\\]{1,100})"(\s*:\s*)"(?:[^"\\]|\\.)*"/g;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const AUTH_HEADER = /\b(authorization\s*[:=]\s*)(?:(Basic|Bearer|Token|Digest)\s+)?[^\s"',;]+/gi;
const SLACK_HOOK = /\b(hooks\.slack\.com\/)[^\s"'<>]+/gi;
const SLACK_TOKEN = /\bxox[abposr]-[A-Za-z0-9-]{8,}/g;

/** Remove secrets that can be recognised without knowing them: URL credentials, query tokens, bearer tokens, key=value pairs. */
export function scrubPatterns(text: string): string {
  if (text.length === 0) return text;
  return text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(SLACK_HOOK, `$1${REDACTED}`)
    .replace(SLACK_TOKEN, REDACTED)
    .replace(AUTH_HEADER, (_m, head: string, scheme: string | undefined) =>
      scheme ? `${head}${scheme} ${REDACTED}` : `${head}${REDACTED}`,
    )
    .replace(BEARER, `$1 ${REDACTED}`)
    .replace(QUERY_PARAM, (m, sep: string, name: string) =>
      isSecretKey(safeDecode(name), { loose: true }) ? `${sep}${name}=${REDACTED}` : m,
    )
    .replace(ASSIGNMENT, (m, pre: string, name: string) =>
      isSecretKey(name.replace(/^-+/, ''), { loose: name.startsWith('-') }) ? `${pre}${name}=${REDACTED}` : m,
    )
    .replace(JSON_PAIR, (m, name: string, colon: string) =>
      isSecretKey(name) ? `"${name}"${colon}"${REDACTED}"` : m,
    );
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Free-text scrubbing of secrets this process knows (config values, secret files, env values with secret
 * names) plus the patterns above. A URL secret is also registered by its parts (credentials, path, query
 * values, long path segments), so "POST /services/T0/B0/XXXX failed" loses the Slack webhook's path too.
 */
export class SecretScrubber {
  private readonly values = new Set<string>();
  private sorted: string[] | null = null;

  constructor(values: Iterable<string | undefined | null> = []) {
    for (const v of values) this.add(v);
  }

  get size(): number {
    return this.values.size;
  }

  add(value: string | undefined | null): this {
    if (typeof value !== 'string') return this;
    const v = value.trim();
    if (v.length < MIN_SCRUB_LENGTH) return this;
    this.sorted = null;
    this.values.add(v);
    const encoded = encodeURIComponent(v);
    if (encoded !== v) this.values.add(encoded);
    for (const part of urlFragments(v)) if (part.length >= MIN_SCRUB_LENGTH) this.values.add(part);
    return this;
  }

  /** `text` with every known secret and every recognisable one replaced by [redacted]. */
  scrub(text: string): string {
    if (text.length === 0) return text;
    this.sorted ??= [...this.values].sort((a, b) => b.length - a.length);
    let out = text;
    for (const v of this.sorted) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return scrubPatterns(out);
  }
}

/** The parts of a URL that carry its secret: credentials, path (+query), query values, long path segments. */
function urlFragments(v: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return [];
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return [];
  }
  const parts: string[] = [];
  if (u.password) parts.push(safeDecode(u.password), u.password);
  if (u.username && u.password === '') parts.push(safeDecode(u.username));
  if (u.pathname.length >= 8) parts.push(u.pathname + u.search, u.pathname);
  for (const seg of u.pathname.split('/')) if (seg.length >= 16) parts.push(seg);
  for (const [, val] of u.searchParams) if (val.length >= 8) parts.push(val);
  return parts;
}

/**
 * A command line for output: the value after a secret-looking flag (`--password x`, `--api-key x`), the value
 * of `--token=x` and `API_KEY=x`, URL credentials and query tokens are replaced by [redacted]. The argv that
 * runs is never changed: this is only what is logged or shown.
 */
export function maskArgv(argv: readonly string[], scrubber?: SecretScrubber): string[] {
  const out: string[] = [];
  let maskNext = false;
  for (const arg of argv) {
    if (maskNext && !/^-[A-Za-z-]/.test(arg)) {
      out.push(REDACTED);
      maskNext = false;
      continue;
    }
    const flag = /^--?([A-Za-z][\w.-]*)$/.exec(arg);
    maskNext = flag !== null && isSecretKey(flag[1], { loose: true });
    out.push(scrubber ? scrubber.scrub(arg) : scrubPatterns(arg));
  }
  return out;
}

/** The values maskArgv hides (for a scrubber: a converter's stderr may echo its own --password). */
export function argvSecrets(argv: readonly string[]): string[] {
  const found: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = /^--?([A-Za-z][\w.-]*)$/.exec(argv[i]);
    if (
      flag &&
      isSecretKey(flag[1], { loose: true }) &&
      i + 1 < argv.length &&
      !/^-[A-Za-z-]/.test(argv[i + 1])
    )
      found.push(argv[i + 1]);
    const assign = /^-{0,2}([A-Za-z_][\w.-]*)=(.+)$/.exec(argv[i]);
    if (assign && isSecretKey(assign[1], { loose: argv[i].startsWith('-') })) found.push(assign[2]);
  }
  return found;
}

const MAX_DEPTH = 12;

function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  if (
    v instanceof Error ||
    ArrayBuffer.isView(v) ||
    v instanceof Date ||
    v instanceof Map ||
    v instanceof Set
  )
    return false;
  return true;
}

/** Every leaf string or number under a secret key becomes [redacted]; booleans and null say nothing. */
function redactAll(v: unknown, depth: number): unknown {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return REDACTED;
  if (depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) return v.map((x) => redactAll(x, depth + 1));
  if (isPlain(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactAll(x, depth + 1)]));
  return v;
}

function redactValue(
  key: string | undefined,
  v: unknown,
  scrubber: SecretScrubber | undefined,
  depth: number,
): unknown {
  if (key !== undefined) {
    if (ALL_SECRET_CONTAINERS.has(key) && isPlain(v)) return redactAll(v, depth);
    if (isSecretKey(key))
      return v === null || v === undefined || typeof v === 'boolean' ? v : redactAll(v, depth);
    if (ARGV_KEYS.has(key) && Array.isArray(v) && v.every((x) => typeof x === 'string'))
      return maskArgv(v as string[], scrubber);
  }
  if (typeof v === 'string') return scrubber ? scrubber.scrub(v) : scrubPatterns(v);
  if (depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) {
    const out = v.map((x) => redactValue(undefined, x, scrubber, depth + 1));
    return out.some((x, i) => x !== v[i]) ? out : v;
  }
  if (!isPlain(v)) return v;
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const y = redactValue(k, x, scrubber, depth + 1);
    if (y !== x) (out ??= { ...v })[k] = y;
  }
  return out ?? v;
}

/**
 * A copy fit for output: values under secret keys (any spelling; `…File` paths are kept), every value of an
 * `env` map, masked command lines under `argv`, and secrets found in any other string (URL credentials,
 * query tokens, values the scrubber knows). Copies only along the paths it changes; the input is not
 * modified. Errors, buffers and other class instances are returned as they are (see redactError).
 */
export function redact<T>(value: T, scrubber?: SecretScrubber): T {
  return redactValue(undefined, value, scrubber, 0) as T;
}

/** Transport internals that carry a request's URL, headers and body (axios: config/request). */
const ERROR_DROP = new Set(['config', 'request', 'socket', 'agent']);

/**
 * A serialised error ({type, message, stack, …}) for output: transport internals dropped, the rest redacted.
 * Anything else (a thrown string) is redacted as a value.
 */
export function redactError(serialized: unknown, scrubber?: SecretScrubber): unknown {
  if (!isPlain(serialized)) return redact(serialized, scrubber);
  const kept = Object.fromEntries(Object.entries(serialized).filter(([k]) => !ERROR_DROP.has(k)));
  if (isPlain(kept.response)) {
    const r = kept.response;
    kept.response = { status: r.status, statusText: r.statusText };
  }
  return redact(kept, scrubber);
}

/**
 * The secret values found in a config-like object: strings under secret keys, env values whose names are
 * secret, argv values after secret flags, URL credentials in any string, and (through readFile) the contents
 * of `<secret>File` paths. For a SecretScrubber; `env` values with ordinary names (a PATH) are not scrubbed
 * from text, though `redact` hides them all in printed objects.
 */
export function collectSecrets(value: unknown, readFile?: (path: string) => string | undefined): string[] {
  const found: string[] = [];
  const walk = (key: string | undefined, v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    if (typeof v === 'string') {
      if (key !== undefined && isSecretKey(key)) found.push(v);
      else if (key !== undefined && readFile && /File$/.test(key) && isSecretKey(key.slice(0, -4))) {
        const content = readFile(v);
        if (content !== undefined) found.push(content.replace(/\r?\n$/, ''));
      }
      for (const m of v.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/([^\s/?#@"'<>]+)@/gi)) {
        const colon = m[1].indexOf(':');
        found.push(colon < 0 ? m[1] : m[1].slice(colon + 1));
      }
      return;
    }
    if (Array.isArray(v)) {
      if (key !== undefined && ARGV_KEYS.has(key) && v.every((x) => typeof x === 'string'))
        found.push(...argvSecrets(v as string[]));
      for (const x of v) walk(undefined, x, depth + 1);
      return;
    }
    if (isPlain(v)) for (const [k, x] of Object.entries(v)) walk(k, x, depth + 1);
  };
  walk(undefined, value, 0);
  return found;
}
