/**
 * The shapes the overview reads, as shared/protocol defines them (type-only imports: nothing of zod
 * reaches the bundle, and a change of the schemas fails the type check here).
 */
export type {
  LinkRoute,
  MemberState,
  MetricsPoint,
  RunConfig,
  RunState,
  RunSummary,
  TopologyLink,
} from '@demuon/shared/protocol';

import type { LinkStatsSchema } from '@demuon/shared/protocol';
import type { z } from 'zod';

export type LinkStats = z.infer<typeof LinkStatsSchema>;

/** `{ error: { code, message } }`: how the server's HTTP API answers a failure. */
export type ErrorBody = { error?: { code?: string; message?: string } };
