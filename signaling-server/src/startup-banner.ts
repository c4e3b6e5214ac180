/**
 * What the server prints when it starts: where it listens, and for every run what it trains, where to join
 * (the URL carries the run's token) and where to watch it. One line per fact, so that a host can copy a
 * URL out of a terminal without hunting for it.
 */
import { formatTopologySpec } from '@demuon/shared/graph';
import type { RunConfig } from '@demuon/shared/protocol';
import type { PublicUrls } from './urls';

/** A run as the banner shows it; `away`: the members of its stored epoch that have not resumed yet. */
export type BannerRun = { config: RunConfig; token: string; away?: { count: number; epoch: number } };

export type BannerInput = {
  urls: PublicUrls;
  host: string;
  dataDir: string;
  runs: readonly BannerRun[];
  adminToken: string;
  heartbeatTimeoutMs: number;
  /** Scaled out: this process's name (the runs, members and metrics are in Redis, not dataDir). */
  processName?: string;
};

export function startupBanner(input: BannerInput) {
  const { urls, host, dataDir, runs, adminToken, heartbeatTimeoutMs, processName } = input;
  const lines = [
    processName
      ? `signaling server process ${processName} on ${urls.base} (runs shared through Redis)`
      : `signaling server on ${urls.base} (data in ${dataDir})`,
  ];
  if (host === '127.0.0.1' || host === 'localhost') {
    lines.push('  reachable from this machine only: --host 0.0.0.0 lets peers on other machines join');
  }
  for (const { config, token, away } of runs) {
    const id = config.id;
    lines.push('', `run "${id}"${config.name ? `: ${config.name}` : ''}`);
    lines.push(`  trains:   ${describeRun(config)}`);
    lines.push(`  join:     ${urls.join(id, token)}`);
    lines.push(`  overview: ${urls.overview(id)}`);
    lines.push(`  device:   npm run peer -- --server ${urls.base} --run ${id} --token=${token}`);
    if (away && away.count > 0) {
      lines.push(
        `  resuming: ${away.count} peer(s) of epoch ${away.epoch} from before the restart; ` +
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
