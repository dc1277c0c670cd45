// systemd entry point: node dist/daemons/thumbnail-worker/main.js --config /etc/contimg/contimg.yaml
import { runDaemonMain } from '../../lib/daemon/index.js';
import { run } from './run.js';

await runDaemonMain({ name: 'thumbnail-worker', run });
