export { loadConfigFile, parseConfig, readSecret } from './load.js';
export { redact, REDACTED, isSecretKey, knownSecrets, configScrubber } from './redact.js';
export { configSchema, DAEMON_SECTIONS, type Config, type RawConfig, type DaemonSection } from './schema.js';
export type { SchemaContext } from './fields.js';
