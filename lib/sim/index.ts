// The simulator: DSA-110 subband files (this folder) and, where present, FITS images (fits-images.ts).
export {
  FAULTS,
  jitterSeconds,
  parseFault,
  simulate,
  waitBeforeGroupMs,
  writeGroup,
  type Fault,
  type FaultKind,
  type SimOptions,
} from './subbands.js';
