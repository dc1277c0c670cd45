// UVH5 (pyuvdata's HDF5 layout) for the daemons: superblock check, header reader, DSA-110 writer, times.
export type { Uvh5Header } from './types.js';
export {
  checkSuperblock,
  parseSuperblock,
  type SuperblockResult,
  type SuperblockReason,
} from './superblock.js';
export { inspectUvh5, readUvh5Header, type Uvh5Inspection, type Uvh5Reason } from './header.js';
export { jdToUnixMs, unixMsToJd, headerMidJd } from './time.js';
export { writeSubbandFile, subbandFileName, subbandFreqsHz, DSA110, type SubbandSpec } from './writer.js';
export { checkObservation, type ObservationSummary, type SubbandHeader } from './consistency.js';
