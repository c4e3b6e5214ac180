/** Per test: a fresh data directory, and the servers and clients the test starts, all closed after it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { SignalingServer } from '../../signaling-server/src';
import type { TestClient } from '../../signaling-server/testing/test-client';

export function signalingTestEnv(prefix: string) {
  const env = { dataDir: '', servers: [] as SignalingServer[], clients: [] as TestClient[] };
  beforeEach(() => {
    env.dataDir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const client of env.clients.splice(0)) client.close();
    for (const server of env.servers.splice(0)) await server.close();
    rmSync(env.dataDir, { recursive: true, force: true });
  });
  return env;
}
