/**
 * A node of a networked run: joins through the signaling server, opens a WebRTC data channel to each
 * neighbour the server assigns, and runs the peer loop with gossip over those channels. Everything
 * platform-specific (socket, WebRTC implementation, engine, backend, data) is passed in, so the same
 * class serves the Node peer and the browser worker.
 */
import { BatchSampler, fixedBatches, planShards, type TokenizedDocument } from '@demuon/shared/data';
import { GossipMixer, type Neighbourhood } from '@demuon/shared/gossip';
import {
  type GradientEngine,
  gptConfig,
  initGptParams,
  type ResidentGradientEngine,
} from '@demuon/shared/model';
import { createAlgorithm, type DecentralizedAlgorithm } from '@demuon/shared/optim';
import { PeerLoop, type StepReport } from '@demuon/shared/peer';
import {
  type Epoch,
  EpochSchema,
  EVENTS,
  type Metrics,
  type RunConfig,
  RunConfigSchema,
  runHash,
} from '@demuon/shared/protocol';
import type { Tensor, TensorBackend } from '@demuon/shared/tensor';
import type SimplePeer from 'simple-peer';
import type { Socket } from 'socket.io-client';
import { WebRtcGossipLink } from './webrtc-link';

export interface NetworkPeerOptions<T extends Tensor> {
  /** A connected socket.io client of the signaling server. */
  readonly socket: Socket;
  readonly runId: string;
  readonly token: string;
  readonly name?: string;
  readonly platform: 'browser' | 'node';
  readonly engine: GradientEngine;
  readonly backend: TensorBackend<T>;
  /** The engine working on the backend's tensors directly (see PeerLoopOptions.resident). */
  readonly resident?: ResidentGradientEngine<T>;
  /** The tokenised corpus, split as every peer of the run splits it. */
  readonly data: {
    readonly train: TokenizedDocument[];
    readonly val: TokenizedDocument[];
    readonly vocabSize: number;
  };
  /** Training waits for an epoch with at least this many members. */
  readonly waitForPeers?: number;
  readonly now?: () => number;
  readonly onStep?: (report: StepReport, epoch: Epoch) => void;
  readonly log?: (line: string) => void;
  /**
   * Makes the WebRTC connection to a neighbour: `new SimplePeer({ ...options, wrtc })` in Node, a proxy to
   * the page's connection in a browser worker (workers have no RTCPeerConnection); tests wrap it.
   */
  readonly connect: (options: SimplePeer.Options) => SimplePeer.Instance;
}

/** How often to say "still here" when the server's acknowledgement does not say. */
const DEFAULT_HEARTBEAT_MS = 2000;
/** Metrics go out at most this often, besides eval steps and the last step: live, yet light on the server. */
const METRICS_EVERY_MS = 1000;
/** Reports kept while the signaling connection is down, sent once it is back (oldest dropped beyond). */
const MAX_HELD_REPORTS = 1000;

export class NetworkPeer<T extends Tensor> {
  private readonly epochs: Epoch[] = [];
  private readonly handles = new Map<string, number>();
  private readonly connections = new Map<string, SimplePeer.Instance>();
  private readonly open = new Set<string>();
  /** Neighbours whose channel closed: rounds go on without them until an epoch removes them. */
  private readonly gone = new Set<string>();
  private readonly link: WebRtcGossipLink;
  private currentEpoch = 0;
  private stopping = false;
  private wake: (() => void) | null = null;
  /** True while the server knows this socket as this peer; reports wait in `held` otherwise. */
  private attached = true;
  private readonly held: { event: string; payload: unknown }[] = [];
  private readonly listeners: [string, (payload: unknown) => void][] = [];
  /** Connected peers no epoch needs any more, and the step since when. */
  private readonly staleSince = new Map<string, number>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private lastLinkReport = { at: 0, bytes: new Map<string, number>() };
  private lastMetricsAt = -Infinity;

  /**
   * Joins the run and returns the peer, ready to train. Listeners are in place before `join` is sent,
   * so no epoch or signal the server sends right after accepting the peer can be missed.
   */
  static async join<T extends Tensor>(options: NetworkPeerOptions<T>): Promise<NetworkPeer<T>> {
    const { socket } = options;
    const early: { event: string; payload: unknown }[] = [];
    const buffer = (event: string) => (payload: unknown) => early.push({ event, payload });
    const onEpoch = buffer(EVENTS.epoch);
    const onSignal = buffer(EVENTS.signal);
    socket.on(EVENTS.epoch, onEpoch);
    socket.on(EVENTS.signal, onSignal);
    try {
      const ack = await socket.emitWithAck(EVENTS.join, {
        runId: options.runId,
        token: options.token,
        platform: options.platform,
        backend: options.backend.name.startsWith('webgpu') ? 'webgpu' : 'cpu',
        ...(options.name ? { name: options.name } : {}),
      });
      if (!ack?.ok)
        throw new Error(
          `the server refused to join run '${options.runId}': ${ack?.error?.message ?? 'no reason given'}`,
        );
      const heartbeatMs = typeof ack.heartbeatMs === 'number' ? ack.heartbeatMs : DEFAULT_HEARTBEAT_MS;
      const peer = new NetworkPeer(options, String(ack.peerId), RunConfigSchema.parse(ack.run), heartbeatMs);
      for (const { event, payload } of early) peer.dispatch(event, payload);
      return peer;
    } finally {
      socket.off(EVENTS.epoch, onEpoch);
      socket.off(EVENTS.signal, onSignal);
    }
  }

  private constructor(
    private readonly options: NetworkPeerOptions<T>,
    readonly peerId: string,
    readonly run: RunConfig,
    heartbeatMs: number,
  ) {
    const { socket, engine } = options;
    // Heartbeats keep a peer that waits for others, or computes a long step, in the run.
    this.heartbeat = setInterval(() => {
      if (this.attached) socket.emit(EVENTS.heartbeat, {});
    }, heartbeatMs);
    // Gossip needs no server, so training goes on through a signaling outage; once the socket is back
    // (e.g. the server restarted), the peer takes its old place and sends the reports it held.
    this.listen('disconnect', (reason) => {
      this.attached = false;
      // A server shutting down closes the sockets itself, and socket.io then leaves reconnecting to us.
      if (reason === 'io server disconnect' && !this.stopping) setTimeout(() => socket.connect(), 1000);
    });
    this.listen('connect', () => void this.resume());
    this.link = new WebRtcGossipLink({
      run: runHash(run.id),
      encoding: run.encoding,
      tensorSizes: engine.params.map((p) => p.shape.reduce((a, b) => a * b, 1)),
      epoch: () => this.currentEpoch,
      timeoutMs: run.gossipTimeoutMs,
    });
    this.listen(EVENTS.epoch, (payload) => this.dispatch(EVENTS.epoch, payload));
    this.listen(EVENTS.signal, (payload) => this.dispatch(EVENTS.signal, payload));
    this.listen(EVENTS.error, (e) => options.log?.(`server: ${JSON.stringify(e)}`));
  }

  /** A socket listener that `close` removes: the socket may outlive this peer (a tab that pauses, then rejoins). */
  private listen(event: string, listener: (payload: unknown) => void): void {
    this.options.socket.on(event, listener);
    this.listeners.push([event, listener]);
  }

  private dispatch(event: string, payload: unknown): void {
    if (event === EVENTS.epoch) this.onEpoch(EpochSchema.parse(payload));
    else {
      const { from, data } = payload as { from: string; data: SimplePeer.SignalData };
      this.connection(from).signal(data);
    }
  }

  /** Trains until the run's last step (or `stop`), reporting progress and metrics to the server. */
  async train(): Promise<void> {
    const { engine, backend, data } = this.options;
    const run = this.run;
    const first = await this.until(() =>
      this.epochs.find((e) => e.members.length >= (this.options.waitForPeers ?? 1)),
    );
    if (!first) return;
    const model = gptConfig(run.model.preset, { vocabSize: data.vocabSize });
    const shard = planShards(data.train, run.data, { nodes: first.members.length, seed: run.seed }).nodes[
      first.index
    ];
    this.shardTokens = shard.documents.reduce((n, d) => n + d.tokens.length, 0);
    const algorithm: DecentralizedAlgorithm<T> = createAlgorithm(
      backend,
      engine.params,
      initGptParams(model, run.seed),
      run.algorithm,
    );
    const mixer = new GossipMixer(backend, (step) => this.neighbourhood(step), this.link);
    const loop = new PeerLoop({
      engine,
      backend,
      algorithm,
      mixer,
      batches: new BatchSampler(shard.documents, {
        batchSize: run.batch,
        context: model.context,
        seed: run.seed * 1000 + first.index,
      }),
      validation: fixedBatches(data.val, {
        batchSize: run.batch,
        context: model.context,
        count: run.evalBatches,
        seed: run.seed,
      }),
      totalSteps: run.steps,
      evalEvery: run.evalEvery,
      now: this.options.now,
      resident: this.options.resident,
    });
    // Joining a run that has already moved: start from a neighbour's state, not from X⁰.
    if (first.bootstrapFrom && first.activationStep > 0) await this.receiveState(first, algorithm);
    let previous = first;
    for (let step = first.activationStep; step < run.steps && !this.stopping; step++) {
      const epoch = this.epochAt(step);
      await this.until(
        () => this.neighboursOf(epoch).every((p) => this.open.has(p) || this.gone.has(p)) || undefined,
      );
      this.currentEpoch = epoch.epoch;
      if (!sameMembers(previous, epoch)) {
        this.options.log?.(`step ${step}: epoch ${epoch.epoch} with ${epoch.members.length} peers`);
        await this.sendState(previous, epoch, step, algorithm);
        // The graph changed: trackers restart from local state so that their sum invariant holds again.
        algorithm.resetTracking();
      }
      previous = epoch;
      this.closeStaleConnections(step);
      const report = await loop.step(step);
      this.report(EVENTS.progress, { step: step + 1 });
      const now = this.options.now?.() ?? Date.now();
      if (
        report.valLoss !== undefined ||
        step + 1 === run.steps ||
        now - this.lastMetricsAt >= METRICS_EVERY_MS
      ) {
        this.lastMetricsAt = now;
        this.report(EVENTS.metrics, {
          step: step + 1,
          epoch: epoch.epoch,
          trainLoss: report.trainLoss,
          ...(report.valLoss !== undefined ? { valLoss: report.valLoss } : {}),
          ...(report.disagreement !== undefined ? { disagreement: report.disagreement } : {}),
          bytesSent: this.total('bytesSent'),
          bytesReceived: this.total('bytesReceived'),
          timing: report.timing,
          links: await this.linkStats(epoch),
        });
      }
      this.options.onStep?.(report, epoch);
    }
    this.finalParams = await loop.params();
    loop.release();
    algorithm.release();
  }

  /**
   * Hands this node's parameters and optimizer state to the neighbours that joined with `epoch`, before
   * its first step. Every old neighbour sends; the newcomer keeps what its `bootstrapFrom` peer sent.
   */
  private async sendState(previous: Epoch, epoch: Epoch, step: number, algorithm: DecentralizedAlgorithm<T>) {
    const newcomers = this.neighboursOf(epoch).filter(
      (p) => !previous.members.includes(p) && this.open.has(p),
    );
    if (newcomers.length === 0) return;
    const groups = await this.stateGroups(algorithm);
    for (const peer of newcomers) {
      for (const [k, tensors] of groups.entries())
        this.link.send(this.handle(peer), { step, round: STATE_ROUND + k }, tensors);
    }
  }

  /** A late joiner takes parameters and state from its `bootstrapFrom` neighbour, then restarts tracking. */
  private async receiveState(epoch: Epoch, algorithm: DecentralizedAlgorithm<T>): Promise<void> {
    const from = epoch.bootstrapFrom!;
    await this.until(() => this.open.has(from) || undefined);
    this.currentEpoch = epoch.epoch;
    for (const [k, tensors] of transferredTensors(algorithm).entries()) {
      const values = await this.link.receive(this.handle(from), {
        step: epoch.activationStep,
        round: STATE_ROUND + k,
      });
      for (const [i, t] of tensors.entries()) this.options.backend.write(t, values[i]);
    }
    algorithm.resetTracking();
    this.options.log?.(`took parameters and optimizer state from ${from} for step ${epoch.activationStep}`);
  }

  private stateGroups(algorithm: DecentralizedAlgorithm<T>): Promise<Float32Array[][]> {
    return Promise.all(
      transferredTensors(algorithm).map((g) => Promise.all(g.map((t) => this.options.backend.read(t)))),
    );
  }

  /** Tokens in this peer's shard of the training data, once training started. */
  shardTokens = 0;

  /** Passes over this peer's shard after `steps` steps: tokens seen / tokens in the shard. */
  dataEpochs(steps: number): number {
    return this.shardTokens > 0
      ? (steps * this.run.batch * this.options.engine.context) / this.shardTokens
      : 0;
  }

  /** The neighbours' links as last reported to the server (every few steps). */
  lastLinks: Metrics['links'] = [];

  /** Bytes this peer has sent and received over all its links. */
  traffic(): { bytesSent: number; bytesReceived: number } {
    return { bytesSent: this.total('bytesSent'), bytesReceived: this.total('bytesReceived') };
  }

  /** Frames dropped on receipt over all links so far, by reason (malformed, stale, bad values, …). */
  droppedFrames(): Record<string, number> {
    const reasons: Record<string, number> = {};
    for (const h of this.handles.values()) {
      for (const [reason, n] of Object.entries(this.link.stats(h)?.dropReasons ?? {}))
        reasons[reason] = (reasons[reason] ?? 0) + n;
    }
    return reasons;
  }

  /** This node's parameters after training (for tests and export). */
  finalParams: Float32Array[] | null = null;

  /** Whether `stop` was called: training ended early, not at the run's last step. */
  get stopped(): boolean {
    return this.stopping;
  }

  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  close(): void {
    this.stop();
    clearInterval(this.heartbeat);
    for (const [event, listener] of this.listeners.splice(0)) this.options.socket.off(event, listener);
    for (const c of this.connections.values()) c.destroy();
    this.connections.clear();
  }

  /** Sends a report now, or holds it while the server does not know this socket. */
  private report(event: string, payload: unknown): void {
    if (this.attached) {
      this.options.socket.emit(event, payload);
      return;
    }
    if (this.held.length >= MAX_HELD_REPORTS) this.held.shift();
    this.held.push({ event, payload });
  }

  /** Back on a new socket connection: ask for the old place in the run, then send what was held. */
  private async resume(): Promise<void> {
    if (this.attached || this.stopping) return;
    const { socket, token, platform, backend, name } = this.options;
    const ack = await socket
      .timeout(10_000)
      .emitWithAck(EVENTS.join, {
        runId: this.run.id,
        token,
        platform,
        backend: backend.name.startsWith('webgpu') ? 'webgpu' : 'cpu',
        ...(name ? { name } : {}),
        resume: { peerId: this.peerId },
      })
      .catch((error: Error) => ({ ok: false, error: { message: error.message } }));
    if (!ack?.ok) {
      // Gossip may still go on, but without the server this peer can no longer follow the membership.
      this.options.log?.(`could not take back place ${this.peerId}: ${ack?.error?.message ?? 'no reason'}`);
      this.stop();
      return;
    }
    this.attached = true;
    this.options.log?.(`signaling back: resumed as ${this.peerId}, sending ${this.held.length} held reports`);
    for (const { event, payload } of this.held.splice(0)) socket.emit(event, payload);
  }

  /** The links to `epoch`'s neighbours for the dashboards: bytes, frames, drops, throughput since last time. */
  private async linkStats(epoch: Epoch) {
    const now = this.options.now?.() ?? Date.now();
    const seconds = (now - this.lastLinkReport.at) / 1000;
    const bytes = new Map<string, number>();
    const links = [];
    for (const peer of this.neighboursOf(epoch)) {
      const stats = this.link.stats(this.handle(peer)) ?? NO_TRAFFIC;
      const moved = stats.bytesSent + stats.bytesReceived;
      bytes.set(peer, moved);
      const before = this.lastLinkReport.bytes.get(peer);
      const rttMs = await roundTripMs(this.connections.get(peer));
      links.push({
        peer,
        state: this.open.has(peer)
          ? ('open' as const)
          : this.gone.has(peer)
            ? ('closed' as const)
            : ('connecting' as const),
        bytesSent: stats.bytesSent,
        bytesReceived: stats.bytesReceived,
        framesSent: stats.framesSent,
        framesReceived: stats.framesReceived,
        drops: stats.drops,
        ...(before !== undefined && seconds > 0 ? { throughputBps: (moved - before) / seconds } : {}),
        ...(rttMs !== undefined ? { rttMs } : {}),
      });
    }
    this.lastLinkReport = { at: now, bytes };
    this.lastLinks = links;
    return links;
  }

  /**
   * Closes the links to peers that neither this step's epoch nor a later one needs, two steps after they
   * stopped being needed: by then every frame owed to them for earlier steps has gone out.
   */
  private closeStaleConnections(step: number): void {
    const current = this.epochAt(step);
    const needed = new Set(
      this.epochs
        .filter((e) => e === current || e.activationStep > current.activationStep)
        .flatMap((e) => this.neighboursOf(e)),
    );
    for (const [peer, connection] of this.connections) {
      if (needed.has(peer)) {
        this.staleSince.delete(peer);
        continue;
      }
      const since = this.staleSince.get(peer) ?? step;
      this.staleSince.set(peer, since);
      if (step - since < 2) continue;
      this.staleSince.delete(peer);
      this.link.detach(this.handle(peer));
      this.connections.delete(peer);
      connection.destroy();
    }
  }

  private onEpoch(epoch: Epoch): void {
    // The server sends the current epoch again when this peer resumes after an outage.
    if (this.epochs.some((e) => e.epoch === epoch.epoch)) return;
    this.epochs.push(epoch);
    this.epochs.sort((a, b) => a.activationStep - b.activationStep || a.epoch - b.epoch);
    for (const peer of this.neighboursOf(epoch)) this.connection(peer);
    this.wake?.();
  }

  private epochAt(step: number): Epoch {
    let current = this.epochs[0];
    for (const e of this.epochs) if (e.activationStep <= step) current = e;
    return current;
  }

  /** The epoch's neighbourhood for a step in stable numeric handles, in the server's (index) order. */
  private neighbourhood(step: number): Neighbourhood {
    const epoch = this.epochAt(step);
    const view = epoch.schedule && epoch.period ? epoch.schedule[step % epoch.period] : epoch;
    return {
      selfWeight: view.selfWeight,
      inNeighbours: view.inNeighbours.map(({ peer, weight }) => ({ from: this.handle(peer), weight })),
      outNeighbours: view.outNeighbours.map((peer) => this.handle(peer)),
    };
  }

  private neighboursOf(epoch: Epoch): string[] {
    const views = epoch.schedule ?? [epoch];
    const peers = new Set<string>();
    for (const v of views) {
      for (const n of v.inNeighbours) peers.add(n.peer);
      for (const p of v.outNeighbours) peers.add(p);
    }
    return [...peers];
  }

  private handle(peer: string): number {
    let h = this.handles.get(peer);
    if (h === undefined) {
      h = this.handles.size;
      this.handles.set(peer, h);
    }
    return h;
  }

  /** The data channel to `peer`, created on first need; the smaller id initiates. */
  private connection(peer: string): SimplePeer.Instance {
    let c = this.connections.get(peer);
    if (c) return c;
    const settings: SimplePeer.Options = {
      initiator: this.peerId < peer,
      config: { iceServers: this.run.iceServers },
    };
    c = this.options.connect(settings);
    c.on('signal', (data) => this.options.socket.emit(EVENTS.signal, { to: peer, data }));
    c.on('connect', () => {
      this.link.attach(this.handle(peer), c);
      this.open.add(peer);
      this.gone.delete(peer);
      this.wake?.();
    });
    c.on('close', () => {
      this.open.delete(peer);
      this.gone.add(peer);
      // Should a later epoch need this peer again, a new connection is made.
      if (this.connections.get(peer) === c) this.connections.delete(peer);
      this.wake?.();
    });
    c.on('error', (error) => this.options.log?.(`link to ${peer}: ${error.message}`));
    this.connections.set(peer, c);
    return c;
  }

  private total(field: 'bytesSent' | 'bytesReceived'): number {
    let n = 0;
    for (const h of this.handles.values()) n += this.link.stats(h)?.[field] ?? 0;
    return n;
  }

  /** Resolves with `check()` once it is defined, re-checking whenever something arrives. */
  private async until<V>(check: () => V | undefined): Promise<V | undefined> {
    for (;;) {
      const value = check();
      if (value !== undefined || this.stopping) return value;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

/** The selected ICE candidate pair's round-trip time, when the WebRTC implementation reports it. */
async function roundTripMs(connection: SimplePeer.Instance | undefined): Promise<number | undefined> {
  // A browser worker's proxy carries the figure its page measured.
  const measured = (connection as { rttMs?: number } | undefined)?.rttMs;
  if (typeof measured === 'number') return measured;
  // simple-peer keeps its RTCPeerConnection as `_pc`; its getStats is the standard one.
  const pc = (connection as unknown as { _pc?: RTCPeerConnection } | undefined)?._pc;
  if (!pc?.getStats) return undefined;
  try {
    const report = await pc.getStats();
    for (const stat of report.values()) {
      const pair = stat as { type?: string; nominated?: boolean; currentRoundTripTime?: number };
      if (pair.type === 'candidate-pair' && pair.nominated && typeof pair.currentRoundTripTime === 'number')
        return pair.currentRoundTripTime * 1000;
    }
  } catch {
    // No stats from this implementation: the figure is left out.
  }
  return undefined;
}

const NO_TRAFFIC = { bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0, drops: 0 };

/**
 * What a late joiner receives, one group per state round, in an order both ends agree on: the parameters,
 * then the optimizer state by name.
 */
function transferredTensors<T extends Tensor>(algorithm: DecentralizedAlgorithm<T>): (readonly T[])[] {
  return [
    algorithm.params,
    ...Object.keys(algorithm.state)
      .sort()
      .map((k) => algorithm.state[k]),
  ];
}

/** Gossip round numbers from here on carry a late joiner's state, one group of tensors per round. */
const STATE_ROUND = 1_000_000;

function sameMembers(a: Epoch, b: Epoch): boolean {
  return a.members.length === b.members.length && a.members.every((m, i) => m === b.members[i]);
}
