/**
 * Sends `run-state` snapshots to the sockets watching a run: at once for the first change, then at most
 * once per interval, so a burst of joins or a stream of metrics costs one snapshot per interval. A
 * snapshot is built only when someone watches, and encoded once for the whole room by socket.io.
 * Scaled out, the room spans every process (the Redis adapter), so a snapshot is built at every change
 * interval and also handed to `share` (stored for the HTTP API of every process).
 */
import { EVENTS } from '@demuon/shared/protocol';
import type { Run } from './run';
import type { SessionSocket, SignalingIo } from './sockets';

export class RunStateBroadcaster {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly sentAt = new Map<string, number>();

  constructor(
    private readonly io: SignalingIo,
    private readonly intervalMs: number,
    private readonly share?: (run: Run, state: string) => void,
  ) {}

  watch(socket: SessionSocket, run: Run): void {
    void socket.join(room(run.id));
    socket.emit(EVENTS.runState, run.state(Date.now()));
  }

  changed(run: Run): void {
    if (this.pending.has(run.id)) return;
    const wait = Math.max(0, (this.sentAt.get(run.id) ?? 0) + this.intervalMs - Date.now());
    const timer = setTimeout(() => {
      this.pending.delete(run.id);
      const watchers = this.io.sockets.adapter.rooms.get(room(run.id))?.size ?? 0;
      if (watchers === 0 && !this.share) return;
      const now = Date.now();
      this.sentAt.set(run.id, now);
      const state = run.state(now);
      this.io.to(room(run.id)).emit(EVENTS.runState, state);
      this.share?.(run, JSON.stringify(state));
    }, wait);
    this.pending.set(run.id, timer);
  }

  close(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}

function room(runId: string): string {
  return `watch:${runId}`;
}
