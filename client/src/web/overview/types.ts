/**
 * The shapes the overview reads, as the signaling server defines them (type-only imports: nothing of the
 * server or of zod reaches the bundle, and a change of the server's schemas fails the type check here).
 */
export type { RunConfig } from '@demuon/shared/protocol';
export type {
  MemberState,
  MetricsPoint,
  RunState,
  RunSummary,
  TopologyLink,
} from '../../../../signaling-server/src/wire-schemas';

import type { LinkStatsSchema } from '@demuon/shared/protocol';
import type { z } from 'zod';

export type LinkStats = z.infer<typeof LinkStatsSchema>;

/** `{ error: { code, message } }`: how the server's HTTP API answers a failure. */
export type ErrorBody = { error?: { code?: string; message?: string } };
