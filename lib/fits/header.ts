// FITS header cards: 80-column records in 2880-byte blocks, ending at an END card. Parsing is one linear
// scan (a 44 000-card HISTORY header hung CARTA v1.4), capped at maxBlocks so a file without END cannot make
// us read forever. Values: quoted strings ('' escapes a quote, trailing blanks dropped), T/F, integers and
// floats (D exponents accepted); long strings continue on CONTINUE cards when they end in '&'.
import fs from 'node:fs';
import { fitsError } from './errors.js';

export const BLOCK = 2880;
export const CARD = 80;
export const DEFAULT_MAX_BLOCKS = 2000;

export type CardValue = string | number | boolean | null;

export interface Card {
  keyword: string;
  value: CardValue;
  /** 'string' | 'logical' | 'integer' | 'float' | 'complex' | 'undefined' (no value) | 'commentary'. */
  type: 'string' | 'logical' | 'integer' | 'float' | 'complex' | 'undefined' | 'commentary';
  comment: string;
  raw: string;
}

export interface FitsHeader {
  cards: Card[];
  /** Keyword → value; the first occurrence wins (commentary cards are not in the map). */
  values: Map<string, CardValue>;
  /** HISTORY card texts in order. */
  history: string[];
  /** Byte offset of the header in the file. */
  offset: number;
  /** Bytes occupied by the header, a multiple of 2880. */
  headerBytes: number;
}

const COMMENTARY = new Set(['COMMENT', 'HISTORY', '']);
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?$/;
const INTEGER_RE = /^[+-]?\d+$/;

/** Parse a quoted string starting at s[0] === "'"; returns the value and where the text after it begins. */
function parseQuoted(s: string): { value: string; rest: string } {
  let out = '';
  let i = 1;
  while (i < s.length) {
    const ch = s[i];
    if (ch === "'") {
      if (s[i + 1] === "'") {
        out += "'";
        i += 2;
        continue;
      }
      return { value: out.replace(/ +$/, ''), rest: s.slice(i + 1) };
    }
    out += ch;
    i++;
  }
  // An unterminated string: keep what there is rather than fail the whole header.
  return { value: out.replace(/ +$/, ''), rest: '' };
}

/** Split "value / comment" for a non-string value field. */
function parseValueField(field: string): { value: CardValue; type: Card['type']; comment: string } {
  const trimmed = field.trimStart();
  if (trimmed.startsWith("'")) {
    const { value, rest } = parseQuoted(trimmed);
    const slash = rest.indexOf('/');
    return { value, type: 'string', comment: slash >= 0 ? rest.slice(slash + 1).trim() : '' };
  }
  const slash = trimmed.indexOf('/');
  const text = (slash >= 0 ? trimmed.slice(0, slash) : trimmed).trim();
  const comment = slash >= 0 ? trimmed.slice(slash + 1).trim() : '';
  if (text === '') return { value: null, type: 'undefined', comment };
  if (text === 'T' || text === 'F') return { value: text === 'T', type: 'logical', comment };
  if (INTEGER_RE.test(text)) return { value: Number(text), type: 'integer', comment };
  if (NUMBER_RE.test(text)) return { value: Number(text.replace(/[Dd]/, 'E')), type: 'float', comment };
  if (text.startsWith('(')) return { value: text, type: 'complex', comment };
  return { value: text, type: 'string', comment };
}

/** Parse one 80-column card. */
export function parseCard(raw: string): Card {
  const keyword = raw.slice(0, 8).trimEnd();
  if (keyword === 'HIERARCH') {
    const eq = raw.indexOf('=', 8);
    if (eq > 0) {
      const v = parseValueField(raw.slice(eq + 1));
      return { keyword: raw.slice(9, eq).trim().replace(/\s+/g, '.'), ...v, raw };
    }
  }
  if (COMMENTARY.has(keyword) || keyword === 'END') {
    return { keyword, value: raw.slice(8).trimEnd(), type: 'commentary', comment: '', raw };
  }
  if (keyword === 'CONTINUE') {
    const v = parseValueField(raw.slice(8));
    return { keyword, ...v, raw };
  }
  if (raw[8] !== '=' || raw[9] !== ' ') {
    // No value indicator: a commentary-style card under another keyword.
    return { keyword, value: raw.slice(8).trimEnd(), type: 'commentary', comment: '', raw };
  }
  return { keyword, ...parseValueField(raw.slice(10)), raw };
}

/** Build the keyword map, joining CONTINUE cards onto strings that end in '&'. */
function collect(cards: Card[]): { values: Map<string, CardValue>; history: string[] } {
  const values = new Map<string, CardValue>();
  const history: string[] = [];
  let open: { keyword: string; text: string } | undefined;
  const flush = (): void => {
    if (open && !values.has(open.keyword)) values.set(open.keyword, open.text.replace(/&$/, ''));
    open = undefined;
  };
  for (const c of cards) {
    if (c.keyword === 'CONTINUE' && open && typeof c.value === 'string') {
      open.text = open.text.replace(/&$/, '') + c.value;
      if (!c.value.endsWith('&')) flush();
      continue;
    }
    flush();
    if (c.type === 'commentary') {
      if (c.keyword === 'HISTORY') history.push(String(c.value));
      continue;
    }
    if (c.type === 'string' && typeof c.value === 'string' && c.value.endsWith('&')) {
      open = { keyword: c.keyword, text: c.value };
      continue;
    }
    if (!values.has(c.keyword)) values.set(c.keyword, c.value);
  }
  flush();
  return { values, history };
}

/** Parse header cards from already-read text (used for tests and in-memory headers). */
export function parseHeaderText(text: string, offset = 0): FitsHeader {
  const cards: Card[] = [];
  let end = -1;
  for (let i = 0; i + CARD <= text.length; i += CARD) {
    const raw = text.slice(i, i + CARD);
    if (raw.startsWith('END') && raw.slice(3).trim() === '') {
      end = i;
      break;
    }
    cards.push(parseCard(raw));
  }
  if (end < 0) throw fitsError('NO_END', 'header has no END card');
  const headerBytes = Math.ceil((end + CARD) / BLOCK) * BLOCK;
  return { cards, ...collect(cards), offset, headerBytes };
}

export interface ReadHeaderOptions {
  maxBlocks?: number;
  /** File size, if the caller already has it (saves an fstat). */
  fileSize?: number;
}

/**
 * Read the header that starts at `offset` of an open file: block by block until END, at most maxBlocks.
 * EOF before END is NO_END when the file ends on a block boundary (the header is simply incomplete and was
 * written that way) and TRUNCATED_HEADER when it ends mid-block (still being written).
 */
export function readHeaderAt(fd: number, offset: number, opts: ReadHeaderOptions = {}): FitsHeader {
  const maxBlocks = opts.maxBlocks ?? DEFAULT_MAX_BLOCKS;
  const size = opts.fileSize ?? fs.fstatSync(fd).size;
  const chunkBlocks = 36;
  const buf = Buffer.allocUnsafe(chunkBlocks * BLOCK);
  const parts: string[] = [];
  let pos = offset;
  for (let blocks = 0; ;) {
    const want = Math.min(chunkBlocks, maxBlocks + 1 - blocks) * BLOCK;
    const n = fs.readSync(fd, buf, 0, want, pos);
    const whole = Math.floor(n / BLOCK);
    if (whole === 0) {
      if (n > 0 || pos < size)
        throw fitsError('TRUNCATED_HEADER', `header ends mid-block at byte ${pos + n}`);
      throw fitsError('NO_END', `no END card before the end of the file (${blocks} blocks read)`);
    }
    const text = buf.toString('latin1', 0, whole * BLOCK);
    const endAt = findEnd(text);
    if (endAt >= 0) {
      if (blocks + Math.floor(endAt / BLOCK) + 1 > maxBlocks) break;
      parts.push(text);
      return parseHeaderText(parts.join(''), offset);
    }
    parts.push(text);
    blocks += whole;
    pos += whole * BLOCK;
    if (blocks >= maxBlocks) break;
    if (n % BLOCK !== 0)
      throw fitsError('TRUNCATED_HEADER', `header ends mid-block at byte ${pos + (n % BLOCK)}`);
  }
  throw fitsError('HEADER_TOO_LARGE', `no END card within ${maxBlocks} header blocks`, { maxBlocks });
}

/** Character offset of the END card in block-aligned text, or −1. */
function findEnd(text: string): number {
  for (let i = 0; i + CARD <= text.length; i += CARD) {
    if (text.charCodeAt(i) === 69 && text.startsWith('END', i) && text.slice(i + 3, i + CARD).trim() === '')
      return i;
  }
  return -1;
}
