/**
 * The server's nesting-depth check: equal to the plain recursive definition on arbitrary JSON, stopping
 * at its limit, and counting a million levels without recursion (the check exists because recursion over
 * such payloads overflowed the stack).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { nestingDepth } from '../../signaling-server/src/payload-depth';

/** The definition: 0 for a scalar, 1 + the deepest child for an array or object. */
function depthByDefinition(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthByDefinition));
}

it('is the depth of any JSON value, or limit + 1 past the limit', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 8 }), fc.nat(10), (value, limit) => {
      const depth = depthByDefinition(value);
      expect(nestingDepth(value, limit)).toBe(depth > limit ? limit + 1 : depth);
      expect(nestingDepth(value, 100)).toBe(depth);
    }),
  );
});

it('counts a million levels without recursion, and byte arrays as scalars', () => {
  let value: unknown = 0;
  for (let i = 0; i < 1_000_000; i++) value = i % 2 ? [value] : { k: value };
  expect(nestingDepth(value, 2_000_000)).toBe(1_000_000);
  expect(nestingDepth(value, 32)).toBe(33);
  expect(nestingDepth({ data: Buffer.alloc(1000), more: new Uint8Array(4) }, 32)).toBe(1);
});
