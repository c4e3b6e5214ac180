/**
 * One phase of the hostile benchmark: start the honest peers, wait until they all train, then through the
 * window either let them train alone (clean) or cycle through the attack classes (hostile): the hostile
 * member process runs its classes, the byzantine ones are `npm run peer --byzantine …` processes started
 * here. The peers are stopped at the window's end and the window measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SignalingServer } from '../../signaling-server/src';
import { measureWindow, type PhaseResult, type Slot, WindowSampler } from './hostile-measure';
import type { HostileMemberProcess } from './hostile-member-process';
import { BenchPeer } from './hostile-peers';
import {
  type AttackClass,
  cycle,
  EXIT_GRACE_MS,
  logsDir,
  minutes,
  type PhaseSpec,
  peers,
  say,
  sleep,
  WARMUP_MS,
  WARMUP_STEPS,
} from './hostile-settings';
import { emptyTally, type MemberClass, mergeTally, type TallyData, type Target } from './hostile-tally';

export interface PhaseContext {
  server: SignalingServer;
  member: HostileMemberProcess;
  /** Every peer process the bench started, killed whatever happens: this phase's are added to it. */
  allPeers: BenchPeer[];
}

export async function runPhase(
  spec: PhaseSpec,
  { server, member, allPeers }: PhaseContext,
): Promise<PhaseResult> {
  const runId = spec.run;
  const token = server.runs.get(runId)!.secretToken();
  const target: Target = { url: server.url, port: server.port, runId, token };
  const peerArgs = [
    ...['--server', server.url, '--run', runId, `--token=${token}`],
    ...['--backend', 'cpu', '--threads', '1'],
  ];
  const honest: BenchPeer[] = [];
  const byzantine: BenchPeer[] = [];
  const attacks: Record<string, TallyData> = {};
  const slots: Slot[] = [];
  const tallyOf = (cls: AttackClass) => {
    attacks[cls] = attacks[cls] ?? emptyTally();
    return attacks[cls];
  };
  let sampler: WindowSampler | undefined;
  const started = Date.now();
  try {
    for (let i = 0; i < peers; i++) {
      const p = new BenchPeer(`${runId}-p${i + 1}`, [...peerArgs, '--wait-for', String(peers)]);
      honest.push(p);
      allPeers.push(p);
    }
    const deadline = Date.now() + WARMUP_MS;
    for (;;) {
      const failed = honest.find((p) => !p.running);
      if (failed) throw new Error(`${failed.name} exited during warm-up:\n${failed.tail.join('\n')}`);
      if (honest.every((p) => p.steps.length >= WARMUP_STEPS)) break;
      if (Date.now() > deadline) {
        const lines = honest.map((p) => `  ${p.name}: ${p.lines.at(-1)?.text ?? 'no output'}`);
        throw new Error(
          `${runId}: the peers were not training after ${WARMUP_MS / 1000} s:\n${lines.join('\n')}`,
        );
      }
      await sleep(250);
    }
    const windowStart = Date.now();
    const windowEnd = windowStart + minutes * 60_000;
    sampler = new WindowSampler(windowStart, () => [...honest, ...byzantine], member);
    say(
      `${runId}: ${peers} honest peers training after ${((windowStart - started) / 1000).toFixed(0)} s; ${minutes} min window`,
    );

    if (spec.hostile && cycle.length > 0) {
      let i = 0;
      let skipped = 0;
      for (;;) {
        const left = windowEnd - Date.now();
        if (left < 2000 || skipped >= cycle.length) break;
        const slot = cycle[i++ % cycle.length];
        if (left < slot.minMs) {
          skipped++;
          continue;
        }
        skipped = 0;
        const ms = Math.min(slot.ms, left);
        const at = Date.now();
        say(`${runId}: attack ${slot.cls} for ${(ms / 1000).toFixed(0)} s`);
        const tally = slot.cls.startsWith('byzantine')
          ? await byzantineSlot(slot.cls === 'byzantine-scale' ? 'scale:1e30' : 'sign-flip', ms)
          : await member.ask(
              { type: 'attack', cls: slot.cls as MemberClass, ms, target },
              ms + 30_000,
              `${runId} ${slot.cls}`,
            );
        mergeTally(tallyOf(slot.cls), tally);
        slots.push({
          cls: slot.cls,
          atS: Number(((at - windowStart) / 1000).toFixed(1)),
          s: Number(((Date.now() - at) / 1000).toFixed(1)),
          sent: tally.sent,
        });
        say(`${runId}: ${slot.cls}: sent ${tally.sent}; ${topAnswers(tally, 4)}`);
      }
    }
    await sleep(windowEnd - Date.now());
    if (spec.hostile && member.started) {
      // The unread sockets stay open to the end of the phase: read them once more now.
      const final = await member.ask({ type: 'stop', target }, 30_000, `${runId} end`);
      if (final.sent > 0 || Object.keys(final.answers).length > 0) mergeTally(tallyOf('unread'), final);
    }
    sampler.stop();
    const stoppedAt = Date.now();
    await Promise.all([...honest, ...byzantine].map((p) => p.stop(EXIT_GRACE_MS)));

    const phaseWindow = {
      spec,
      honest,
      byzantine,
      started,
      windowStart,
      windowEnd,
      stoppedAt,
      attacks,
      slots,
    };
    const result = measureWindow(phaseWindow, sampler);
    const final = result.finalVal;
    say(
      `${runId}: ${result.honestStepsPerMinutePerPeer.toFixed(1)} honest steps/min per peer, val ${final ? `${final.mean.toFixed(4)} at step ${final.step}` : 'n/a'}, ${result.honestEvictions.length} honest evictions, ${result.honestExitsUnprompted.length} honest crashes`,
    );
    return result;
  } finally {
    sampler?.dispose();
    for (const p of [...honest, ...byzantine]) p.kill();
    await Promise.all([...honest, ...byzantine].map((p) => p.exited));
    if (logsDir) {
      mkdirSync(logsDir, { recursive: true });
      for (const p of [...honest, ...byzantine]) {
        const text = p.lines.map((l) => `${((l.t - started) / 1000).toFixed(3)} ${l.text}\n`).join('');
        writeFileSync(join(logsDir, `${p.name}.log`), text);
      }
    }
  }

  /** A byzantine `npm run peer` for `ms`: its steps trained (with corrupted gossip) are what it sent. */
  async function byzantineSlot(attack: string, ms: number): Promise<TallyData> {
    const name = `${runId}-byz${byzantine.length + 1}`;
    const p = new BenchPeer(name, [...peerArgs, '--wait-for', '2', '--byzantine', attack]);
    byzantine.push(p);
    allPeers.push(p);
    await Promise.race([sleep(ms), p.exited]);
    const died = !p.running;
    await p.stop(10_000);
    const tally = emptyTally();
    const kind = `--byzantine ${attack}`;
    tally.sent = p.steps.length;
    const row: Record<string, number> = { sent: p.steps.length };
    const count = (outcome: string, n = 1) => {
      if (n === 0) return;
      tally.answers[outcome] = (tally.answers[outcome] ?? 0) + n;
      row[outcome] = (row[outcome] ?? 0) + n;
    };
    count('joined', p.joins.length);
    count('took state from a neighbour', p.bootstraps.length);
    count('steps trained', p.steps.length);
    for (const e of p.evictions) count(`evicted: ${e.reason.slice(0, 60)}`);
    count(`exit ${p.exit?.code ?? p.exit?.signal}${died ? ' before told to leave' : ''}`);
    tally.detail[kind] = row;
    tally.ids = p.ids;
    if (died) tally.notes.push(`${name} exited by itself: ${p.tail.slice(-5).join(' | ')}`);
    return tally;
  }
}

/** The `n` most frequent answers of a slot, for its line. */
function topAnswers(t: TallyData, n: number): string {
  const rows = Object.entries(t.answers).sort((a, b) => b[1] - a[1]);
  const shown = rows.slice(0, n).map(([k, v]) => `${k} ${v}`);
  return shown.join(', ') + (rows.length > n ? `, … (${rows.length - n} more)` : '');
}
