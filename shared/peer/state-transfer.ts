/**
 * The state a late joiner takes from a neighbour before its first step: the parameters, then the
 * optimizer state by name, one message of the link's 'state' exchange per group, keyed by the step the
 * joiner starts at. Both ends list the groups with `transferredTensors`, so they agree on the order.
 */
import type { DecentralizedAlgorithm } from '../optim';
import type { Tensor, TensorBackend } from '../tensor';

/** The link calls a state exchange needs (WebRtcGossipLink's, with `exchange: 'state'`). */
export interface StateLink {
  send(to: number, key: StateKey, tensors: readonly Float32Array[]): void;
  receive(from: number, key: StateKey): Promise<Float32Array[]>;
}

export interface StateKey {
  readonly exchange: 'state';
  readonly step: number;
  /** The group: 0 the parameters, then each optimizer state entry in name order. */
  readonly round: number;
}

/** What a late joiner receives, one group per message: the parameters, then the optimizer state by name. */
export function transferredTensors<T extends Tensor>(algorithm: DecentralizedAlgorithm<T>): (readonly T[])[] {
  return [
    algorithm.params,
    ...Object.keys(algorithm.state)
      .sort()
      .map((k) => algorithm.state[k]),
  ];
}

/** This node's state on the host, one array per tensor of each group, in `transferredTensors` order. */
export function readState<T extends Tensor>(
  backend: TensorBackend<T>,
  algorithm: DecentralizedAlgorithm<T>,
): Promise<Float32Array[][]> {
  return Promise.all(transferredTensors(algorithm).map((g) => Promise.all(g.map((t) => backend.read(t)))));
}

/** Overwrites this node's state with `groups`, in `transferredTensors` order. */
export function writeState<T extends Tensor>(
  backend: TensorBackend<T>,
  algorithm: DecentralizedAlgorithm<T>,
  groups: readonly (readonly Float32Array[])[],
): void {
  for (const [round, tensors] of transferredTensors(algorithm).entries())
    for (const [i, t] of tensors.entries()) backend.write(t, groups[round][i]);
}

/**
 * Sends this node's state to each of `to` for their first step `step`. A state that is not finite is
 * not sent (false): it would only spoil the joiner, which then gives up on this node and joins again.
 */
export async function sendState<T extends Tensor>(
  link: StateLink,
  backend: TensorBackend<T>,
  algorithm: DecentralizedAlgorithm<T>,
  to: readonly number[],
  step: number,
): Promise<boolean> {
  if (to.length === 0) return true;
  const groups = await readState(backend, algorithm);
  if (!groups.every((g) => g.every((values) => values.every(Number.isFinite)))) return false;
  for (const peer of to)
    for (const [round, tensors] of groups.entries())
      link.send(peer, { exchange: 'state', step, round }, tensors);
  return true;
}

/** Takes a neighbour's state for the first step `step`, then restarts gradient tracking from it. */
export async function receiveState<T extends Tensor>(
  link: StateLink,
  backend: TensorBackend<T>,
  algorithm: DecentralizedAlgorithm<T>,
  from: number,
  step: number,
): Promise<void> {
  const groups: Float32Array[][] = [];
  for (let round = 0; round < transferredTensors(algorithm).length; round++)
    groups.push(await link.receive(from, { exchange: 'state', step, round }));
  writeState(backend, algorithm, groups);
  algorithm.resetTracking();
}
