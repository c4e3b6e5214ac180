/**
 * The signaling server as `npm start` runs it (signaling-server/src/main.ts in its own process): a bad flag
 * exits with status 2, naming the flag, and the usage; a good start prints every run's join URL (whose
 * token admits a peer) and overview URL, stops on SIGTERM, and after a restart says who may resume.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestClient } from '../../signaling-server/testing/test-client';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = 'signaling-server/src/main.ts';

let dataDir: string;
let children: ChildProcess[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'signaling-cli-'));
});

afterEach(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  children = [];
  rmSync(dataDir, { recursive: true, force: true });
});

function server(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, PORT: undefined, ...env },
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    /** Resolves with stdout once it contains `text`. */
    async printed(text: string, timeoutMs = 20_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (!stdout.includes(text)) {
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`no "${text}" (exit ${child.exitCode}); stdout:\n${stdout}\nstderr:\n${stderr}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return stdout;
    },
  };
}

describe('npm start', () => {
  it('exits with status 2, the flag at fault and the usage on a bad value', async () => {
    const bad = server(['--port', '0', '--data-dir', dataDir, '--encoding', 'fp8']);
    expect(await bad.exited).toBe(2);
    const { stdout, stderr } = bad.output();
    expect(stderr).toMatch(/^error: --encoding: .*"fp32"\|"bf16"\|"fp16"\|"int8" \(got "fp8"\)/);
    expect(stderr).toContain('usage: npm start -- [options]');
    expect(stdout).toBe('');
  });

  it('prints the join and overview URL of every run, admits a peer with that URL, and keeps it over a restart', async () => {
    const first = server(['--data-dir', dataDir, '--preset', 'tiny', '--topology', 'exp'], { PORT: '0' });
    const banner = await first.printed('admin token');
    expect(banner).toMatch(/run "default": tiny GPT on the Brown corpus \(exp, demuon\)/);
    expect(banner).toMatch(/trains: +tiny GPT, exp, demuon η 0\.05 \(linear\), data iid/);
    const join = /join: +(http:\/\/127\.0\.0\.1:(\d+)\/join\/default\?token=([\w-]+))/.exec(banner);
    expect(join).not.toBeNull();
    const base = `http://127.0.0.1:${join![2]}`;
    expect(banner).toContain(`overview: ${base}/runs/default`);
    expect((await fetch(`${base}/runs/default`)).status).toBe(200);

    const peer = await TestClient.connect(base);
    try {
      const ack = await peer.join('default', join![3]);
      expect(ack.run.model.preset).toBe('tiny');
      expect(ack.heartbeatMs).toBe(1000);
      await peer.epoch(0);
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(first.output().stdout).toMatch(/stopping/);
    } finally {
      peer.close();
    }

    // The same flags again: the stored run is unchanged, and its member may resume.
    const second = server(['--port', '0', '--data-dir', dataDir, '--preset', 'tiny', '--topology', 'exp']);
    const again = await second.printed('admin token');
    expect(again).toContain(`token=${join![3]}`);
    expect(again).toMatch(/resuming: 1 peer\(s\) of epoch 1 from before the restart/);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
