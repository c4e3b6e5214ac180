/** Bounds on what one client may send, and the server's timing defaults. */
export type Limits = {
  /** socket.io's maxHttpBufferSize: a larger message closes the connection (no reply is possible). */
  maxMessageBytes: number;
  /** Serialized size of a `signal`'s data; larger → 'too-large'. SDP offers are a few KiB. */
  maxSignalBytes: number;
  /**
   * Per-socket token bucket: average events per second and burst; beyond → 'rate-limited'. A training
   * peer sends about one heartbeat a second, a progress report a step, metrics every few steps, an answer
   * per proposal, a few status questions while it waits, and bursts of signals (ICE candidates) when
   * links open: tens per second at most, well inside the defaults.
   */
  eventsPerSecond: number;
  eventBurst: number;
  /**
   * Rate-limited events of one flood (it ends once the socket keeps within its rate for a second) that
   * still get an `error-reply`; beyond, they are dropped without one, so that a flood costs its sender
   * replies instead of the server memory.
   */
  answeredRateLimits: number;
  /** Rate-limited events of one flood after which the socket is disconnected: it is flooding, not bursting. */
  maxRateLimited: number;
  /** Nesting levels of an event payload (no event needs more than 5); deeper → 'too-deep', unparsed. */
  maxPayloadDepth: number;
  /**
   * Bytes of replies and events queued for one socket and not yet written out (its client does not read);
   * beyond, the socket is disconnected. Far above what a live peer or dashboard ever lags behind.
   */
  maxUnreadBytes: number;
  /** Runs one socket may watch at once. */
  maxWatchedRuns: number;
  /** Runs on the server; POST /api/runs beyond → 409 'too-many-runs'. */
  maxRuns: number;
  /** Body of POST /api/runs. */
  maxRequestBytes: number;
};

export const DEFAULT_LIMITS: Limits = {
  maxMessageBytes: 1_000_000,
  maxSignalBytes: 16 * 1024,
  eventsPerSecond: 100,
  eventBurst: 200,
  answeredRateLimits: 100,
  maxRateLimited: 10_000,
  maxPayloadDepth: 32,
  maxUnreadBytes: 8 * 1024 * 1024,
  maxWatchedRuns: 16,
  maxRuns: 100,
  maxRequestBytes: 64 * 1024,
};

/**
 * How far past a run's last step a proposal's barrier may lie: a peer promises a few steps past its next
 * one (PROPOSAL_LOOKAHEAD in shared/peer, 2), and its next is at most the run's `steps`. Anything further
 * is no step of the run; refusing it keeps every activation step a safe integer the Epoch schema accepts.
 */
const BARRIER_SLACK_STEPS = 16;

/** The largest barrier, and so the largest activation step, an epoch of a run of `steps` steps may have. */
export function maxActivationStep(steps: number): number {
  return Math.min(steps + BARRIER_SLACK_STEPS, Number.MAX_SAFE_INTEGER);
}

/**
 * No run makes this many epochs (one per membership change): a larger epoch number read from a file is
 * damage or the trace of an attack, and is not taken, so that the next number stays a safe integer.
 */
export const MAX_EPOCH_NUMBER = 2 ** 40;

export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;

/**
 * How often members are asked to send `heartbeat`: at least four beats per timeout, so that a delayed
 * beat or two (a long step hogging a tab's event loop) do not get a live peer evicted, and at least one a
 * second, so that the status it carries is fresh and a silent neighbour is noticed within seconds.
 */
export function heartbeatIntervalMs(timeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4)));
}

/**
 * A reported neighbour is taken for gone after three missed beats: long enough for one late beat, short
 * enough that its neighbours do not wait a whole heartbeat timeout for it.
 */
export function suspicionBoundMs(heartbeatMs: number): number {
  return 3 * heartbeatMs;
}

/**
 * The suspicion bound for one member, given the longest it went unheard while alive: twice that, when
 * its beats come that late (a 4×-throttled tab on a loaded machine beats up to 2 s apart, where the bound
 * is 3 s), and never more than three bounds, so that a dead member is still routed around in seconds.
 */
export function memberSuspicionMs(boundMs: number, longestGapMs: number): number {
  return Math.min(3 * boundMs, Math.max(boundMs, 2 * longestGapMs));
}

/** How long a member may take to answer an epoch proposal. */
export const DEFAULT_PROPOSAL_TIMEOUT_MS = 5000;
/** How long neighbours of a superseded epoch may still signal each other (see Membership.canRelay). */
export const DEFAULT_SIGNAL_GRACE_MS = 10_000;
/** At most 4 run-state snapshots per second per run. */
export const DEFAULT_RUN_STATE_INTERVAL_MS = 250;
