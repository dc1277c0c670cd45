// The built-in conversion check's arguments, apart from the streamingConverter schema so `contimg dev` can
// name them without loading the schema (the CLI's command definitions must stay light).

/** The built-in conversion check's arguments after the `contimg` command (the local default converter). */
export const CONVERT_CHECK_ARGS: readonly string[] = Object.freeze([
  'convert-check',
  '--manifest',
  '{manifest}',
  '--out',
  '{out}',
  '--result',
  '{result}',
]);
