/**
 * The headless peer itself (`npm run peer` starts it through peer.ts, which starts it again after a
 * crash): joins a run from Node and trains with onnxruntime-node, gossiping over WebRTC (@roamhq/wrtc)
 * with the neighbours the signaling server assigns. Ctrl-C leaves the run cleanly.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAttack } from '@demuon/shared/gossip';
import { gptConfig } from '@demuon/shared/model';
import { describeActivity } from '@demuon/shared/peer';
import { RunConfigSchema } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import * as ort from 'onnxruntime-node';
import SimplePeer from 'simple-peer';
import { io } from 'socket.io-client';
import { OrtGradientEngine, type OrtModule } from '../engine/ort-engine';
import { describeIceServers, hasTurnRelay, relayOnly } from '../net/ice-policy';
import { PeerRunner } from '../net/peer-runner';
import { SocketIoSignaling } from '../net/signaling-socket';
import { CheckpointDir } from './checkpoint-dir';
import { oneOf, positiveInt } from './cli-args';
import { prepareBrownData } from './corpus';
import { createNodeBackend, NODE_BACKENDS } from './node-backend';
import { isSupervisedPeer, listenToSupervisor } from './peer-supervisor';

const USAGE = `usage: npm run peer -- --server http://HOST:PORT --run ID --token TOKEN [options]
  --name NAME        how dashboards show this peer
  --wait-for N       start training once the run has N peers (default 1)
  --backend B        auto (default: WebGPU through Dawn on a hardware GPU, else CPU), cpu or webgpu
  --threads N        CPU threads per onnxruntime session (default: onnxruntime's choice, all cores)
  --checkpoints DIR  keeps this peer's checkpoints in DIR/RUN/NAME (default: checkpoints), resumes from them
  --no-checkpoints   saves no checkpoints and resumes from none
  --relay-only       links only through the TURN relays the server gives (its --turn): every byte crosses
                     the relay, and neighbours never see this device's addresses
  --byzantine A      robustness experiments only: gossip corrupted values, scale:FACTOR or sign-flip`;

async function main(argv: string[]): Promise<void> {
  // Ctrl-C before there is a run to leave ends the process at once; from the join on, after the step.
  let leave: () => void = () => process.exit(130);
  if (isSupervisedPeer()) listenToSupervisor(() => leave());
  else process.once('SIGINT', () => leave());
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      run: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      'wait-for': { type: 'string', default: '1' },
      backend: { type: 'string', default: 'auto' },
      threads: { type: 'string' },
      byzantine: { type: 'string' },
      checkpoints: { type: 'string', default: 'checkpoints' },
      'no-checkpoints': { type: 'boolean' },
      'relay-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(USAGE);
  for (const flag of ['server', 'run', 'token'] as const) {
    if (!values[flag]) throw new Error(`--${flag} is required`);
  }
  const server = new URL(values.server!).origin;
  const waitForPeers = positiveInt('--wait-for', values['wait-for']);
  const backendChoice = oneOf('--backend', values.backend, NODE_BACKENDS);
  const attack = values.byzantine === undefined ? undefined : parseAttack(values.byzantine);
  const sessionOptions =
    values.threads === undefined
      ? {}
      : { intraOpNumThreads: positiveInt('--threads', values.threads), interOpNumThreads: 1 };

  // The run's public config says which model and data to prepare before joining.
  const response = await fetch(`${server}/api/runs/${encodeURIComponent(values.run!)}`).catch(
    (error: Error) => {
      throw new Error(`cannot reach the signaling server at ${server}: ${error.message}`);
    },
  );
  if (!response.ok) throw new Error(`the server has no run '${values.run}' (HTTP ${response.status})`);
  const run = RunConfigSchema.parse(((await response.json()) as { config: unknown }).config);
  const data = await prepareBrownData({
    vocabSize: run.model.vocab ?? gptConfig(run.model.preset).vocabSize,
    log: console.log,
  });
  const model = gptConfig(run.model.preset, { vocabSize: data.tokenizer.vocabSize });
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, {
    batchSize: run.batch,
    sessionOptions,
  });
  const { backend, description } = await createNodeBackend(backendChoice, sessionOptions);
  console.log(`optimizer backend: ${description}`);

  // One directory per peer: the run's, then the peer's name on this device.
  const checkpoints = values['no-checkpoints']
    ? undefined
    : new CheckpointDir(join(values.checkpoints, run.id, values.name ?? 'peer'));
  checkpoints?.lock();
  if (checkpoints) console.log(`checkpoints: ${checkpoints.location}`);

  const socket = new SocketIoSignaling(io(server, { transports: ['websocket'] }));
  const connect = (options: SimplePeer.Options) => new SimplePeer({ ...options, wrtc });
  let failure: string | undefined;
  const runner = new PeerRunner({
    socket,
    runId: run.id,
    token: values.token!,
    ...(values.name ? { name: values.name } : {}),
    platform: 'node',
    engine,
    backend,
    data: { train: data.train, val: data.val, vocabSize: data.tokenizer.vocabSize },
    connect: values['relay-only'] ? relayOnly(connect) : connect,
    ...(attack ? { attack } : {}),
    ...(checkpoints ? { checkpoints } : {}),
    waitForPeers,
    now: () => performance.now(),
    log: (line) => console.log(line),
    onJoined: (peer) => {
      console.log(`joined run '${run.id}' as ${peer.peerId}`);
      // The server's own ICE servers and TURN credentials come with the join, not with the public config.
      console.log(`ICE servers: ${describeIceServers(peer.run.iceServers)}`);
      if (values['relay-only'] && !hasTurnRelay(peer.run.iceServers)) {
        failure =
          `--relay-only, but neither the server nor run '${run.id}' gives a TURN relay, so no link can ` +
          'open: start the server with --turn (see signaling-server/README.md), or leave out --relay-only';
        runner.stop();
      }
    },
    onActivity: (activity) => {
      // Training and waits shorter than the step log are said by the step lines themselves.
      if (activity.kind !== 'training') console.log(describeActivity(activity));
    },
    onStep: (report, epoch) => {
      const val = report.valLoss === undefined ? '' : ` val ${report.valLoss.toFixed(4)}`;
      const t = report.timing;
      console.log(
        `step ${report.step + 1}/${run.steps} epoch ${epoch.epoch} (${epoch.members.length} peers): train ${report.trainLoss.toFixed(4)}${val} | gradient ${t.gradientMs.toFixed(0)} ms, optimizer ${t.optimizerMs.toFixed(0)} ms, gossip ${t.waitingMs.toFixed(0)} ms`,
      );
    },
  });
  leave = () => {
    console.log('leaving after this step…');
    runner.stop();
  };
  await runner.run();
  checkpoints?.unlock();
  socket.close();
  await engine.dispose();
  await backend.dispose();
  if (failure) throw new Error(failure);
  process.exit(0);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  console.error(USAGE);
  process.exit(1);
});
