// A free loopback TCP port for a daemon the test spawns with a fixed port in its config.
import net from 'node:net';

/** Bind port 0 on 127.0.0.1, read the port the kernel chose, release it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
