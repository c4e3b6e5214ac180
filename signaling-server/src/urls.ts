/** The addresses the server prints and returns: where to join a run and where to watch it. */
import { networkInterfaces } from 'node:os';

export class PublicUrls {
  constructor(readonly base: string) {}

  join(runId: string, token: string): string {
    return `${this.base}/join/${runId}?token=${encodeURIComponent(token)}`;
  }

  overview(runId: string): string {
    return `${this.base}/runs/${runId}`;
  }
}

/**
 * http://HOST:PORT as others can reach it: a wildcard address (0.0.0.0, ::) is replaced by this machine's
 * first external IPv4 address (or localhost), since nobody can connect to a wildcard.
 */
export function publicBase(host: string, port: number): string {
  let shown = host;
  if (host === '0.0.0.0' || host === '::' || host === '') {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    shown = external?.address ?? 'localhost';
  }
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}
