/**
 * What the page and its peer worker say to each other. Workers have no RTCPeerConnection, so the page
 * owns the WebRTC connections and the worker drives them through `rtc-*` commands and events; everything
 * else (socket.io, onnxruntime, the optimizer, gossip) runs in the worker. The Try box's text is sampled in
 * a worker of its own (generation-worker.ts), from a copy of the peer worker's parameters.
 */
import type { GptConfig } from '@demuon/shared/model';
import type { PeerActivity, StepTiming, TimedStatus } from '@demuon/shared/peer';
import type { LinkCandidates, Metrics, RunConfig } from '@demuon/shared/protocol';
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
  /**
   * onnxruntime's wasm threads (the wasm gradients and Newton–Schulz run on them): more than one only
   * where the page is cross-origin isolated, which shared wasm memory needs.
   */
  readonly wasmThreads: number;
  readonly crossOriginIsolated: boolean;
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
      /** The checkpoint slot this tab had before it was reloaded (see checkpoint-slot.ts). */
      checkpointSlot?: number;
    }
  /** A copy of the peer's current parameters, for the Try box; answered by `parameters`. */
  | { type: 'parameters-request'; id: number }
  /** An event the page's signaling socket received ('connect' and 'disconnect' included). */
  | { type: 'socket-event'; event: string; payload: unknown }
  /** The acknowledgement of a `socket` request, or why there is none. */
  | { type: 'socket-reply'; id: number; reply?: unknown; error?: string }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'leave' }
  | { type: 'rtc-event'; id: number; event: 'signal'; data: SimplePeer.SignalData }
  | { type: 'rtc-event'; id: number; event: 'connect' | 'close' }
  | { type: 'rtc-event'; id: number; event: 'error'; message: string }
  | { type: 'rtc-event'; id: number; event: 'data'; bytes: Uint8Array }
  | { type: 'rtc-event'; id: number; event: 'written'; bytes: number }
  | { type: 'rtc-event'; id: number; event: 'rtt'; ms: number }
  /** The selected ICE candidate pair's types, measured with the round-trip time. */
  | { type: 'rtc-event'; id: number; event: 'candidates'; candidates: LinkCandidates };

export type WorkerToPage =
  | { type: 'capabilities'; capabilities: Capabilities }
  | { type: 'joined'; peerId: string; run: RunConfig }
  | { type: 'step'; step: StepEvent }
  /** What the peer is doing now (replaces the previous activity). */
  | { type: 'activity'; activity: PeerActivity }
  | { type: 'log'; line: string }
  | { type: 'error'; message: string }
  /** The checkpoint slot this tab holds, or why it keeps no checkpoints. */
  | { type: 'checkpoint-slot'; slot: number; location: string }
  | { type: 'checkpoint-slot'; unavailable: string }
  /** A checkpoint was saved: its step, size and the time to encode and write it. */
  | { type: 'checkpoint-saved'; step: number; bytes: number; ms: number }
  | ({ type: 'parameters'; id: number } & ({ snapshot: ModelSnapshot } | { error: string }))
  /** What the worker asks of the page's signaling socket (see socket-proxy.ts). */
  | { type: 'socket'; op: 'emit'; event: string; payload: unknown }
  | { type: 'socket'; op: 'request'; id: number; event: string; payload: unknown; timeoutMs: number }
  | { type: 'socket'; op: 'reconnect' }
  | { type: 'socket'; op: 'heartbeat'; intervalMs: number | null }
  | { type: 'socket'; op: 'status'; status: TimedStatus | undefined }
  | { type: 'rtc-create'; id: number; options: { initiator: boolean; config?: RTCConfiguration } }
  | { type: 'rtc-signal'; id: number; data: SimplePeer.SignalData }
  | { type: 'rtc-write'; id: number; bytes: Uint8Array }
  | { type: 'rtc-destroy'; id: number };

/** A copy of a peer's parameters with what it takes to sample from them. */
export interface ModelSnapshot {
  readonly model: GptConfig;
  /** Steps trained into the parameters (0: untrained). */
  readonly step: number;
  /** In gptParams order. */
  readonly params: Float32Array[];
  /** The run's tokenizer (tokenizer.json of the run's vocabulary, served beside its corpus). */
  readonly tokenizerUrl: string;
}

export interface GenerationRequest {
  readonly type: 'generate';
  /** Tells this request's events from those of an earlier one. */
  readonly id: number;
  readonly snapshot: ModelSnapshot;
  readonly prompt: string;
  readonly tokens: number;
  readonly temperature: number;
  /** Undefined: the whole vocabulary. */
  readonly topK?: number;
  readonly seed: number;
}

export type GenerationEvent =
  /** The model is ready and sampling starts (graph, session and tokenizer took `setupMs`). */
  | { type: 'started'; id: number; promptTokens: number; setupMs: number }
  /** Text that the latest token completes (may be empty: a character split across tokens). */
  | { type: 'text'; id: number; text: string; tokens: number }
  | { type: 'done'; id: number; tokens: number; ms: number }
  | { type: 'failed'; id: number; message: string };

/** To the model package worker: make a model folder (zipped) of X̄ collected from a run's members. */
export interface PackageRequest {
  readonly type: 'package';
  readonly run: RunConfig;
  /** Steps trained into the parameters (the least of the members'). */
  readonly step: number;
  /** The members whose parameters were averaged. */
  readonly peers: readonly string[];
  /** X̄, in gptParams order. */
  readonly params: Float32Array[];
  /** The server's origin: the tokenizer and the validation split are served there. */
  readonly origin: string;
}

export type PackageEvent =
  | { type: 'packaged'; zip: Uint8Array; folder: string; valLoss: number }
  | { type: 'failed'; message: string };
