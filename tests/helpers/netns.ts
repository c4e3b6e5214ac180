/**
 * Two Linux network namespaces that cannot reach each other, for NAT-traversal tests: A (10.77.1.2) and
 * B (10.77.2.2), each with a veth to the root namespace (10.77.1.1, 10.77.2.1) as its default route. The
 * root namespace does not forward between the two veths (their `forwarding` is off: a per-device
 * setting that goes with the device), so A and B reach the root namespace's addresses (a TURN server,
 * the signaling server) and never each other. No global setting is touched; `remove` deletes all of it.
 * Needs root and iproute2; `namespacesUnavailable` says why not, where not.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

export interface IsolatedHost {
  /** The namespace's name. */
  readonly name: string;
  /** Its own address. */
  readonly address: string;
  /** The root namespace's address on its veth: its default route, where servers listen. */
  readonly gateway: string;
  /** Runs a command inside it: `[...launcher, command, ...args]` (`ip netns exec` execs, keeping the pid). */
  readonly launcher: readonly string[];
}

export interface IsolatedNetwork {
  readonly a: IsolatedHost;
  readonly b: IsolatedHost;
  remove(): void;
}

const PREFIX = 'dmturn';
const HOSTS = [
  { side: 'a', subnet: '10.77.1' },
  { side: 'b', subnet: '10.77.2' },
] as const;

function ip(args: string[]): string {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  if (result.status !== 0)
    throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim() || `status ${result.status}`}`);
  return result.stdout;
}

/** Why this machine cannot make the namespaces (not Linux, not root, no iproute2, not allowed); or undefined. */
export function namespacesUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux only (this is ${process.platform})`;
  const uid = process.getuid?.();
  if (uid !== 0) return `making network namespaces needs root, and this test runs as uid ${uid}`;
  if (spawnSync('ip', ['-V']).error) return "iproute2's ip is not installed";
  const probe = `${PREFIX}-probe`;
  try {
    removeNamespace(probe);
    ip(['netns', 'add', probe]);
    ip(['-n', probe, 'link', 'add', `${PREFIX}-p0`, 'type', 'veth', 'peer', 'name', `${PREFIX}-p1`]);
    return undefined;
  } catch (error) {
    return `this machine does not let the test make network namespaces and veths (${(error as Error).message})`;
  } finally {
    removeNamespace(probe);
  }
}

export function createIsolatedNetwork(): IsolatedNetwork {
  for (const { subnet } of HOSTS) {
    const holder = ip(['-4', '-o', 'addr', 'show'])
      .split('\n')
      .find((line) => line.includes(` ${subnet}.`));
    if (holder && !holder.includes(`${PREFIX}-`))
      throw new Error(
        `${subnet}.0/24 is in use on this machine (${holder.trim()}): the namespace test needs it`,
      );
  }
  const [a, b] = HOSTS.map(({ side, subnet }) => host(side, subnet));
  const network = {
    a,
    b,
    remove() {
      for (const { side } of HOSTS) removeNamespace(`${PREFIX}-${side}`);
    },
  };
  network.remove(); // what an earlier run that was killed may have left
  try {
    for (const { side, subnet } of HOSTS) {
      const ns = `${PREFIX}-${side}`;
      const outside = `${ns}-h`;
      const inside = `${ns}-n`;
      ip(['netns', 'add', ns]);
      ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside, 'netns', ns]);
      ip(['addr', 'add', `${subnet}.1/24`, 'dev', outside]);
      ip(['link', 'set', outside, 'up']);
      // The root namespace must not pass packets from this veth on to the other one (the device's own
      // setting, whatever net.ipv4.ip_forward says; it goes away with the device).
      const forwarding = `/proc/sys/net/ipv4/conf/${outside}/forwarding`;
      if (readFileSync(forwarding, 'utf8').trim() !== '0') writeFileSync(forwarding, '0');
      ip(['-n', ns, 'addr', 'add', `${subnet}.2/24`, 'dev', inside]);
      ip(['-n', ns, 'link', 'set', inside, 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'route', 'add', 'default', 'via', `${subnet}.1`]);
    }
  } catch (error) {
    network.remove();
    throw error;
  }
  return network;
}

function host(side: string, subnet: string): IsolatedHost {
  const name = `${PREFIX}-${side}`;
  return { name, address: `${subnet}.2`, gateway: `${subnet}.1`, launcher: ['ip', 'netns', 'exec', name] };
}

/** Deletes a namespace if it exists; its end of a veth goes with it, and so does the other end. */
function removeNamespace(name: string): void {
  const existing = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  if (existing.split('\n').some((line) => line.split(' ')[0] === name)) ip(['netns', 'del', name]);
  // A veth whose namespace is still held by a process lingers: take the root side down with it.
  const outside = `${name}-h`;
  if (spawnSync('ip', ['link', 'show', outside]).status === 0) spawnSync('ip', ['link', 'del', outside]);
}

/**
 * Whether a TCP connection from `from` (a launcher; [] for the root namespace) to address:port opens
 * within `timeoutMs`: 'connected', the error code (ECONNREFUSED also proves the address answers), or
 * 'timeout' (the packets went nowhere).
 */
export function tcpProbe(
  from: readonly string[],
  address: string,
  port: number,
  timeoutMs: number,
): Promise<string> {
  const script = `
    const socket = require('node:net').connect(${port}, ${JSON.stringify(address)});
    const done = (what) => { console.log(what); process.exit(0); };
    socket.on('connect', () => done('connected'));
    socket.on('error', (error) => done(error.code));
    setTimeout(() => done('timeout'), ${timeoutMs});`;
  const [command, ...args] = [...from, process.execPath, '-e', script];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  return new Promise((resolve) => child.once('exit', () => resolve(output.trim())));
}

/** A TCP server in the namespace of `launcher` on address:port that accepts connections; resolves once it listens. */
export function tcpListener(
  launcher: readonly string[],
  address: string,
): Promise<{ port: number; close: () => void }> {
  const script = `
    const server = require('node:net').createServer((socket) => socket.end());
    server.listen(0, ${JSON.stringify(address)}, () => console.log(server.address().port));`;
  const [command, ...args] = [...launcher, process.execPath, '-e', script];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the listener in ${launcher.join(' ')} exited (${code})`)));
    child.stdout.once('data', (d) => resolve({ port: Number(String(d).trim()), close: () => child.kill() }));
  });
}
