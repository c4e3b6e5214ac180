/**
 * The page's side of the worker's connections: a real simple-peer (the browser's RTCPeerConnection) per
 * RemotePeer in the worker, with its events forwarded there and its round-trip time measured every few
 * seconds for the dashboard.
 */
import SimplePeer from 'simple-peer/simplepeer.min.js';
import type { PageToWorker, WorkerToPage } from './messages';

export class RtcHost {
  private readonly peers = new Map<number, SimplePeer.Instance>();

  constructor(private readonly post: (message: PageToWorker, transfer?: Transferable[]) => void) {
    setInterval(() => void this.measureRoundTrips(), 3000);
  }

  /** Handles an `rtc-*` command from the worker; false when the message is not one. */
  handle(message: WorkerToPage): boolean {
    switch (message.type) {
      case 'rtc-create':
        this.create(message.id, message.options);
        return true;
      case 'rtc-signal':
        this.peers.get(message.id)?.signal(message.data);
        return true;
      case 'rtc-write': {
        const peer = this.peers.get(message.id);
        if (!peer || peer.destroyed) return true;
        const bytes = message.bytes.byteLength;
        const written = () => this.post({ type: 'rtc-event', id: message.id, event: 'written', bytes });
        if (peer.write(message.bytes)) written();
        else peer.once('drain', written);
        return true;
      }
      case 'rtc-destroy':
        this.peers.get(message.id)?.destroy();
        this.peers.delete(message.id);
        return true;
      default:
        return false;
    }
  }

  private create(id: number, options: { initiator: boolean; config?: RTCConfiguration }): void {
    const peer = new SimplePeer(options);
    this.peers.set(id, peer);
    const event = (message: PageToWorker, transfer?: Transferable[]) => this.post(message, transfer);
    peer.on('signal', (data) => event({ type: 'rtc-event', id, event: 'signal', data }));
    peer.on('connect', () => event({ type: 'rtc-event', id, event: 'connect' }));
    peer.on('data', (data: Uint8Array) => {
      // A copy the worker may own: simple-peer's Buffer can be a view of a larger pool.
      const bytes = data.slice();
      event({ type: 'rtc-event', id, event: 'data', bytes }, [bytes.buffer]);
    });
    peer.on('close', () => {
      this.peers.delete(id);
      event({ type: 'rtc-event', id, event: 'close' });
    });
    peer.on('error', (error: Error) =>
      event({ type: 'rtc-event', id, event: 'error', message: error.message }),
    );
  }

  private async measureRoundTrips(): Promise<void> {
    for (const [id, peer] of this.peers) {
      const pc = (peer as unknown as { _pc?: RTCPeerConnection })._pc;
      if (!pc) continue;
      const report = await pc.getStats().catch(() => null);
      for (const stat of report?.values() ?? []) {
        if (stat.type === 'candidate-pair' && stat.nominated && typeof stat.currentRoundTripTime === 'number')
          this.post({ type: 'rtc-event', id, event: 'rtt', ms: stat.currentRoundTripTime * 1000 });
      }
    }
  }
}
