/**
 * The transport of spec §9: length-prefixed frames over TCP, a mutual key-possession handshake,
 * per-connection AES-GCM keys with counter nonces, and batched typed messages.
 */
export { acceptSession, connectSession, HANDSHAKE_TIMEOUT_MS } from "./session.ts";
export type { ConnectSessionOptions, SessionOptions } from "./session.ts";
export { MAX_FRAME_BYTES, MessageConnection } from "./message_connection.ts";
export { FrameError, FrameReader, writeFrame } from "./frames.ts";
export type { ByteStream } from "./frames.ts";
export {
  FrameAuthenticationError,
  FrameCipher,
  loadSyncCipher,
  SYNC_CIPHER_AFTER_FRAMES,
  SYNC_CIPHER_MAX_BYTES,
} from "./frame_cipher.ts";
export {
  HandshakeAbandonedError,
  HandshakeRejectedError,
  MAX_HANDSHAKE_FRAME_BYTES,
} from "./handshake.ts";
export type { Session } from "./handshake.ts";
