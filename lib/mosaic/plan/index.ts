// Mosaic planning, pure (docs/mosaicking.md "Planning"): the scheduler's loader gathers candidates, this
// decides the units.
export * from './types.js';
export { planMosaics } from './plan.js';
export { judge, globToRegExp, isContinuumPlane } from './eligibility.js';
export {
  deepName,
  unitMemoryBytes,
  gridFor,
  inputsHash,
  splitToFit,
  stripLabel,
  unitName,
} from './describe.js';
export { cutRuns } from './sequence.js';
