/**
 * Training under attack: honest `npm run peer` processes (tiny GPT, ring, DeMuon) train on a signaling
 * server hosted by this process, first alone (phase "clean"), then in a fresh run with robust mixing on
 * while one hostile member cycles through attack classes, a few seconds each (phase "hostile"):
 *
 *   http                 malformed request targets, huge headers, bodies on GET, POST /api/runs unauthorised
 *   socket-garbage       socket.io events with garbage payloads: random JSON, nesting 5000–100000 deep,
 *                        __proto__/constructor keys and event names, oversized messages, unknown events,
 *                        engine.io junk; 600 events/s from two raw WebSockets
 *   member               a joined member (it has the run token): absurd `progress`, junk `signal`s relayed to
 *                        honest peers (garbage SDP and candidates), signals the schema refuses, false
 *                        neighbour reports, absurd metrics and barriers
 *   resume               `join` with `resume` of an honest peer's id and guessed secrets
 *   unread               sockets that watch the run, send bad events with acks and never read the replies
 *   byzantine-scale      a real training peer (`npm run peer --byzantine scale:1e30`)
 *   byzantine-sign-flip  the same with `--byzantine sign-flip`
 *   frames               a WebRTC neighbour sending bad gossip frames (first chunks claiming 65535 chunks,
 *                        messages never finished, counts and offsets past the end, NaN, other runs, …)
 *
 * The hostile member is a child process (hostile-member.ts); the byzantine peers are `npm run peer`
 * processes. Per phase it measures honest steps per minute, the honest validation loss, this process's RSS
 * (it hosts the server) and event-loop delay, the peers' RSS, evictions and exits of honest peers; per
 * attack class what was sent and how it was answered. Prints a table and writes docs/bench/hostile.{md,json}.
 * It asserts nothing.
 *
 *   npm run bench:hostile [-- --minutes 2 --peers 4 --out docs/bench --only http,member --logs DIR]
 *
 * This file runs the phases and owns what outlives them: the server, the processes, the faults; the phase
 * is hostile-phase.ts, its measurements hostile-measure.ts, the report hostile-report.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSignalingServer, type Logger } from '../../signaling-server/src';
import type { PhaseResult } from './hostile-measure';
import { HostileMemberProcess } from './hostile-member-process';
import type { BenchPeer } from './hostile-peers';
import { runPhase } from './hostile-phase';
import { type Fault, type ServerWarning, writeReport } from './hostile-report';
import { clock, minutes, outDir, PHASES, peers, say } from './hostile-settings';

// ---- everything this process started, killed whatever happens -------------------------------------------

const allPeers: BenchPeer[] = [];
const member = new HostileMemberProcess();
function killAll(): void {
  for (const p of allPeers) p.kill();
  member.kill();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every child process`);
    killAll();
    process.exit(130);
  });
}

/** Failures of the server (it runs in this process) or of this bench's own callbacks, kept for the report. */
const faults: Fault[] = [];
let currentPhase = 'setup';
process.on('uncaughtException', (error) => {
  faults.push({
    at: clock(),
    phase: currentPhase,
    kind: 'uncaughtException',
    message: String(error?.stack ?? error),
  });
  console.error(`${clock()}  UNCAUGHT in the bench/server process: ${error?.stack ?? error}`);
});
process.on('unhandledRejection', (error) => {
  const text = String((error as Error)?.stack ?? error);
  faults.push({ at: clock(), phase: currentPhase, kind: 'unhandledRejection', message: text });
  console.error(`${clock()}  UNHANDLED REJECTION in the bench/server process: ${text}`);
});

// ---- the server, with its warnings counted ----------------------------------------------------------------

const serverWarnings = new Map<string, ServerWarning>();
const logger: Logger = {
  info: () => {},
  warn: (message) => {
    // One row per kind of warning: socket ids and numbers vary.
    const key = `${currentPhase}: ${message
      .replace(/socket \S+/g, 'socket …')
      .replace(/\(\S+\)/g, '(…)')
      .replace(/\d+/g, 'N')
      .slice(0, 90)}`;
    const row = serverWarnings.get(key) ?? { phase: currentPhase, count: 0, sample: message.slice(0, 400) };
    row.count++;
    serverWarnings.set(key, row);
  },
};

const dataDir = mkdtempSync(join(tmpdir(), 'bench-hostile-'));
const server = await createSignalingServer({
  port: 0,
  dataDir,
  runs: PHASES.map((p) => p.config),
  log: logger,
});
say(
  `signaling server at ${server.url}; ${peers} honest peers, ${minutes} min per phase, ${cpus().length} cores`,
);

// ---- run both phases, report ---------------------------------------------------------------------------------

const results: PhaseResult[] = [];
let failure: Error | undefined;
try {
  for (const spec of PHASES) {
    currentPhase = spec.run;
    results.push(await runPhase(spec, { server, member, allPeers }));
  }
} catch (error) {
  failure = error as Error;
  console.error(`${clock()}  the benchmark failed: ${failure.stack ?? failure}`);
} finally {
  currentPhase = 'shutdown';
  await member.disconnect();
  killAll();
  await server
    .close()
    .catch((error: Error) =>
      faults.push({ at: clock(), phase: 'shutdown', kind: 'close', message: error.message }),
    );
  rmSync(dataDir, { recursive: true, force: true });
}

const [clean, hostile] = results;
if (!clean || !hostile) {
  console.error('no report: a phase did not complete');
  process.exit(1);
}
writeReport({ results: [clean, hostile], faults, serverWarnings, member, failure, outDir });
process.exit(0);
