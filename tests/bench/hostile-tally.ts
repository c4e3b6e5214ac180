/**
 * What the hostile benchmark and its hostile member process (hostile-member.ts) tell each other: the attack
 * classes the member runs, the run it attacks, and the tally of what each class sent and how it was answered.
 */

/** Classes run in the hostile process; the byzantine ones are `npm run peer` processes the bench starts. */
export const MEMBER_CLASSES = ['http', 'socket-garbage', 'member', 'resume', 'unread', 'frames'] as const;
export type MemberClass = (typeof MEMBER_CLASSES)[number];

export interface Target {
  readonly url: string;
  readonly port: number;
  readonly runId: string;
  readonly token: string;
}

/** What one class did in one slot (or, summed, in a phase). */
export interface TallyData {
  sent: number;
  /** Outcome → count: HTTP statuses, refusal codes of acks and error-replies, disconnects, … */
  answers: Record<string, number>;
  /** Per kind of attack: `sent` and its outcomes. */
  detail: Record<string, Record<string, number>>;
  /** Peer ids the hostile member had while joined. */
  ids: string[];
  notes: string[];
}

export type ToMember =
  | { type: 'attack'; cls: MemberClass; ms: number; target: Target }
  | { type: 'stop'; target: Target };
export type FromMember =
  | { type: 'done'; cls: MemberClass | 'unread-final'; tally: TallyData }
  | { type: 'ready' };

export class Tally {
  readonly data: TallyData = emptyTally();

  sent(kind: string, n = 1): void {
    this.data.sent += n;
    this.bump(kind, 'sent', n);
  }

  answer(kind: string, outcome: string, n = 1): void {
    this.data.answers[outcome] = (this.data.answers[outcome] ?? 0) + n;
    this.bump(kind, outcome, n);
  }

  note(text: string): void {
    if (this.data.notes.length < 20 && !this.data.notes.includes(text)) this.data.notes.push(text);
  }

  id(peer: string): void {
    if (!this.data.ids.includes(peer)) this.data.ids.push(peer);
  }

  private bump(kind: string, outcome: string, n: number): void {
    const row = this.data.detail[kind] ?? {};
    this.data.detail[kind] = row;
    row[outcome] = (row[outcome] ?? 0) + n;
  }
}

export function mergeTally(into: TallyData, from: TallyData): void {
  into.sent += from.sent;
  for (const [k, v] of Object.entries(from.answers)) into.answers[k] = (into.answers[k] ?? 0) + v;
  for (const [kind, row] of Object.entries(from.detail)) {
    const target = into.detail[kind] ?? {};
    into.detail[kind] = target;
    for (const [k, v] of Object.entries(row)) target[k] = (target[k] ?? 0) + v;
  }
  for (const id of from.ids) if (!into.ids.includes(id)) into.ids.push(id);
  for (const n of from.notes) if (into.notes.length < 30 && !into.notes.includes(n)) into.notes.push(n);
}

export function emptyTally(): TallyData {
  return { sent: 0, answers: {}, detail: {}, ids: [], notes: [] };
}
