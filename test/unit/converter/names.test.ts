import { describe, expect, it } from 'vitest';
import { parseSubbandName, tsNameOf } from '../../../daemons/streaming-converter/names.js';

describe('parseSubbandName', () => {
  it.each([
    ['2025-06-01T12:00:00_sb00.hdf5', 0, Date.UTC(2025, 5, 1, 12, 0, 0)],
    ['2025-06-01T12:00:59_sb15.hdf5', 15, Date.UTC(2025, 5, 1, 12, 0, 59)],
    ['2024-02-29T23:59:59_sb07.hdf5', 7, Date.UTC(2024, 1, 29, 23, 59, 59)],
  ])('accepts %s', (name, sb, ms) => {
    expect(parseSubbandName(name, 16)).toEqual({
      ok: true,
      name,
      tsName: name.slice(0, 19),
      tsMs: ms,
      subband: sb,
    });
  });

  it.each([
    ['.2025-06-01T12:00:00_sb01.hdf5', 'dotfile'],
    ['x2025-06-01T12:00:00_sb01.hdf5', 'pattern'],
    ['foo_2025-06-01T12:00:00_sb01.hdf5', 'pattern'],
    ['2025-06-01T12:00:00_sb16.hdf5', 'subband_range'],
    ['2025-06-01T12:00:00_sb99.hdf5', 'subband_range'],
    ['2025-06-01T12:00:00_sb1.hdf5', 'pattern'],
    ['2025-06-01T12:00:00_SB01.hdf5', 'pattern'],
    ['2025-06-01T12:00:00_sb01.hdf5.tmp', 'temp_suffix'],
    ['2025-06-01T12:00:00_sb01.hdf5.part', 'temp_suffix'],
    ['2025-06-01T12:00:00_sb01.h5', 'pattern'],
    ['2025-13-40T25:61:61_sb01.hdf5', 'bad_date'],
    ['2025-02-29T00:00:00_sb01.hdf5', 'bad_date'],
    ['2025-06-01 12:00:00_sb01.hdf5', 'pattern'],
  ])('rejects %s (%s)', (name, reason) => {
    expect(parseSubbandName(name, 16)).toEqual({ ok: false, name, reason });
  });

  it('bounds the subband by expectedSubbands', () => {
    expect(parseSubbandName('2025-06-01T12:00:00_sb08.hdf5', 8).ok).toBe(false);
    expect(parseSubbandName('2025-06-01T12:00:00_sb07.hdf5', 8).ok).toBe(true);
  });

  it('tsNameOf prints the name form', () => {
    expect(tsNameOf(Date.UTC(2025, 0, 1, 0, 0, 0, 999))).toBe('2025-01-01T00:00:00');
  });
});
