/**
 * A round-robin TCP load balancer on loopback, as a deployment puts in front of its server processes:
 * each connection goes to the next backend that accepts it. Peers speak WebSocket only, so no stickiness
 * is needed; a backend that is gone is skipped.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type Balancer = { url: string; close(): Promise<void> };

export async function startBalancer(backends: readonly number[]): Promise<Balancer> {
  let next = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    client.pause();
    const tryBackend = (tries: number) => {
      if (tries === backends.length) return void client.destroy();
      const port = backends[next++ % backends.length];
      const upstream = connect(port, '127.0.0.1');
      upstream.once('error', () => {
        upstream.destroy();
        tryBackend(tries + 1);
      });
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        open.add(upstream);
        upstream.once('close', () => open.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.once('close', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
    };
    tryBackend(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
