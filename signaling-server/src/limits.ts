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
  /** Runs one socket may watch at once. */
  maxWatchedRuns: number;
  /** Body of POST /api/runs. */
  maxRequestBytes: number;
};

export const DEFAULT_LIMITS: Limits = {
  maxMessageBytes: 1_000_000,
  maxSignalBytes: 16 * 1024,
  eventsPerSecond: 100,
  eventBurst: 200,
  maxWatchedRuns: 16,
  maxRequestBytes: 64 * 1024,
};

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

/** How long a member may take to answer an epoch proposal. */
export const DEFAULT_PROPOSAL_TIMEOUT_MS = 5000;
/** How long neighbours of a superseded epoch may still signal each other (see Membership.canRelay). */
export const DEFAULT_SIGNAL_GRACE_MS = 10_000;
/** At most 4 run-state snapshots per second per run. */
export const DEFAULT_RUN_STATE_INTERVAL_MS = 250;
