// The h5wasm-backed header reader (header.ts), loaded the first time a daemon has a file to read: importing it
// instantiates HDF5's WebAssembly build, about 40 MB of resident memory that an idle daemon need not carry
// (docs/performance.md). Reads stay synchronous once it is loaded; only the load is asynchronous, so a daemon
// loop checks `get()`, and when it is missing awaits `load()` and looks again.
import type * as HeaderModule from './header.js';

export type HeaderReader = Pick<typeof HeaderModule, 'inspectUvh5' | 'readUvh5Header'>;

let loaded: HeaderReader | undefined;
let loading: Promise<HeaderReader> | undefined;

export const headerReader = {
  /** The reader if it has been loaded in this process, else undefined. */
  get(): HeaderReader | undefined {
    return loaded;
  },
  /** Load the reader (once per process; a failed load is tried again by the next call). */
  load(): Promise<HeaderReader> {
    loading ??= import('./header.js').then(
      (m) => (loaded = m),
      (e: unknown) => {
        loading = undefined;
        throw e;
      },
    );
    return loading;
  },
};
