/**
 * The worker's stand-in for a simple-peer connection that lives on the page: it emits the events
 * NetworkPeer and the gossip link listen to (signal, connect, data, drain, close, error) and forwards
 * signal, write and destroy to the page. Writes are paced by the page's acknowledgements, which come once
 * the real data channel took the frame, so backpressure reaches the worker.
 */
import type { LinkCandidates } from '@demuon/shared/protocol';
import type SimplePeer from 'simple-peer';
import type { PageToWorker, WorkerToPage } from './messages';

/** Bytes handed to the page and not yet taken by its data channel before `write` says "wait". */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;

type Listener = (...args: unknown[]) => void;

export class RemotePeer {
  private readonly listeners = new Map<string, Set<Listener>>();
  private inFlight = 0;
  private readonly unread: Uint8Array[] = [];
  private blocked = false;
  destroyed = false;
  /** The data channel's round-trip time as the page last measured it. */
  rttMs: number | undefined;
  /** The selected ICE candidate pair's types as the page last measured them. */
  candidates: LinkCandidates | undefined;

  constructor(
    readonly id: number,
    private readonly post: (message: WorkerToPage) => void,
  ) {}

  on(event: string, listener: Listener): this {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    // Like a paused stream, data that came before anyone listened is handed to the first listener.
    if (event === 'data') for (const bytes of this.unread.splice(0)) listener(bytes);
    return this;
  }

  once(event: string, listener: Listener): this {
    const wrapped: Listener = (...args) => {
      this.off(event, wrapped);
      listener(...args);
    };
    return this.on(event, wrapped);
  }

  off(event: string, listener: Listener): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  signal(data: SimplePeer.SignalData): void {
    if (!this.destroyed) this.post({ type: 'rtc-signal', id: this.id, data });
  }

  /** Sends a frame; false asks the caller to wait for 'drain'. */
  write(chunk: Uint8Array): boolean {
    if (this.destroyed) return false;
    this.inFlight += chunk.byteLength;
    this.post({ type: 'rtc-write', id: this.id, bytes: chunk });
    if (this.inFlight > HIGH_WATER) this.blocked = true;
    return !this.blocked;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.post({ type: 'rtc-destroy', id: this.id });
    this.closed();
  }

  /** An event from the page's connection. */
  receive(message: Extract<PageToWorker, { type: 'rtc-event' }>): void {
    switch (message.event) {
      case 'signal':
        this.emit('signal', message.data);
        break;
      case 'connect':
        this.emit('connect');
        break;
      case 'data':
        // A channel can deliver before simple-peer says 'connect', i.e. before the gossip link listens.
        if (!this.listeners.get('data')?.size) this.unread.push(message.bytes);
        else this.emit('data', message.bytes);
        break;
      case 'written':
        this.inFlight -= message.bytes;
        if (this.blocked && this.inFlight <= LOW_WATER) {
          this.blocked = false;
          this.emit('drain');
        }
        break;
      case 'rtt':
        this.rttMs = message.ms;
        break;
      case 'candidates':
        this.candidates = message.candidates;
        break;
      case 'error':
        this.emit('error', new Error(message.message));
        break;
      case 'close':
        this.closed();
        break;
    }
  }

  private closed(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) listener(...args);
  }
}
