/**
 * The collectors of one run: sockets fetching members' parameters (an export, a try-out; see
 * shared/protocol/collect.ts). A collector exchanges signals only with the members it asked, lives at most
 * COLLECTOR_LIFETIME_MS, and a run serves at most MAX_COLLECTORS at once: each costs every member it asks
 * one upload of its parameters.
 */
import { randomBytes } from 'node:crypto';
import type { SignalData } from '@demuon/shared/protocol';

export const MAX_COLLECTORS = 2;
export const COLLECTOR_LIFETIME_MS = 120_000;

type Collector = {
  signal(from: string, data: SignalData): void;
  readonly peers: ReadonlySet<string>;
  readonly expiry: NodeJS.Timeout;
};

export class Collectors {
  private readonly byId = new Map<string, Collector>();

  /** A new collector asking `peers`, whose signals go to `signal`; undefined when the run is busy. */
  open(peers: readonly string[], signal: Collector['signal']): string | undefined {
    if (this.byId.size >= MAX_COLLECTORS) return undefined;
    let id: string;
    do id = `c-${randomBytes(6).toString('base64url')}`;
    while (this.byId.has(id));
    const expiry = setTimeout(() => this.close(id), COLLECTOR_LIFETIME_MS);
    expiry.unref();
    this.byId.set(id, { signal, peers: new Set(peers), expiry });
    return id;
  }

  close(id: string): void {
    clearTimeout(this.byId.get(id)?.expiry);
    this.byId.delete(id);
  }

  /** Whether `collector` exists and asked `member`. */
  asked(collector: string, member: string): boolean {
    return this.byId.get(collector)?.peers.has(member) ?? false;
  }

  /** Relays a member's signal to a collector that asked it; false when there is none. */
  relay(from: string, collector: string, data: SignalData): boolean {
    if (!this.asked(collector, from)) return false;
    this.byId.get(collector)!.signal(from, data);
    return true;
  }

  closeAll(): void {
    for (const id of [...this.byId.keys()]) this.close(id);
  }
}
