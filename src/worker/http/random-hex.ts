import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const poolBuffer = Buffer.allocUnsafe(POOL_BYTES);
/** Hex of `poolBuffer`; ids are sliced from it, each byte used once. */
let hexPool = '';
let hexPosition = 0;

/**
 * `chars` random lower-case hex characters. One `randomFillSync` of 4 KiB
 * serves 256 new traces (48 hex characters each) or request ids instead of a getrandom()
 * call per request; the slice is a V8 sliced string (no copy).
 */
export function randomHex(chars: number): string {
  if (hexPosition + chars > hexPool.length) {
    randomFillSync(poolBuffer);
    hexPool = poolBuffer.toString('hex');
    hexPosition = 0;
  }
  const s = hexPool.slice(hexPosition, hexPosition + chars);
  hexPosition += chars;
  return s;
}
