/**
 * The one place that imports the msgpack codec, so it can be swapped. @msgpack/msgpack won over
 * msgpackr: +9.6 ms vs +23 ms of CLI start-up, and even on batched frames (see
 * bench/msgpack_codecs.md).
 */
import { Decoder, Encoder } from "@msgpack/msgpack";

// `undefined` fields are left out rather than sent as nil, so optional fields stay optional.
const newEncoder = () => new Encoder({ ignoreUndefined: true });
let encoder = newEncoder();
/**
 * Past this, a message's encoder is dropped: it keeps a buffer twice its largest message. Not
 * lower: `job list` answers of a few MB to many clients would regrow one each time.
 */
const LARGE_MESSAGE_BYTES = 4 << 20;
const decoder = new Decoder();

// Before a peer has authenticated, a 6-byte frame declaring a 16M-element array would make the
// decoder allocate it (~130 MB) before failing. Handshake messages are tiny: cap everything.
const handshakeDecoder = new Decoder({
  maxStrLength: 256,
  maxBinLength: 256,
  maxArrayLength: 16,
  maxMapLength: 16,
  maxExtLength: 0,
});

export function encodeMsgpack(value: unknown): Uint8Array {
  const bytes = encoder.encode(value);
  // One `job info` of a million tasks (25 MB) would otherwise hold 50 MB for the process's life.
  if (bytes.length > LARGE_MESSAGE_BYTES) encoder = newEncoder();
  return bytes;
}

/** Throws on malformed input (callers treat that as a protocol violation). */
export function decodeMsgpack(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}

/** Decodes a message from a peer that has not authenticated yet, with tight size limits. */
export function decodeUntrustedMsgpack(bytes: Uint8Array): unknown {
  return handshakeDecoder.decode(bytes);
}
