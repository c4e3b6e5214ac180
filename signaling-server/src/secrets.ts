/** Random tokens and their comparison in constant time. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 144 random bits in hex: URL-safe, and never starting with '-', which command lines take for a flag. */
export function newToken(): string {
  return randomBytes(18).toString('hex');
}

/** Compares digests, so that neither the content nor the length leaks through timing. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
