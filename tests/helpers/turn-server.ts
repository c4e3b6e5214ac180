/**
 * A real TURN server for tests: coturn's `turnserver` (Debian's `coturn`) with the TURN REST scheme
 * (use-auth-secret, static-auth-secret), UDP only, on a free port, no config file, CLI, TLS or database of
 * its own beyond a temporary folder. Resolves once it answers a STUN binding request.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TurnServer {
  /** `turn:HOST:PORT?transport=udp`: what the signaling server's `--turn` takes. */
  readonly url: string;
  readonly port: number;
  /** The static-auth-secret the signaling server mints credentials with. */
  readonly secret: string;
  /** Everything coturn printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface TurnServerOptions {
  /** The address coturn listens on, and relays from unless relayIp is given. */
  readonly listeningIp: string;
  readonly relayIp?: string;
  /**
   * coturn refuses to relay to 127.0.0.0/8 peers unless told to: two peers on one machine that relay
   * through loopback need it.
   */
  readonly allowLoopbackPeers?: boolean;
}

/** Relay ports per server: each peer's allocation takes one. */
const RELAY_PORTS = 64;
const READY_TIMEOUT_MS = 15_000;

/** Where turnserver is, or a message saying how to get it: the relay tests fail without it, never skip. */
export function findTurnserver(): string {
  const found = spawnSync('sh', ['-c', 'command -v turnserver'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    throw new Error(
      "coturn's turnserver is not installed, and the TURN relay tests need a real one: install it " +
        '(Debian/Ubuntu: apt-get install coturn; CI installs it when missing)',
    );
  }
  return path;
}

export async function startTurnServer(options: TurnServerOptions): Promise<TurnServer> {
  const turnserver = findTurnserver();
  const dir = mkdtempSync(join(tmpdir(), 'coturn-'));
  const secret = randomBytes(18).toString('base64url');
  const port = await freeUdpPort(options.listeningIp);
  // A random relay range: coturn skips ports that are taken, so a clash with another process costs nothing.
  const minPort = randomInt(49_152, 65_535 - RELAY_PORTS);
  const args = [
    '-n', // no configuration file: everything is on this command line
    ...['--listening-ip', options.listeningIp, '--listening-port', String(port)],
    ...['--relay-ip', options.relayIp ?? options.listeningIp],
    ...['--min-port', String(minPort), '--max-port', String(minPort + RELAY_PORTS - 1)],
    ...['--use-auth-secret', '--static-auth-secret', secret, '--realm', 'test'],
    ...['--no-tcp', '--no-tls', '--no-dtls', '--no-cli', '--no-tcp-relay', '--no-multicast-peers'],
    ...(options.allowLoopbackPeers ? ['--allow-loopback-peers'] : []),
    ...['--userdb', join(dir, 'turndb'), '--pidfile', join(dir, 'turnserver.pid')],
    ...['--log-file', 'stdout', '--simple-log'],
  ];
  const child = spawn(turnserver, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await answersStun(options.listeningIp, port, child, exited);
  } catch (error) {
    await stop();
    throw new Error(
      `${(error as Error).message}\ncoturn's output:\n${output.split('\n').slice(-30).join('\n')}`,
    );
  }
  return {
    url: `turn:${options.listeningIp}:${port}?transport=udp`,
    port,
    secret,
    output: () => output,
    stop,
  };
}

/** A UDP port nothing listens on at `ip` (the kernel's choice, released just before coturn takes it). */
function freeUdpPort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, ip, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** Resolves once coturn answers a STUN binding request on ip:port; fails if it exits or takes too long. */
async function answersStun(
  ip: string,
  port: number,
  child: ChildProcess,
  exited: Promise<number | null>,
): Promise<void> {
  const socket = createSocket('udp4');
  const request = Buffer.alloc(20);
  request.writeUInt16BE(0x0001, 0); // Binding request, no attributes
  request.writeUInt32BE(0x2112a442, 4); // magic cookie
  randomBytes(12).copy(request, 8); // transaction id
  const answered = new Promise<void>((resolve) =>
    socket.on('message', (message) => {
      // A Binding success response to our transaction.
      if (message.readUInt16BE(0) === 0x0101 && message.subarray(8, 20).equals(request.subarray(8, 20)))
        resolve();
    }),
  );
  const died = exited.then((code) => {
    throw new Error(`turnserver exited (status ${code ?? child.signalCode}) before it answered STUN`);
  });
  // Once it answered, its exit (stop()) is no failure.
  died.catch(() => {});
  // A request sent before coturn listens may come back as an ICMP error: asking again is the answer.
  socket.on('error', () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`turnserver did not answer STUN on ${ip}:${port} within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
  });
  // UDP: ask again until an answer comes (the first requests reach no listener yet).
  const resend = setInterval(() => socket.send(request, port, ip), 100);
  socket.send(request, port, ip);
  try {
    await Promise.race([answered, died, timeout]);
  } finally {
    clearInterval(resend);
    clearTimeout(timer);
    socket.close();
  }
}
