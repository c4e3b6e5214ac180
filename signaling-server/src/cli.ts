/**
 * The command line of the signaling server (`npm start`, `npm run server`): flags and environment →
 * server options, with clear errors. The run-shaping flags live in run-flags.ts.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ICE_FLAGS, iceServerOptions } from './ice-flags';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS } from './limits';
import { readRunConfigFile } from './run-configs';
import { RUN_FLAGS, type RunFlag, RunFlagError, runFromFlags } from './run-flags';
import type { SignalingServerOptions } from './server';

const DEFAULT_PORT = 8787;
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../data', import.meta.url));
/** Where `npm run build:web` puts the browser client (a path, not an import: the server imports shared only). */
const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../client/dist', import.meta.url));

const SERVER_FLAGS: [string, string][] = [
  ['--port N', `port to listen on (default: $PORT, else ${DEFAULT_PORT}; 0 picks a free one)`],
  ['--host H', 'address to listen on (default 127.0.0.1; 0.0.0.0 for peers on other machines)'],
  ['--data-dir DIR', 'where runs, tokens, members and metrics are kept (default signaling-server/data)'],
  ['--config FILE', 'JSON array of run configs to create (or update) at start'],
  [
    '--heartbeat-ms MS',
    `drop a peer silent for this long; peers beat every min(1 s, MS/4) (default ${DEFAULT_HEARTBEAT_TIMEOUT_MS})`,
  ],
  [
    '--redis URL',
    'scale out: every process started with the same Redis URL (redis://HOST:PORT) serves the same\nruns (also $REDIS_URL); without it this one process holds everything under --data-dir',
  ],
  ['--process-name N', "this process's name in the overview when scaled out (default: host name and pid)"],
  ...ICE_FLAGS,
  ['--help', 'this text'],
];

/** Two columns; a help text's further lines are indented under its first. */
const column = (rows: [string, string][]) =>
  rows.map(([flag, help]) => `  ${flag.padEnd(20)} ${help.replaceAll('\n', `\n${' '.repeat(23)}`)}`);

export const USAGE = [
  'usage: npm start -- [options]        (or: npm run server -- [options])',
  ...column(SERVER_FLAGS),
  'The run "default" (a small GPT on the Brown corpus, ring, DeMuon) always exists. These flags reshape it',
  '(or, with --run-id, another run); a stored run takes their values at start unless peers may resume it:',
  ...column(
    (Object.entries(RUN_FLAGS) as [RunFlag, { arg: string; help: string }][]).map(([flag, { arg, help }]) => [
      `--${flag} ${arg}`,
      help,
    ]),
  ),
].join('\n');

export class UsageError extends Error {}

/** The server options from command-line arguments and the environment; a UsageError names the problem. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv): SignalingServerOptions | 'help' {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const port = values.port ?? env.PORT;
  const fileRuns = values.config === undefined ? [] : readRunConfigFile(values.config);
  let shaped: ReturnType<typeof runFromFlags>;
  try {
    shaped = runFromFlags(values);
  } catch (error) {
    if (error instanceof RunFlagError) throw new UsageError(error.message);
    throw error;
  }
  let ice: ReturnType<typeof iceServerOptions>;
  try {
    ice = iceServerOptions(values, env);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (shaped && fileRuns.some((run) => run.id === shaped.id)) {
    throw new UsageError(
      `--run-id: run "${shaped.id}" is also in ${values.config}; shape another run with --run-id ID, or set ` +
        'its values in that file',
    );
  }
  return {
    port:
      port === undefined
        ? DEFAULT_PORT
        : integer(port, values.port === undefined ? 'PORT' : '--port', 0, 65535),
    host: values.host ?? '127.0.0.1',
    dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
    webRoot: DEFAULT_WEB_ROOT,
    runs: shaped ? [...fileRuns, shaped] : fileRuns,
    heartbeatTimeoutMs:
      values['heartbeat-ms'] === undefined
        ? undefined
        : integer(values['heartbeat-ms'], '--heartbeat-ms', 100, 3_600_000),
    ...redisOptions(values.redis ?? env.REDIS_URL, values['process-name']),
    ...ice,
  };
}

const runFlagOptions = Object.fromEntries(
  Object.keys(RUN_FLAGS).map((flag) => [flag, { type: 'string' as const }]),
) as Record<RunFlag, { type: 'string' }>;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      redis: { type: 'string' },
      'process-name': { type: 'string' },
      'ice-server': { type: 'string', multiple: true },
      turn: { type: 'string', multiple: true },
      'turn-secret': { type: 'string' },
      'turn-ttl': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...runFlagOptions,
    },
  });
}

function redisOptions(url: string | undefined, processName: string | undefined) {
  if (processName !== undefined && url === undefined) {
    throw new UsageError('--process-name names a process of a scaled-out server: give --redis URL too');
  }
  if (url === undefined) return {};
  if (!/^rediss?:\/\/[^\s]+$/.test(url)) {
    throw new UsageError(`--redis must be a redis:// or rediss:// URL, got "${url}"`);
  }
  if (processName !== undefined && !/^[\w.:-]{1,64}$/.test(processName)) {
    throw new UsageError(
      `--process-name must be 1 to 64 letters, digits, '.', ':', '_' or '-', got "${processName}"`,
    );
  }
  return { redis: url, ...(processName === undefined ? {} : { processName }) };
}

function integer(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}
