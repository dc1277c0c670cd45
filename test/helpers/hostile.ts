// Arguments and path parts a shell would mangle if quoting were wrong: every one must reach a program byte-exact.
export const HOSTILE_ARGS = [
  'a b  c',
  "it's",
  "''",
  '"double"',
  '$HOME ${PATH:-x} $(id) $((1+1))',
  '`id`',
  'line1\nline2\n',
  'tab\there',
  '\\backslash\\\\',
  '*?[a-z]',
  '; rm -rf / #',
  '-n',
  '#SBATCH --time=1',
  'ünïcødé ✓',
  ' ',
];
