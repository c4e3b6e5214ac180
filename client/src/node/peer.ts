/**
 * Headless peer: joins a run from Node and trains with onnxruntime-node, gossiping over WebRTC with the
 * neighbours the signaling server assigns (peer-worker.ts). It runs in a child process that is started
 * again if it crashes in native code (peer-supervisor.ts). Ctrl-C leaves the run cleanly.
 *
 *   npm run peer -- --server http://HOST:PORT --run ID --token T [--name NAME] [--wait-for N]
 *                   [--backend auto|cpu|webgpu] [--checkpoints DIR | --no-checkpoints] [--relay-only]
 */
import { fileURLToPath } from 'node:url';
import { supervise } from './peer-supervisor';

const worker = fileURLToPath(new URL('./peer-worker.ts', import.meta.url));
supervise(worker, process.argv.slice(2)).then((code) => process.exit(code));
