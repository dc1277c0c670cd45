// lib/astro: pure, clock-free astronomy for a meridian transit array (see docs/pointing-monitor.md).
export * from './time.js';
export * from './site.js';
export * from './sidereal.js';
export { apparentPlace, type Equatorial } from './apparent.js';
export * from './transit.js';
export * from './beam.js';
export * from './dut1.js';
export * from './calibrators.js';
