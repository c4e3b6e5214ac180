/**
 * The codes of `error-reply` (and of `{ ok: false, error }` acknowledgements): one list for the server that
 * sends them and the peers and dashboards that act on them.
 */
export const REFUSAL_CODES = [
  /** Unknown event, or a payload its schema refuses; the message names the field. */
  'bad-event',
  /** Wrong or missing join token. */
  'bad-token',
  'unknown-run',
  /** The run has its maxPeers members. */
  'run-full',
  'already-joined',
  /** Anything but `join` and `watch` from a socket that is no member (never joined, left, or evicted). */
  'not-joined',
  /** `resume` naming no member of the run, or a member someone is connected as. */
  'cannot-resume',
  /** `resume` without the secret of the peer it names, or with another one. */
  'bad-secret',
  /** A step no peer of the run can be at: past its last step, or below one the member reported before. */
  'bad-step',
  /** An epoch number the server never handed out. */
  'bad-epoch',
  /** A signal, report or status question about a peer this member is not linked with. */
  'not-neighbour',
  'unknown-peer',
  /** A signal to a member restored after a server restart that has not resumed yet. */
  'peer-away',
  /** `epoch-ready` for an epoch that is not the pending proposal (superseded, committed, or never made). */
  'stale-epoch',
  'too-large',
  /** A payload nested deeper than the server reads (no event needs more than a few levels). */
  'too-deep',
  'rate-limited',
  'too-many-watches',
  /** `collect` while the run already serves as many collectors as it allows. */
  'busy',
  /** `collect` of a run with no member to ask (or without the member named). */
  'no-members',
  /** The server failed; the event changed nothing. */
  'internal',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];
