/**
 * `npm start -- [--port N] [--host H] [--data-dir DIR] [--config runs.json] [--heartbeat-ms MS]
 *   [--preset P --topology SPEC --algorithm NAME --lr ETA …]` (see cli.ts for every flag)
 * Starts the signaling server, prints every run's join and overview URLs, and stops on Ctrl-C. A bad flag
 * exits with status 2 and the usage; the members of every run survive a restart (see membership-store.ts).
 */
import { parseCli, USAGE, UsageError } from './cli';
import { describeIceServers } from './ice-servers';
import { consoleLogger } from './log';
import { createSignalingServer, type SignalingServerOptions } from './server';

async function main(): Promise<void> {
  let options: SignalingServerOptions | 'help';
  try {
    options = parseCli(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    if (error instanceof UsageError) console.error(USAGE);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  // The last resort: nothing the server does should throw to the process, but if something does, every
  // run must not go down with the one request or event that found the bug.
  process.on('uncaughtException', (error) => {
    consoleLogger.warn(`uncaught exception, still serving: ${error.stack ?? error}`);
  });
  process.on('unhandledRejection', (reason) => {
    consoleLogger.warn(`unhandled rejection, still serving: ${(reason as Error)?.stack ?? reason}`);
  });
  // A deployed server batches membership changes: a burst of joins becomes one epoch, not one each.
  const server = await createSignalingServer({ epochBatchMs: 50, ...options, log: consoleLogger });
  const ice = describeIceServers(options);
  if (ice) consoleLogger.info(ice);
  const stop = () => {
    consoleLogger.info('stopping… (runs, members and metrics are kept; peers resume after a restart)');
    server.close().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
