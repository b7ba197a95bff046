import net from 'node:net';

/**
 * A loopback port free a moment ago: one the system gave a listener, closed again. For a server a test starts later
 * (a broker restarted on its old port, a URL nothing listens on); another process may take it in between, which on a
 * test machine does not happen in practice.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
