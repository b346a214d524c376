/**
 * The one place that imports the msgpack codec, so it can be swapped. The choice is measured in
 * bench/msgpack_codecs.ts (see bench/README.md).
 */
import { Decoder, Encoder } from "@msgpack/msgpack";

// `undefined` fields are left out rather than sent as nil, so optional fields stay optional.
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

export function encodeMsgpack(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Throws on malformed input (callers treat that as a protocol violation). */
export function decodeMsgpack(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
