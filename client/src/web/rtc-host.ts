/**
 * The page's side of the worker's connections: a real simple-peer (the browser's RTCPeerConnection) per
 * RemotePeer in the worker, with its events forwarded there and its round-trip time and route (the
 * selected ICE candidate pair's types) measured every few seconds for the dashboard.
 */
import SimplePeer from 'simple-peer/simplepeer.min.js';
import { selectedPair } from '../net/selected-pair';
import type { PageToWorker, WorkerToPage } from './messages';

interface Hosted {
  readonly peer: SimplePeer.Instance;
  /** Bytes written while the channel was backed up, acknowledged together once it drains. */
  unacknowledged: number;
  /** Whether a 'drain' is awaited: one listener however many writes wait for it. */
  draining: boolean;
}

export class RtcHost {
  private readonly peers = new Map<number, Hosted>();

  constructor(private readonly post: (message: PageToWorker, transfer?: Transferable[]) => void) {
    setInterval(() => void this.measureSelectedPairs(), 3000);
  }

  /** Handles an `rtc-*` command from the worker; false when the message is not one. */
  handle(message: WorkerToPage): boolean {
    switch (message.type) {
      case 'rtc-create':
        this.create(message.id, message.options);
        return true;
      case 'rtc-signal':
        this.signal(message.id, message.data);
        return true;
      case 'rtc-write':
        this.write(message.id, message.bytes);
        return true;
      case 'rtc-destroy':
        this.peers.get(message.id)?.peer.destroy();
        this.peers.delete(message.id);
        return true;
      default:
        return false;
    }
  }

  private create(id: number, options: { initiator: boolean; config?: RTCConfiguration }): void {
    let peer: SimplePeer.Instance;
    try {
      peer = new SimplePeer(options);
    } catch (error) {
      // E.g. an ICE server the browser refuses: this connection fails, the worker hears why.
      this.failed(id, `cannot make a connection: ${describe(error)}`);
      return;
    }
    this.peers.set(id, { peer, unacknowledged: 0, draining: false });
    const event = (message: PageToWorker, transfer?: Transferable[]) => this.post(message, transfer);
    peer.on('signal', (data) => event({ type: 'rtc-event', id, event: 'signal', data }));
    peer.on('connect', () => event({ type: 'rtc-event', id, event: 'connect' }));
    peer.on('data', (data: Uint8Array) => {
      // A copy the worker may own: simple-peer's Buffer can be a view of a larger pool.
      const bytes = data.slice();
      event({ type: 'rtc-event', id, event: 'data', bytes }, [bytes.buffer]);
    });
    peer.on('close', () => {
      if (this.peers.get(id)?.peer !== peer) return;
      this.peers.delete(id);
      event({ type: 'rtc-event', id, event: 'close' });
    });
    // simple-peer ends a connection whose remote description is junk with an 'error' (then 'close').
    peer.on('error', (error: Error) =>
      event({ type: 'rtc-event', id, event: 'error', message: error.message }),
    );
  }

  /**
   * A relayed signal. One the connection throws on (it was destroyed, or the browser's
   * RTCSessionDescription or RTCIceCandidate refuses its data) costs this connection, never the page.
   */
  private signal(id: number, data: SimplePeer.SignalData): void {
    const hosted = this.peers.get(id);
    if (!hosted) return;
    try {
      hosted.peer.signal(data);
    } catch (error) {
      this.peers.delete(id);
      hosted.peer.destroy();
      this.failed(id, `refused a signal: ${describe(error)}`);
    }
  }

  /**
   * Writes a frame and acknowledges it once the data channel took it: at once, or when the backed-up
   * channel drains, with every frame written meanwhile.
   */
  private write(id: number, bytes: Uint8Array): void {
    const hosted = this.peers.get(id);
    if (!hosted || hosted.peer.destroyed) return;
    const accepted = hosted.peer.write(bytes);
    if (accepted && !hosted.draining) {
      this.post({ type: 'rtc-event', id, event: 'written', bytes: bytes.byteLength });
      return;
    }
    hosted.unacknowledged += bytes.byteLength;
    if (hosted.draining) return;
    hosted.draining = true;
    hosted.peer.once('drain', () => {
      const written = hosted.unacknowledged;
      hosted.unacknowledged = 0;
      hosted.draining = false;
      this.post({ type: 'rtc-event', id, event: 'written', bytes: written });
    });
  }

  /** Tells the worker that connection `id` failed and is closed. */
  private failed(id: number, reason: string): void {
    this.post({ type: 'rtc-event', id, event: 'error', message: reason });
    this.post({ type: 'rtc-event', id, event: 'close' });
  }

  private async measureSelectedPairs(): Promise<void> {
    for (const [id, { peer }] of this.peers) {
      const pc = (peer as unknown as { _pc?: RTCPeerConnection })._pc;
      if (!pc) continue;
      const report = await pc.getStats().catch(() => null);
      if (!report) continue;
      const { rttMs, candidates } = selectedPair(report);
      if (rttMs !== undefined) this.post({ type: 'rtc-event', id, event: 'rtt', ms: rttMs });
      if (candidates) this.post({ type: 'rtc-event', id, event: 'candidates', candidates });
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
