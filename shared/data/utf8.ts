/**
 * UTF-8 written by hand, in its WTF-8 flavour: a lone surrogate (legal in a JavaScript string, illegal in
 * UTF-8) is encoded as its own 3-byte sequence instead of being replaced by U+FFFD, so that the byte-level
 * tokenizer round-trips every JavaScript string exactly. Hand-written code also keeps shared/ free of
 * TextEncoder/TextDecoder, which are not part of the ES2022 library.
 */

/** Appends the WTF-8 bytes of `text` to `out` and returns `out`. */
export function encodeUtf8(text: string, out: number[] = []): number[] {
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return out;
}

const REPLACEMENT = 0xfffd;

/**
 * Decodes WTF-8 bytes. Bytes that form no valid sequence (as when a caller decodes a token that holds
 * half of a multi-byte character) become U+FFFD, one per offending byte, and decoding goes on.
 */
export function decodeUtf8(bytes: ArrayLike<number>): string {
  const units: number[] = [];
  let text = '';
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i];
    let cp = REPLACEMENT;
    let size = 1;
    if (b0 < 0x80) {
      cp = b0;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      if (isContinuation(bytes, i + 1, n)) {
        cp = ((b0 & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
        size = 2;
      }
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      if (isContinuation(bytes, i + 1, n) && isContinuation(bytes, i + 2, n)) {
        const value = ((b0 & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
        if (value >= 0x800) {
          cp = value;
          size = 3;
        }
      }
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      if (
        isContinuation(bytes, i + 1, n) &&
        isContinuation(bytes, i + 2, n) &&
        isContinuation(bytes, i + 3, n)
      ) {
        const value =
          ((b0 & 0x07) << 18) |
          ((bytes[i + 1] & 0x3f) << 12) |
          ((bytes[i + 2] & 0x3f) << 6) |
          (bytes[i + 3] & 0x3f);
        if (value >= 0x10000 && value <= 0x10ffff) {
          cp = value;
          size = 4;
        }
      }
    }
    if (cp < 0x10000) units.push(cp);
    else units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    i += size;
    // Flush in chunks: String.fromCharCode with a huge argument list overflows the stack.
    if (units.length >= 8192) {
      text += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return text + String.fromCharCode(...units);
}

function isContinuation(bytes: ArrayLike<number>, index: number, n: number): boolean {
  return index < n && (bytes[index] & 0xc0) === 0x80;
}
