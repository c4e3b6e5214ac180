/**
 * The join page's log: lines in words, and a message that repeats (a refusal the server sends every
 * heartbeat, say) shown once with a count, "… ×12", its time that of the latest repeat. Folding lines
 * into entries is a pure function, so that it is tested without a browser; LogView draws the entries.
 */

export type LogEntry = {
  text: string;
  /** How many times the line came; shown as "×count" from 2 on. */
  count: number;
  /** When it came first and last (ms since the epoch). */
  firstAt: number;
  lastAt: number;
};

/** A repeat folds into the same text among this many latest entries (not only the very last one). */
export const REPEAT_LOOKBACK = 5;

/** The newest entries kept; older ones drop off the top. */
export const MAX_ENTRIES = 200;

/**
 * Adds a line: the existing entry's count and time go up when the same text is among the last
 * `lookback` entries, else a new entry is appended. Returns the entry and whether it is new.
 */
export function foldLine(
  entries: LogEntry[],
  text: string,
  at: number,
  lookback = REPEAT_LOOKBACK,
): { entry: LogEntry; appended: boolean } {
  for (let i = entries.length - 1; i >= Math.max(0, entries.length - lookback); i--) {
    const entry = entries[i];
    if (entry.text !== text) continue;
    entry.count++;
    entry.lastAt = at;
    return { entry, appended: false };
  }
  const entry = { text, count: 1, firstAt: at, lastAt: at };
  entries.push(entry);
  return { entry, appended: true };
}

/** The entries a sequence of lines folds into. */
export function foldLines(
  lines: readonly { text: string; at: number }[],
  lookback = REPEAT_LOOKBACK,
): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of lines) foldLine(entries, line.text, line.at, lookback);
  return entries;
}

/** The server's error replies, which the peer logs as `server: {"code":…,"message":…,"event":…}`. */
const SERVER_REPLY = /^server: (\{.*\})$/s;

/**
 * A log line in words: a server error reply becomes "server refused 'heartbeat': this socket is not a
 * member of a run (not-joined)"; any other line is kept as it is.
 */
export function describeLogLine(line: string): string {
  const json = SERVER_REPLY.exec(line)?.[1];
  if (json === undefined) return line;
  let reply: { code?: unknown; message?: unknown; event?: unknown };
  try {
    reply = JSON.parse(json);
  } catch {
    return line;
  }
  if (typeof reply.code !== 'string' || typeof reply.message !== 'string') return line;
  const event = typeof reply.event === 'string' ? ` '${reply.event}'` : '';
  return `server refused${event}: ${reply.message} (${reply.code})`;
}

type Row = { item: HTMLLIElement; time: HTMLTimeElement; count: HTMLSpanElement };

/** Draws the entries into a list: li > time, .log-text, .log-count ("×12", empty for a single line). */
export class LogView {
  private readonly entries: LogEntry[] = [];
  private readonly rows = new Map<LogEntry, Row>();

  constructor(private readonly list: HTMLElement) {}

  add(line: string, at = Date.now()): void {
    const { entry, appended } = foldLine(this.entries, describeLogLine(line), at);
    let row = this.rows.get(entry);
    if (!row) {
      row = {
        item: document.createElement('li'),
        time: document.createElement('time'),
        count: span('log-count'),
      };
      // Spaces between the parts, so that copied text (and innerText) reads as a sentence.
      row.item.append(row.time, ' ', span('log-text', entry.text), ' ', row.count);
      this.rows.set(entry, row);
      this.list.append(row.item);
    }
    draw(row, entry);
    while (this.entries.length > MAX_ENTRIES) {
      const oldest = this.entries.shift()!;
      this.rows.get(oldest)?.item.remove();
      this.rows.delete(oldest);
    }
    if (appended) this.list.scrollTop = this.list.scrollHeight;
  }
}

function draw({ item, time, count }: Row, entry: LogEntry): void {
  time.dateTime = new Date(entry.lastAt).toISOString();
  time.textContent = new Date(entry.lastAt).toLocaleTimeString();
  count.textContent = entry.count > 1 ? `×${entry.count}` : '';
  item.title =
    entry.count > 1 ? `${entry.count} times, first at ${new Date(entry.firstAt).toLocaleTimeString()}` : '';
}

function span(className: string, text = ''): HTMLSpanElement {
  const node = document.createElement('span');
  node.className = className;
  node.textContent = text;
  return node;
}
