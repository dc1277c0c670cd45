// The reference mosaic builder's arguments, apart from the scheduler.mosaic schema so `contimg dev` can name
// them without loading the schema (the CLI's command definitions must stay light).

/** The reference builder's arguments after the `contimg` command (the local default builder). */
export const MOSAIC_BUILD_ARGS: readonly string[] = Object.freeze([
  'mosaic-build',
  '--manifest',
  '{manifest}',
  '--result',
  '{result}',
]);
