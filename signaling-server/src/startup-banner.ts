/**
 * What the server prints when it starts: where it listens, and for every run what it trains, where to join
 * (the URL carries the run's token) and where to watch it. One line per fact, so that a host can copy a
 * URL out of a terminal without hunting for it.
 */
import { formatTopologySpec } from '@demuon/shared/graph';
import type { RunConfig } from '@demuon/shared/protocol';
import type { Run } from './run';
import type { PublicUrls } from './urls';

export type BannerInput = {
  urls: PublicUrls;
  host: string;
  dataDir: string;
  runs: readonly Run[];
  adminToken: string;
  heartbeatTimeoutMs: number;
};

export function startupBanner({ urls, host, dataDir, runs, adminToken, heartbeatTimeoutMs }: BannerInput) {
  const lines = [`signaling server on ${urls.base} (data in ${dataDir})`];
  if (host === '127.0.0.1' || host === 'localhost') {
    lines.push('  reachable from this machine only: --host 0.0.0.0 lets peers on other machines join');
  }
  for (const run of runs) {
    lines.push('', `run "${run.id}"${run.config.name ? `: ${run.config.name}` : ''}`);
    lines.push(`  trains:   ${describeRun(run.config)}`);
    lines.push(`  join:     ${urls.join(run.id, run.secretToken())}`);
    lines.push(`  overview: ${urls.overview(run.id)}`);
    lines.push(
      `  device:   npm run peer -- --server ${urls.base} --run ${run.id} --token=${run.secretToken()}`,
    );
    if (run.awayCount > 0) {
      lines.push(
        `  resuming: ${run.awayCount} peer(s) of epoch ${run.committedEpoch} from before the restart; ` +
          `those not back within ${heartbeatTimeoutMs} ms are dropped`,
      );
    }
  }
  lines.push('', `admin token (Authorization: Bearer …) for POST /api/runs: ${adminToken}`);
  return lines;
}

/** "small GPT, ring, demuon η 0.05 (linear), data iid, batch 8, 2000 steps, fp32 gossip, ≤ 64 peers" */
export function describeRun(config: RunConfig): string {
  const { model, topology, algorithm, data, batch, steps, encoding, maxPeers } = config;
  return [
    `${model.preset} GPT`,
    formatTopologySpec(topology),
    `${algorithm.name} η ${algorithm.lr.eta} (${algorithm.lr.schedule})`,
    `data ${data}`,
    `batch ${batch}`,
    `${steps} steps`,
    `${encoding} gossip`,
    `≤ ${maxPeers} peers`,
  ].join(', ');
}
