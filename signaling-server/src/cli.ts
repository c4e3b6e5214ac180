/** The command line of the signaling server: flags and environment → server options, with clear errors. */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS } from './limits';
import { readRunConfigFile } from './run-configs';
import type { SignalingServerOptions } from './server';

const DEFAULT_PORT = 8787;
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../data', import.meta.url));

export const USAGE = `usage: npm run server -- [options]
  --port N          port to listen on (default: $PORT, else ${DEFAULT_PORT}; 0 picks a free one)
  --host H          address to listen on (default 127.0.0.1; 0.0.0.0 for peers on other machines)
  --data-dir DIR    where runs, tokens and metrics are kept (default signaling-server/data)
  --config FILE     JSON array of run configs to create (or update) at start
  --heartbeat-ms MS remove a peer silent for this long (default ${DEFAULT_HEARTBEAT_TIMEOUT_MS})
  --help            this text`;

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
  return {
    port:
      port === undefined
        ? DEFAULT_PORT
        : integer(port, values.port === undefined ? 'PORT' : '--port', 0, 65535),
    host: values.host ?? '127.0.0.1',
    dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
    runs: values.config === undefined ? [] : readRunConfigFile(values.config),
    heartbeatTimeoutMs:
      values['heartbeat-ms'] === undefined
        ? undefined
        : integer(values['heartbeat-ms'], '--heartbeat-ms', 100, 3_600_000),
  };
}

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
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function integer(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}
