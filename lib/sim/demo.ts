// The demo's data source (`contimg dev`, the ops tests, the scrape bench): DSA-110 subband files for each
// observation and, once its last subband is written, the image the imaging pipeline would make of it,
// registered in the pipeline database so the thumbnail worker renders it.
import path from 'node:path';
import { openDb } from '../db/index.js';
import { writeObservationImage } from './fits-images.js';
import { DSA110 } from '../uvh5/writer.js';
import { simulate, type SimOptions } from './subbands.js';

export interface DemoOptions extends Omit<SimOptions, 'onFile'> {
  imageDir: string;
  pipelinePath: string;
  /** The converter's output for a group: what each image names as its measurement set (images.ms_path). */
  msPathOf?: (groupId: string) => string;
  /** Called when an observation (all subbands and its image) is complete. */
  onObservation?: (groupId: string) => void;
}

/** Run the simulator with images; resolves with the number of observations written. */
export async function simulateDemo(o: DemoOptions): Promise<number> {
  const pipelineDb = openDb({ name: 'pipeline', path: o.pipelinePath });
  const last = DSA110.nSubbands - 1;
  try {
    return await simulate({
      ...o,
      onFile: ({ path: p, subband, group }) => {
        if (subband !== last) return;
        const groupId = path.basename(p).slice(0, 19);
        writeObservationImage({
          dir: o.imageDir,
          groupId,
          seed: group + 1,
          pipelineDb,
          msPath: o.msPathOf?.(groupId),
        });
        o.onObservation?.(groupId);
      },
    });
  } finally {
    pipelineDb.close();
  }
}
