// Base-name globs with * and ? (no path separators), as config lists of file names use them (the thumbnail
// worker's includeGlobs, the mosaic planner's inputGlobs).
export function globToRegExp(glob: string): RegExp {
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}
