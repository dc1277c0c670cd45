// The default thumbnail look and the plane-size guard, defined once: the daemon's default preset (the
// thumbnailWorker config schema), the renderer's defaults and the `contimg thumbnail` / `contimg fits stats`
// defaults all read these, so the CLI draws what the daemon draws.
//
// Why linear: zscale limits already span the noise, so asinh lifts the noise into the bright half of the
// colour map (an orange background, washed-out extended emission); a linear stretch keeps the noise dark
// and its texture (stripes, sidelobes) visible while every source stands out.

export const DEFAULT_LOOK = {
  maxDim: 512,
  interval: 'zscale',
  /** zscale contrast; astropy's default is 0.25, the DSA quicklooks use 0.2. */
  contrast: 0.2,
  lowPercent: 1,
  highPercent: 99.5,
  stretch: 'linear',
  colormap: 'inferno',
  nan: 'transparent',
  downsample: 'mean',
  limitsOn: 'thumbnail',
  plane: 'first',
} as const;

/** Planes with more pixels than this are refused (TOO_LARGE) from the header, before any pixel is read. */
export const DEFAULT_MAX_PIXELS = 16384 * 16384;
