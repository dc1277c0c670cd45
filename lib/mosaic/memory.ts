// The mosaic builder's memory model, shared by the planner (which splits a unit in RA, or refuses it, when the
// model exceeds the builder's memory limit) and the reference builder (which refuses a manifest whose grid
// would not fit, `grid_too_large`). Measured (docs/mosaic-builder.md, "Figures"): two float64 accumulators over
// the canvas (16 B per pixel) and a footprint bitmask (⅛ B), one input plane at a time (up to 8 B per pixel for
// float64 data), and about 50 MiB of Node; the 128 MiB constant leaves the rest as headroom. A full DSA-110
// science segment peaks at 0.89 of it.
const MIB = 1024 * 1024;

export function estimateMemoryBytes(canvasPixels: number, largestInputPixels: number): number {
  return Math.ceil(16.125 * canvasPixels) + 8 * largestInputPixels + 128 * MIB;
}
