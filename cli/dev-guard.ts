// Preloaded (`node --import`) into every daemon `contimg dev` starts; never under systemd. dev starts each
// daemon in its own process group, so the terminal's Ctrl-C (SIGINT to the foreground group) reaches dev
// alone and dev sends each daemon exactly one SIGTERM: a daemon counts a second signal as "exit now, without
// draining". In its own group a daemon would also survive dev's death, so this module ties its life to dev's:
// its stdin is a pipe from dev that nothing writes to, and the kernel closes dev's end when dev exits in any
// way (SIGKILL included). At end of file the daemon sends itself SIGTERM, the signal systemd would send, and
// drains as usual; unless a signal already reached it (dev is stopping it), so that is never a second one.
import { isMainThread } from 'node:worker_threads';

let signalled = false;
const seen = (sig: NodeJS.Signals): void => {
  signalled = true;
  // Before the daemon's own handler is installed (while it loads), a signal does what it does without us.
  if (process.listenerCount(sig) === 1) {
    process.off('SIGTERM', seen).off('SIGINT', seen);
    process.kill(process.pid, sig);
  }
};
function parentGone(): void {
  if (signalled) return;
  signalled = true;
  process.kill(process.pid, 'SIGTERM');
}

// Preloads run in worker threads too (the thumbnail worker's render threads), whose stdin is not dev's pipe.
if (isMainThread) {
  process.on('SIGTERM', seen).on('SIGINT', seen);
  process.stdin.on('end', parentGone).on('close', parentGone).on('error', parentGone);
  process.stdin.resume();
  // Reading stdin must not keep a drained daemon alive.
  (process.stdin as { unref?: () => void }).unref?.();
}
