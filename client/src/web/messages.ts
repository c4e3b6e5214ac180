/**
 * What the page and its peer worker say to each other. Workers have no RTCPeerConnection, so the page
 * owns the WebRTC connections and the worker drives them through `rtc-*` commands and events; everything
 * else (socket.io, onnxruntime, the optimizer, gossip) runs in the worker.
 */
import type { PeerActivity, StepTiming } from '@demuon/shared/peer';
import type { Metrics, RunConfig } from '@demuon/shared/protocol';
import type SimplePeer from 'simple-peer';

export interface Capabilities {
  /** The execution provider the gradients run on. */
  readonly provider: 'webgpu' | 'wasm';
  /** Why WebGPU is not used, when it is not. */
  readonly fallbackReason?: string;
  readonly adapter?: { vendor: string; architecture: string; device: string; description: string };
  readonly features: readonly string[];
  readonly limits: Readonly<Record<string, number>>;
  readonly optimizerBackend: string;
  /** Whether parameters and gradients stay on the GPU between onnxruntime and the optimizer. */
  readonly residentParams: boolean;
}

export interface StepEvent {
  readonly step: number;
  readonly totalSteps: number;
  readonly trainLoss: number;
  readonly valLoss?: number;
  /** ‖x_i − Σ_j w_ij·x_j‖ at this step's gossip of parameters. */
  readonly disagreement?: number;
  readonly timing: StepTiming;
  /** Topology epoch. */
  readonly epoch: number;
  /** Passes over this peer's data shard so far. */
  readonly dataEpochs: number;
  readonly members: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly links: Metrics['links'];
}

export type PageToWorker =
  | {
      type: 'start';
      server: string;
      runId: string;
      token: string;
      name?: string;
      /** 'auto' takes WebGPU when the browser has it. */
      provider: 'auto' | 'webgpu' | 'wasm';
      /** On WebGPU, keep parameters and gradients on the GPU (false: copy them through the CPU each step). */
      resident: boolean;
      /** Training starts once the run has this many peers (a peer alone has no one to gossip with). */
      waitForPeers: number;
    }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'leave' }
  | { type: 'rtc-event'; id: number; event: 'signal'; data: SimplePeer.SignalData }
  | { type: 'rtc-event'; id: number; event: 'connect' | 'close' }
  | { type: 'rtc-event'; id: number; event: 'error'; message: string }
  | { type: 'rtc-event'; id: number; event: 'data'; bytes: Uint8Array }
  | { type: 'rtc-event'; id: number; event: 'written'; bytes: number }
  | { type: 'rtc-event'; id: number; event: 'rtt'; ms: number };

export type WorkerToPage =
  | { type: 'capabilities'; capabilities: Capabilities }
  | { type: 'joined'; peerId: string; run: RunConfig }
  | { type: 'step'; step: StepEvent }
  /** What the peer is doing now (replaces the previous activity). */
  | { type: 'activity'; activity: PeerActivity }
  | { type: 'log'; line: string }
  | { type: 'error'; message: string }
  | { type: 'rtc-create'; id: number; options: { initiator: boolean; config?: RTCConfiguration } }
  | { type: 'rtc-signal'; id: number; data: SimplePeer.SignalData }
  | { type: 'rtc-write'; id: number; bytes: Uint8Array }
  | { type: 'rtc-destroy'; id: number };
