export { WsHub, type WsHubOptions } from './hub.js';
export * from './protocol.js';
export { SessionStore } from './sessions.js';
