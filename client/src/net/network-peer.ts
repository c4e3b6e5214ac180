import { type CheckpointStore, configFingerprint } from '@demuon/shared/checkpoint';
import {
  createNodeTraining,
  NeighbourMissed,
  type NodeTrainingOptions,
  neighbourhoodAt,
  neighboursOf,
  type PeerActivity,
  PeerCheckpoints,
  RoundWatchdog,
  StatusBoard,
  type StepReport,
  sameMembers,
  sendState,
} from '@demuon/shared/peer';
import { type Epoch, type Metrics, type RunConfig, runHash } from '@demuon/shared/protocol';
import type { Tensor } from '@demuon/shared/tensor';
import type SimplePeer from 'simple-peer';
import { ConnectionPool } from './connection-pool';
import { EpochLinks } from './epoch-links';
import { LinkReport } from './link-report';
import { type MembershipStateContext, saveCheckpoint, takeState } from './membership-state';
import { ParamsForCollectors } from './params-for-collectors';
import { type JoinRequest, SignalingSession } from './signaling-session';
import type { SignalingSocket } from './signaling-socket';
import { StepReports } from './step-reports';
import { WebRtcGossipLink } from './webrtc-link';

/**
 * The engine, backend, data (the tokenised corpus, split as every peer of the run splits it), clock and
 * attack are those of the node's training (NodeTrainingOptions).
 */
export interface NetworkPeerOptions<T extends Tensor>
  extends Omit<JoinRequest, 'backend'>,
    Pick<NodeTrainingOptions<T>, 'engine' | 'backend' | 'resident' | 'data' | 'now' | 'attack'> {
  readonly socket: SignalingSocket;
  /** Training waits for an epoch with at least this many members. */
  readonly waitForPeers?: number;
  readonly onStep?: (report: StepReport, epoch: Epoch) => void;
  readonly onActivity?: (activity: PeerActivity) => void;
  readonly log?: (line: string) => void;
  /** Makes a WebRTC connection: simple-peer with wrtc in Node, a proxy to the page's in a tab worker. */
  readonly connect: (options: SimplePeer.Options) => SimplePeer.Instance;
  /** Where this peer keeps its checkpoints of the run (saved every `checkpointEvery` steps and on leaving). */
  readonly checkpoints?: CheckpointStore;
}

/**
 * How long a peer leaving mid-run leaves its links open for its neighbours to close: they do within a
 * round trip to the server, and a neighbour that never does (gone itself) costs no more than this.
 */
const LEAVE_LINGER_MS = 5000;

/** How a membership ended. */
export type TrainOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'evicted'; readonly reason: string };

export class NetworkPeer<T extends Tensor> {
  readonly peerId: string;
  readonly run: RunConfig;
  private readonly session: SignalingSession;
  private readonly epochs: EpochLinks;
  private readonly pool: ConnectionPool;
  private readonly link: WebRtcGossipLink;
  private readonly watchdog: RoundWatchdog;
  private readonly collectors: ParamsForCollectors;
  private readonly handles = new Map<string, number>();
  private readonly peersByHandle: string[] = [];
  private readonly now: () => number;
  private currentEpoch = 0;
  private step = 0;
  private started = false;
  private stopping = false;
  private evictedFor: string | null = null;
  private wake: (() => void) | null = null;
  private readonly board: StatusBoard;
  /** Tokens in this peer's shard of the training data, once training started. */
  shardTokens = 0;
  private readonly linkReport: LinkReport;
  private readonly reports: StepReports;
  /** This node's parameters after training (for tests and export). */
  finalParams: Float32Array[] | null = null;
  /** Trained to the run's last step: nobody sends to it any more. */
  private finished = false;

  /** Joins the run; the peer is ready to train. Throws when the server refuses. */
  static async join<T extends Tensor>(options: NetworkPeerOptions<T>): Promise<NetworkPeer<T>> {
    let peer: NetworkPeer<T> | undefined;
    // The session hands over events that came with the join before `peer` exists: keep them until it does.
    const early: ((p: NetworkPeer<T>) => void)[] = [];
    const to = (act: (p: NetworkPeer<T>) => void) => (peer ? act(peer) : early.push(act));
    const { runId, token, name, platform, backend } = options;
    const device = backend.name.startsWith('webgpu') ? 'webgpu' : platform === 'browser' ? 'wasm' : 'cpu';
    const checkpoints =
      options.checkpoints && new PeerCheckpoints(options.checkpoints, (line) => options.log?.(line));
    const claim = await checkpoints?.open(runId);
    const request: JoinRequest = {
      runId,
      token,
      platform,
      backend: device,
      ...(name ? { name } : {}),
      ...(claim ? { checkpoint: claim } : {}),
    };
    const session = await SignalingSession.join(options.socket, request, {
      epoch: (e) => to((p) => p.epochs.commit(e)),
      proposal: (e) => to((p) => p.epochs.propose(e)),
      signal: (from, data) => to((p) => p.pool.signal(from, data as SimplePeer.SignalData)),
      evicted: (reason) => to((p) => p.onEvicted(reason)),
      collect: (collector) => to((p) => p.collectors.request(collector)),
      log: (line) => options.log?.(line),
    });
    peer = new NetworkPeer(options, session, checkpoints);
    for (const act of early) act(peer);
    return peer;
  }

  private constructor(
    private readonly options: NetworkPeerOptions<T>,
    session: SignalingSession,
    private readonly checkpoints: PeerCheckpoints | undefined,
  ) {
    this.session = session;
    this.board = new StatusBoard(
      (status) => session.setStatus(status),
      (activity) => options.onActivity?.(activity),
    );
    this.peerId = session.peerId;
    this.run = session.run;
    // Until training starts, proposals are answered with the step this peer can start at: with a
    // checkpoint of this config, its step (the run resumes there when every member has just joined).
    const claim = session.checkpoint;
    if (claim && claim.fingerprint === configFingerprint(this.run) && claim.step < this.run.steps)
      this.step = claim.step;
    this.now = options.now ?? Date.now;
    const log = options.log ?? (() => {});
    this.pool = new ConnectionPool({
      self: this.peerId,
      iceServers: this.run.iceServers,
      connect: options.connect,
      signal: (peer, data) => session.signal(peer, data),
      opened: (peer, connection) => {
        this.link.attach(this.handle(peer), connection);
        // Between memberships' steps (not started, or done) a collector is served at once.
        if (this.collectors.has(peer) && this.finalParams)
          void this.collectors.serve(async () => this.finalParams!);
        this.poke();
      },
      closed: (peer) => {
        this.collectors.closed(peer);
        // A neighbour's channel closed: not waited for again; the server hears of it (unless this peer
        // closed it itself, on its way out).
        if (!this.stopping && this.epochs.neighboursAt(this.step).includes(peer))
          this.watchdog.miss(peer, this.step, 'closed');
        this.poke();
      },
      log,
      now: this.now,
    });
    this.watchdog = new RoundWatchdog({
      self: this.peerId,
      status: (peer) => session.neighbourStatus(peer),
      report: (peer, step, reason) => {
        log(`step ${step}: gave up on neighbour ${peer} (${reason}); the server routes around it`);
        session.reportMissed(peer, this.epochs.timeline.at(step)?.epoch ?? this.currentEpoch, step, reason);
      },
      ownStepMs: () => this.board.typicalStepMs(),
      now: this.now,
      after: (ms, fn) => {
        const timer = setTimeout(fn, ms);
        return () => clearTimeout(timer);
      },
      startupMs: this.run.gossipTimeoutMs,
      waiting: (peer, step, sinceMs) =>
        this.board.show({ kind: 'waiting-for-neighbour', peer, step, sinceMs }),
    });
    this.link = new WebRtcGossipLink({
      run: runHash(this.run.id),
      encoding: this.run.encoding,
      tensorSizes: options.engine.params.map((p) => p.shape.reduce((a, b) => a * b, 1)),
      epoch: () => this.currentEpoch,
      watch: (from, key, giveUp) => {
        const peer = this.peersByHandle[from];
        this.board.phase('gossip', key.step, peer);
        return this.watchdog.watch(peer, key.step, giveUp);
      },
      heard: (from) => this.watchdog.heard(this.peersByHandle[from]),
    });
    this.epochs = new EpochLinks({
      pool: this.pool,
      watchdog: this.watchdog,
      board: this.board,
      connectDeadlineMs: this.run.gossipTimeoutMs,
      now: this.now,
      position: () => ({ step: this.step, started: this.started }),
      answer: (epoch, barrier) => session.answerProposal(epoch, barrier),
      leaving: (peer) => {
        this.link.close(this.handle(peer));
        this.pool.drop(peer);
      },
      until: (check) => this.until(check),
      poke: () => this.poke(),
    });
    this.collectors = new ParamsForCollectors(this.pool, this.link, (p) => this.handle(p), log);
    this.linkReport = new LinkReport(this.link, this.pool, this.handles, this.now);
    this.reports = new StepReports(session, this.linkReport, this.run.steps, this.now);
  }

  /** Trains until the run's last step, `stop`, or eviction; reports progress and metrics to the server. */
  async train(): Promise<TrainOutcome> {
    const { backend } = this.options;
    const run = this.run;
    const need = this.options.waitForPeers ?? 1;
    this.board.phase('waiting-for-peers', 0);
    const { timeline } = this.epochs;
    this.board.show({ kind: 'waiting-for-peers', have: timeline.latest?.members.length ?? 1, need });
    const first = await this.until(() => timeline.firstWith(need));
    if (!first) return this.finish();
    const training = createNodeTraining({
      ...this.options,
      run,
      members: first.members.length,
      index: first.index,
      link: this.link,
      neighbourhood: (step) => neighbourhoodAt(timeline.at(step)!, step, (p) => this.handle(p)),
      onPhase: (phase) => this.board.phase(phase, this.step),
    });
    const { algorithm, loop } = training;
    const state = this.membershipState();
    this.shardTokens = training.shardTokens;
    this.started = true;
    this.step = first.activationStep;
    // Steps done, and done and saved; the report of the last one done.
    let done = first.activationStep;
    let saved = done;
    let last: StepReport | undefined;
    try {
      this.currentEpoch = first.epoch;
      if (!(await takeState(state, first, training))) return this.finish();
      let previous = first;
      for (let step = first.activationStep; step < run.steps && !this.stopping; step++) {
        this.step = step;
        // A step may need no wait at all (every neighbour given up on, or its frames already here), and on
        // onnxruntime-web's wasm the whole step then runs in microtasks: without a turn of the event loop a
        // tab's worker would never handle the page's messages (the server's eviction, link events).
        await nextTask();
        if (this.stopping) break;
        await this.epochs.heldBefore(step);
        const epoch = timeline.at(step)!;
        await this.epochs.linksReady(epoch, step);
        if (this.stopping) break;
        this.currentEpoch = epoch.epoch;
        if (epoch !== previous) {
          this.watchdog.newEpoch();
          if (!sameMembers(previous, epoch)) {
            this.options.log?.(`step ${step}: epoch ${epoch.epoch} with ${epoch.members.length} peers`);
            const newcomers = neighboursOf(epoch).filter(
              (p) => !previous.members.includes(p) && this.pool.state(p) === 'open',
            );
            const sent = await sendState(
              this.link,
              backend,
              algorithm,
              newcomers.map((p) => this.handle(p)),
              step,
            );
            if (!sent) this.options.log?.(`step ${step}: own state is not finite; not sent to newcomers`);
            // The graph changed: trackers restart from local state so that their sum invariant holds again.
            algorithm.resetTracking();
          }
        }
        previous = epoch;
        await this.collectors.serve(() => loop.params());
        this.pool.closeUnneeded(this.collectors.keep(timeline.peersNeeded(step)), step, (p) =>
          this.link.detach(this.handle(p)),
        );
        this.board.training(step);
        const started = this.now();
        const report = await loop.step(step);
        // Evicted during the step: it was not a member's step, so nothing of it is reported.
        if (this.evictedFor !== null) break;
        if (report.stateNotFinite) {
          // It says so (the dashboards show its NaN loss), then leaves and joins again, to start from a
          // neighbour's state as a late joiner does; its neighbours stop waiting for it once the server
          // proposes the epoch without it.
          this.reports.stateLost(step, epoch, report);
          const reason = `state turned non-finite at step ${step} (loss ${report.trainLoss})`;
          this.endMembership(reason, `${reason}: joining again to take a neighbour's state`);
          break;
        }
        this.board.stepTook(this.now() - started);
        this.board.training(step);
        await this.reports.stepDone(step, epoch, neighboursOf(epoch), report);
        this.options.onStep?.(report, epoch);
        [done, last] = [step + 1, report];
        if (done % run.checkpointEvery === 0) saved = await saveCheckpoint(state, training, done, report);
      }
      if (this.evictedFor === null) {
        this.finalParams = await loop.params();
        await this.collectors.serve(async () => this.finalParams!);
        // Leaving, or done: the state after the last step taken is kept, unless it is saved already.
        if (done > saved) await saveCheckpoint(state, training, done, last);
      }
    } catch (error) {
      // Evicted while waiting for its state, or a late joiner whose source vanished: it cannot start from
      // X⁰, so it leaves and joins again.
      if (this.evictedFor === null) {
        if (!(error instanceof NeighbourMissed)) throw error;
        this.onEvicted(`no state from ${error.peer} (${error.reason})`);
      }
    } finally {
      loop.release();
      algorithm.release();
    }
    return this.finish();
  }

  private membershipState(): MembershipStateContext<T> {
    const { backend, engine, log } = this.options;
    return {
      run: this.run,
      backend,
      params: engine.params,
      link: this.link,
      checkpoints: this.checkpoints,
      openHandle: (peer) => (this.pool.state(peer) === 'open' ? this.handle(peer) : undefined),
      linksReady: async (epoch, step) => {
        await this.epochs.linksReady(epoch, step);
        return !this.stopping;
      },
      bootstrapping: (from, step) => {
        this.board.phase('bootstrapping', step);
        this.board.show({ kind: 'bootstrapping', from });
      },
      log: (line) => log?.(line),
    };
  }

  /** Time spent held before steps for epoch commits, in ms, and how many times. */
  get barrierWaits(): readonly number[] {
    return this.epochs.barrierWaits;
  }

  /** Passes over this peer's shard after `steps` steps: tokens seen / tokens in the shard. */
  dataEpochs(steps: number): number {
    return this.shardTokens > 0
      ? (steps * this.run.batch * this.options.engine.context) / this.shardTokens
      : 0;
  }

  /** Bytes this peer has sent and received over all its links. */
  traffic(): { bytesSent: number; bytesReceived: number } {
    return this.linkReport.traffic();
  }

  /** Frames dropped on receipt over all links so far, by reason (malformed, stale, bad values, …). */
  droppedFrames(): Record<string, number> {
    return this.linkReport.droppedFrames();
  }

  /** The neighbours' links as last reported to the server. */
  get lastLinks(): Metrics['links'] {
    return this.linkReport.last;
  }

  /** Rounds given up on a neighbour, by reason. */
  get misses(): RoundWatchdog['misses'] {
    return this.watchdog.misses;
  }

  /** Whether `stop` was called: training ended early, not at the run's last step. */
  get stopped(): boolean {
    return this.stopping && this.evictedFor === null;
  }

  /** Leaves after the current step. */
  stop(): void {
    this.stopping = true;
    this.poke();
  }

  /**
   * Ends the membership (leaving the run, unless the server already removed it) and closes the links;
   * resolves once they are closed. A peer leaving before the run's end sends nothing more and leaves its
   * links for its neighbours to close (they do once the server's proposal without it reaches them, see
   * ConnectionPool.drop), for at most LEAVE_LINGER_MS; `linger: false` closes them at once, as a closed
   * tab does.
   */
  async close({ linger = true } = {}): Promise<void> {
    const midRun = linger && !this.finished;
    this.stop();
    this.watchdog.close();
    this.link.closeAll();
    // The server hears first, so that no new epoch names this peer once its links are gone.
    this.session.close(true);
    await this.pool.closeAll(midRun ? LEAVE_LINGER_MS : 0);
  }

  private finish(): TrainOutcome {
    this.board.phase('done', this.step);
    if (this.evictedFor !== null) return { kind: 'evicted', reason: this.evictedFor };
    if (this.stopping) return { kind: 'stopped' };
    this.finished = true;
    this.board.show({ kind: 'done' });
    return { kind: 'done' };
  }

  private onEvicted(reason: string): void {
    this.endMembership(reason, `evicted: ${reason}`);
  }

  /** Ends this membership at once, for `reason`; PeerRunner then joins again. */
  private endMembership(reason: string, logLine: string): void {
    if (this.evictedFor !== null) return;
    this.evictedFor = reason;
    this.options.log?.(logLine);
    this.stopping = true;
    // Rounds in progress end now: a peer that is not a member trains no further.
    this.link.failAll(new Error(`evicted: ${reason}`));
    this.watchdog.close();
    this.poke();
  }

  private handle(peer: string): number {
    let h = this.handles.get(peer);
    if (h === undefined) {
      h = this.handles.size;
      this.handles.set(peer, h);
      this.peersByHandle[h] = peer;
    }
    return h;
  }

  private poke(): void {
    this.wake?.();
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

/** Resolves in a later task of the event loop, once the messages already queued have been handled. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
