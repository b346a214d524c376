/**
 * Mutual authentication by key possession (spec §9), before any command or registration:
 *
 *   connecting side                      accepting side
 *   hello {protocol, role, auth, Nc}  →
 *                                     ←  challenge {Ns, HMAC(K, "server", role, Nc, Ns)}
 *   proof {HMAC(K, "client", role, Nc, Ns)} →
 *                                     ←  accepted | rejected {reason}
 *
 * Both sides then derive one AES-GCM key per direction with HKDF(K, Nc‖Ns). The secret never
 * crosses the wire, fresh nonces on both sides make an old session useless to replay, and the role
 * is bound into every proof, so a worker key cannot open the client endpoint. Without a key
 * (endpoint started with authentication disabled) the accepting side answers `accepted` at once.
 */
import { AuthenticationError, ConnectionError, ProtocolMismatchError } from "../errors.ts";
import { decodeUntrustedMsgpack, encodeMsgpack } from "../msgpack.ts";
import {
  HANDSHAKE_MAGIC,
  type HandshakeMessage,
  isRecord,
  PROTOCOL_VERSION,
  type RejectReason,
  type Role,
} from "../protocol.ts";
import { FrameCipher, toBuffer } from "./frame_cipher.ts";
import { type ByteStream, FrameError, type FrameReader, writeFrame } from "./frames.ts";

/** Handshake frames are tiny; anything bigger is garbage and is refused before it is buffered. */
export const MAX_HANDSHAKE_FRAME_BYTES = 1024;
const NONCE_BYTES = 32;
const encoder = new TextEncoder();

/** The ciphers of an established session, or nulls on an unauthenticated endpoint. */
export interface Session {
  sendCipher: FrameCipher | null;
  receiveCipher: FrameCipher | null;
}

export interface HandshakeOptions {
  role: Role;
  /** The endpoint's 32-byte secret, or null when the endpoint runs without authentication. */
  secretKey: Uint8Array | null;
}

/** The peer rejected us, or we rejected the peer; `reason` says which check failed. */
export class HandshakeRejectedError extends AuthenticationError {}

/** The peer closed the connection before sending anything (a port probe, a health check). */
export class HandshakeAbandonedError extends ConnectionError {}

/** Runs the connecting side's half of the handshake. */
export async function connectHandshake(
  stream: ByteStream,
  reader: FrameReader,
  options: HandshakeOptions,
): Promise<Session> {
  const { role, secretKey } = options;
  const clientNonce = randomBytes(NONCE_BYTES);
  await send(stream, {
    type: "hello",
    magic: HANDSHAKE_MAGIC,
    protocol: PROTOCOL_VERSION,
    role,
    auth: secretKey !== null,
    nonce: clientNonce,
  });
  const reply = await receive(reader, "server");
  throwIfRejected(reply);
  if (secretKey === null) {
    if (reply.type !== "accepted") throw unexpected(reply, "server");
    return { sendCipher: null, receiveCipher: null };
  }
  if (reply.type !== "challenge") throw unexpected(reply, "server");
  const serverNonce = reply.nonce;
  const hmacKey = await importHmacKey(secretKey);
  const expected = await proofOf(hmacKey, "server", role, clientNonce, serverNonce);
  if (!constantTimeEqual(expected, reply.proof)) {
    await reject(
      stream,
      "auth",
      "the server's proof does not match the access key (wrong or outdated access file?)",
    );
  }
  await send(stream, {
    type: "proof",
    proof: await proofOf(hmacKey, "client", role, clientNonce, serverNonce),
  });
  const verdict = await receive(reader, "server");
  throwIfRejected(verdict);
  if (verdict.type !== "accepted") throw unexpected(verdict, "server");
  const [sendCipher, receiveCipher] = await FrameCipher.derivePair(
    secretKey,
    concat(clientNonce, serverNonce),
    [`hq ${role} connector->acceptor`, `hq ${role} acceptor->connector`],
  );
  return { sendCipher, receiveCipher };
}

/** Runs the accepting side's half; on failure tells the peer why, then throws. */
export async function acceptHandshake(
  stream: ByteStream,
  reader: FrameReader,
  options: HandshakeOptions,
): Promise<Session> {
  const { role, secretKey } = options;
  const hello = await receive(reader, "peer", true);
  if (hello.type !== "hello") throw unexpected(hello, "peer");
  if (hello.protocol !== PROTOCOL_VERSION) {
    await reject(
      stream,
      "protocol",
      `protocol version mismatch: the server speaks protocol ${PROTOCOL_VERSION}, the peer ${hello.protocol}`,
    );
  }
  if (hello.role !== role) {
    await reject(
      stream,
      "role",
      `this is the ${role} endpoint of the server, but a ${hello.role} connected to it`,
    );
  }
  if (secretKey === null && hello.auth) {
    await reject(
      stream,
      "auth",
      `the server's ${role} endpoint runs without authentication, but the peer expects it`,
    );
  }
  if (secretKey !== null && !hello.auth) {
    await reject(
      stream,
      "auth",
      `the server's ${role} endpoint requires authentication, but the peer has no key`,
    );
  }
  if (secretKey === null) {
    await send(stream, { type: "accepted" });
    return { sendCipher: null, receiveCipher: null };
  }
  const clientNonce = hello.nonce;
  const serverNonce = randomBytes(NONCE_BYTES);
  const hmacKey = await importHmacKey(secretKey);
  await send(stream, {
    type: "challenge",
    nonce: serverNonce,
    proof: await proofOf(hmacKey, "server", role, clientNonce, serverNonce),
  });
  const answer = await receive(reader, "peer");
  throwIfRejected(answer);
  if (answer.type !== "proof") throw unexpected(answer, "peer");
  const expected = await proofOf(hmacKey, "client", role, clientNonce, serverNonce);
  if (!constantTimeEqual(expected, answer.proof)) {
    await reject(stream, "auth", "the peer could not prove that it holds the access key");
  }
  await send(stream, { type: "accepted" });
  const [sendCipher, receiveCipher] = await FrameCipher.derivePair(
    secretKey,
    concat(clientNonce, serverNonce),
    [`hq ${role} acceptor->connector`, `hq ${role} connector->acceptor`],
  );
  return { sendCipher, receiveCipher };
}

async function reject(stream: ByteStream, reason: RejectReason, message: string): Promise<never> {
  try {
    await send(stream, { type: "rejected", reason, message });
  } catch {
    // The peer may already be gone; the rejection below is what matters.
  }
  throw new HandshakeRejectedError(`Authentication failed: ${message}`);
}

function throwIfRejected(message: HandshakeMessage): void {
  if (message.type !== "rejected") return;
  if (message.reason === "protocol") {
    throw new ProtocolMismatchError(`Received authentication error: ${message.message}`);
  }
  throw new HandshakeRejectedError(`Received authentication error: ${message.message}`);
}

function unexpected(message: HandshakeMessage, from: string): ConnectionError {
  return new FrameError(`Unexpected handshake message "${message.type}" from the ${from}`);
}

async function send(stream: ByteStream, message: HandshakeMessage): Promise<void> {
  await writeFrame(stream, encodeMsgpack(message));
}

async function receive(
  reader: FrameReader,
  from: string,
  first = false,
): Promise<HandshakeMessage> {
  const frame = await reader.read(MAX_HANDSHAKE_FRAME_BYTES);
  if (frame === null) {
    if (first) throw new HandshakeAbandonedError(`The ${from} closed the connection at once`);
    throw new ConnectionError(`The ${from} closed the connection during the handshake`);
  }
  let value: unknown;
  try {
    // A copy: the nonce and proof decoded are views, and the frame is the reader's buffer.
    value = decodeUntrustedMsgpack(frame.slice());
  } catch {
    throw new FrameError(`Malformed handshake frame from the ${from}`);
  }
  const message = asHandshakeMessage(value);
  if (!message) throw new FrameError(`Malformed handshake frame from the ${from}`);
  return message;
}

function asHandshakeMessage(value: unknown): HandshakeMessage | null {
  if (!isRecord(value)) return null;
  switch (value.type) {
    case "hello":
      return value.magic === HANDSHAKE_MAGIC && typeof value.protocol === "number" &&
          (value.role === "client" || value.role === "worker") &&
          typeof value.auth === "boolean" && isNonce(value.nonce)
        ? value as HandshakeMessage
        : null;
    case "challenge":
      return isNonce(value.nonce) && isProof(value.proof) ? value as HandshakeMessage : null;
    case "proof":
      return isProof(value.proof) ? value as HandshakeMessage : null;
    case "accepted":
      return value as HandshakeMessage;
    case "rejected":
      return typeof value.message === "string" &&
          (value.reason === "protocol" || value.reason === "role" || value.reason === "auth")
        ? value as HandshakeMessage
        : null;
    default:
      return null;
  }
}

function isNonce(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === NONCE_BYTES;
}

function isProof(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === 32;
}

function importHmacKey(secretKey: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    toBuffer(secretKey),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
    ],
  );
}

async function proofOf(
  key: CryptoKey,
  prover: "client" | "server",
  role: Role,
  clientNonce: Uint8Array,
  serverNonce: Uint8Array,
): Promise<Uint8Array> {
  const label = encoder.encode(`hq/${PROTOCOL_VERSION} ${prover} proof for ${role}\0`);
  const signed = await crypto.subtle.sign("HMAC", key, concat(label, clientNonce, serverNonce));
  return new Uint8Array(signed);
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

function randomBytes(count: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(count));
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
