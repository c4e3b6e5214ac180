/**
 * How deeply an event payload nests, found without recursion: socket.io hands the server whatever JSON
 * arrived, and a payload nested thousands of levels deep fits in a small message yet overflows the stack
 * of anything that walks it recursively (schema checks, serialisation when relayed).
 */

/**
 * The nesting depth of `value` (0 for a scalar, 1 for `{}` or `[]`), or `limit + 1` as soon as it is
 * known to exceed `limit`. Byte arrays (binary attachments) count as scalars.
 */
export function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [item, depth] = next;
    if (!isContainer(item)) continue;
    if (depth > limit) return limit + 1;
    deepest = Math.max(deepest, depth);
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (isContainer(child)) stack.push([child, depth + 1]);
    }
  }
  return deepest;
}

function isContainer(value: unknown): value is object {
  return (
    typeof value === 'object' &&
    value !== null &&
    !ArrayBuffer.isView(value) &&
    !(value instanceof ArrayBuffer)
  );
}
