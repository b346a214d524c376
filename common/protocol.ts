/**
 * Every message on the wire, shared by server, worker and client. Messages are discriminated
 * unions on `type`. A frame carries an array of messages (batching), encoded with msgpack and,
 * on authenticated endpoints, sealed with AES-GCM (common/transport/).
 *
 * Changing any shape here changes the protocol: bump PROTOCOL_VERSION.
 */
export const PROTOCOL_VERSION = 1;

/** Which endpoint a connection is for; each has its own key. */
export type Role = "client" | "worker";

// ---------------------------------------------------------------------------------------------
// Handshake (plaintext frames, before any encrypted traffic; see common/transport/handshake.ts)

/** Identifies our protocol in the first frame, so a stray peer fails fast and clearly. */
export const HANDSHAKE_MAGIC = "hq-ts";

export type HandshakeMessage =
  /** Connecting side, first frame. */
  | {
    type: "hello";
    magic: string;
    protocol: number;
    role: Role;
    /** Whether the connecting side holds a key (the endpoint must agree). */
    auth: boolean;
    nonce: Uint8Array;
  }
  /** Accepting side: its nonce and its proof of the key over both nonces. */
  | { type: "challenge"; nonce: Uint8Array; proof: Uint8Array }
  /** Connecting side: its proof of the key over both nonces. */
  | { type: "proof"; proof: Uint8Array }
  | { type: "accepted" }
  | { type: "rejected"; reason: RejectReason; message: string };

export type RejectReason = "protocol" | "role" | "auth";

// ---------------------------------------------------------------------------------------------
// Client endpoint

export interface ServerInfo {
  serverUid: string;
  clientHost: string;
  clientPort: number;
  workerHost: string;
  workerPort: number;
  version: string;
  pid: number;
  startDateMs: number;
  journalPath: string | null;
}

export type ClientRequest =
  | { type: "server-info" }
  | { type: "stop-server" }
  /** Write a JSON dump of the server's state to `path` on the server's host. */
  | { type: "debug-dump"; path: string };

export type ServerResponse =
  | { type: "server-info"; info: ServerInfo }
  | { type: "ok" }
  | { type: "error"; message: string };

export type ClientMessage = { type: "request"; requestId: number; request: ClientRequest };
export type ServerToClientMessage = {
  type: "response";
  requestId: number;
  response: ServerResponse;
};

// ---------------------------------------------------------------------------------------------
// Worker endpoint (registration and task traffic arrive with the worker issue)

export type WorkerMessage = { type: "heartbeat" };
export type ServerToWorkerMessage = { type: "stop" };

// ---------------------------------------------------------------------------------------------
// Validation of what a peer sent. An authenticated peer can still send a shape we do not know
// (a bug, another build); such a message closes that one connection instead of crashing us.

export function isClientMessage(value: unknown): value is ClientMessage {
  if (!isRecord(value) || value.type !== "request") return false;
  if (typeof value.requestId !== "number" || !isRecord(value.request)) return false;
  const request = value.request;
  switch (request.type) {
    case "server-info":
    case "stop-server":
      return true;
    case "debug-dump":
      return typeof request.path === "string";
    default:
      return false;
  }
}

export function isServerToClientMessage(value: unknown): value is ServerToClientMessage {
  return isRecord(value) && value.type === "response" && typeof value.requestId === "number" &&
    isRecord(value.response) && typeof value.response.type === "string";
}

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return isRecord(value) && value.type === "heartbeat";
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}
