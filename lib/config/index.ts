export { loadConfigFile, parseConfig, readSecret } from './load.js';
export { configNotice, findConfig, locateConfig, type LocatedConfig } from './locate.js';
export { redact, REDACTED, isSecretKey, knownSecrets, configScrubber } from './redact.js';
export { configSchema, DAEMON_SECTIONS, type Config, type RawConfig, type DaemonSection } from './schema.js';
export type { SchemaContext } from './fields.js';
