// astropy's stretches on [0, 1] and the map from a value to a palette index through a lookup table.
export type StretchName = 'linear' | 'sqrt' | 'asinh' | 'log';

export interface StretchParams {
  /** asinh: astropy AsinhStretch a (default 0.1); log: LogStretch a (default 1000). */
  a?: number;
}

export function stretchFn(name: StretchName, params: StretchParams = {}): (x: number) => number {
  switch (name) {
    case 'linear':
      return (x) => x;
    case 'sqrt':
      return Math.sqrt;
    case 'asinh': {
      const a = params.a ?? 0.1;
      const norm = Math.asinh(1 / a);
      return (x) => Math.asinh(x / a) / norm;
    }
    case 'log': {
      const a = params.a ?? 1000;
      const norm = Math.log(a + 1);
      return (x) => Math.log(a * x + 1) / norm;
    }
  }
}

/** What the indexer returns for a pixel without data. */
export const NAN_INDEX = 256;

/**
 * Value → colour-map bin 0..255, or NAN_INDEX for non-finite values: normalise with vmin/vmax, clip to
 * [0, 1], stretch, then matplotlib's floor(x·256) with 1.0 in the top bin. vmin = vmax (a constant image)
 * maps everything to bin 0 without dividing by zero.
 */
export function makeIndexer(
  vmin: number,
  vmax: number,
  stretch: StretchName,
  params: StretchParams = {},
): (v: number) => number {
  const f = stretchFn(stretch, params);
  const span = vmax - vmin;
  const top = Math.min(255, Math.floor(f(1) * 256));
  return (v) => {
    if (v - v !== 0) return NAN_INDEX;
    const x = span > 0 ? (v - vmin) / span : 0;
    if (!(x > 0)) return 0;
    if (x >= 1) return top;
    const k = Math.floor(f(x) * 256);
    return k > 255 ? 255 : k;
  };
}
