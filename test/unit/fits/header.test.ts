// Header cards: values, CONTINUE, HISTORY, HIERARCH, END detection and the block cap.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BLOCKS, parseCard, parseHeaderText, readHeaderAt } from '../../../lib/fits/index.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { card, rawFits } from './helpers.js';

let dir: string;
beforeEach(() => (dir = makeTmpDir('fits-header-')));
afterEach(() => removeTmpDir(dir));

const pad = (s: string) => s.padEnd(80);

describe('parseCard', () => {
  it('parses strings with escaped quotes, logicals, integers, D-exponent floats and comments', () => {
    expect(parseCard(pad("OBJECT  = 'O''Brien field'      / the target"))).toMatchObject({
      keyword: 'OBJECT',
      value: "O'Brien field",
      type: 'string',
      comment: 'the target',
    });
    expect(parseCard(pad('SIMPLE  =                    T'))).toMatchObject({ value: true, type: 'logical' });
    expect(parseCard(pad('NAXIS1  =                 4096 / x'))).toMatchObject({
      value: 4096,
      type: 'integer',
    });
    expect(parseCard(pad('CDELT1  =      -1.3888889D-04'))).toMatchObject({
      value: -1.3888889e-4,
      type: 'float',
    });
    expect(parseCard(pad("BUNIT   = 'JY/BEAM '"))).toMatchObject({ value: 'JY/BEAM' });
    expect(parseCard(pad('HISTORY AIPS   CLEAN BMAJ=  1.0E-03'))).toMatchObject({
      type: 'commentary',
      value: 'AIPS   CLEAN BMAJ=  1.0E-03',
    });
    expect(parseCard(pad('HIERARCH ESO DET CHIP = 3 / chip'))).toMatchObject({
      keyword: 'ESO.DET.CHIP',
      value: 3,
    });
  });
});

describe('parseHeaderText', () => {
  it('joins CONTINUE long strings and keeps the first occurrence of a keyword', () => {
    const h = parseHeaderText(
      [
        pad("LONGSTR = 'first part &'"),
        pad("CONTINUE  'second part &'"),
        pad("CONTINUE  'end'"),
        pad("OBJECT  = 'A'"),
        pad("OBJECT  = 'B'"),
        pad('HISTORY one'),
        pad('HISTORY two'),
        pad('END'),
      ].join(''),
    );
    expect(h.values.get('LONGSTR')).toBe('first part second part end');
    expect(h.values.get('OBJECT')).toBe('A');
    expect(h.history).toEqual(['one', 'two']);
    expect(h.headerBytes).toBe(2880);
  });
});

describe('readHeaderAt', () => {
  it('parses a 44 000-card HISTORY header (CARTA hung on one) in one linear pass', () => {
    const cards = [card('SIMPLE', 'T'), card('BITPIX', '8'), card('NAXIS', '0')];
    for (let i = 0; i < 44_000; i++) cards.push(`HISTORY line ${i}`);
    const p = path.join(dir, 'history.fits');
    fs.writeFileSync(p, rawFits(cards));
    const fd = fs.openSync(p, 'r');
    const h = readHeaderAt(fd, 0);
    fs.closeSync(fd);
    expect(h.history).toHaveLength(44_000);
    expect(h.history[43_999]).toBe('line 43999');
    expect(h.headerBytes).toBe(Math.ceil(44_004 / 36) * 2880);
  });

  it('gives HEADER_TOO_LARGE after maxBlocks blocks without END, and NO_END at EOF on a block boundary', () => {
    const cards = [card('SIMPLE', 'T'), card('BITPIX', '8'), card('NAXIS', '0')];
    for (let i = 0; i < 36 * (DEFAULT_MAX_BLOCKS + 1); i++) cards.push(`COMMENT ${i}`);
    const big = rawFits(cards).subarray(0, 2880 * (DEFAULT_MAX_BLOCKS + 1));
    const p = path.join(dir, 'big.fits');
    fs.writeFileSync(p, big);
    const fd = fs.openSync(p, 'r');
    expect(() => readHeaderAt(fd, 0)).toThrow(expect.objectContaining({ code: 'HEADER_TOO_LARGE' }));
    expect(() => readHeaderAt(fd, 0, { maxBlocks: DEFAULT_MAX_BLOCKS + 5 })).toThrow(
      expect.objectContaining({ code: 'NO_END' }),
    );
    fs.closeSync(fd);
  });

  it('gives TRUNCATED_HEADER (retryable) when the file ends mid-block', () => {
    const p = path.join(dir, 'mid.fits');
    fs.writeFileSync(
      p,
      rawFits([
        card('SIMPLE', 'T'),
        card('BITPIX', '8'),
        card('NAXIS', '0'),
        ...Array(40).fill('COMMENT x'),
      ]).subarray(0, 2880 + 100),
    );
    const fd = fs.openSync(p, 'r');
    expect(() => readHeaderAt(fd, 0)).toThrow(
      expect.objectContaining({ code: 'TRUNCATED_HEADER', retryable: true }),
    );
    fs.closeSync(fd);
  });
});
