/**
 * Attack class `unread`: sockets that watch the run and send bad events with acks, 150 a second each, and
 * never read the replies, so that the server's answers pile up for them. They stay open, unread, from the
 * slot that opened them to the end of the phase; then each is read again to see whether the server let
 * them go.
 */
import { RawSocketIo } from '../helpers/raw-socket-io';
import { errorText, sendIfOpen, sleep } from './hostile-attack-tools';
import type { Tally, Target } from './hostile-tally';

interface UnreadSocket {
  client: RawSocketIo;
  openedAt: number;
  sendErrors: number;
  nextAckId: number;
}

/** Every unread socket opened in this phase (the member process lives through the phase). */
const unreadSockets: UnreadSocket[] = [];

export async function attackUnread(target: Target, until: number, tally: Tally): Promise<void> {
  // Two more each slot, kept (unread) to the end of the phase.
  for (let k = 0; k < 2; k++) {
    try {
      const client = await RawSocketIo.connect(target.url);
      client.sendEvent(`["watch",{"runId":"${target.runId}"}]`);
      client.pauseReading();
      unreadSockets.push({ client, openedAt: Date.now(), sendErrors: 0, nextAckId: 1 });
      tally.answer('open', 'opened, watching, paused');
    } catch (error) {
      tally.answer('open', `connect failed: ${errorText(error).slice(0, 40)}`);
    }
  }
  const bigKey = 'k'.repeat(400);
  while (Date.now() < until) {
    for (const u of unreadSockets) {
      // 15 per 100 ms: 150 events/s with acks, each answered with a refusal that quotes the unknown key.
      for (let i = 0; i < 15; i++) {
        const ackId = u.nextAckId++ % 1_000_000;
        const ok = sendIfOpen(u.client, `42${ackId}["heartbeat",{"${bigKey}${i}":${i}}]`, () => {
          u.sendErrors++;
        });
        if (ok) tally.sent('bad events with acks, never read');
        else {
          tally.answer('bad events with acks, never read', 'not sent: connection gone');
          break;
        }
      }
    }
    await sleep(100);
  }
}

/** At the phase's end: reads each unread socket again for a moment to see whether the server dropped it. */
export async function finishUnread(tally: Tally): Promise<void> {
  for (const u of unreadSockets) {
    const { client } = u;
    const framesBefore = client.frames.length;
    client.resumeReading();
    const deadline = Date.now() + 2000;
    while (!client.isClosed && Date.now() < deadline) await sleep(100);
    // What the server had queued for it: the frames that came once it read again.
    const read = client.frames.slice(framesBefore).reduce((bytes, f) => bytes + Buffer.byteLength(f), 0);
    tally.answer(
      'unread sockets at the end',
      client.isClosed ? 'disconnected by the server' : 'still open at the end of the phase',
    );
    tally.note(
      `unread socket open ${((Date.now() - u.openedAt) / 1000).toFixed(0)} s: ${client.isClosed ? 'closed by the server' : 'open'}, ${(read / 1024).toFixed(0)} KiB queued for it, ${u.sendErrors} send errors`,
    );
    client.close();
  }
  unreadSockets.length = 0;
}
