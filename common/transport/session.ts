/**
 * Opening a message connection on either side: TCP, then the handshake, both bounded in time so a
 * silent peer (a stale port taken by another program, a half-open socket) cannot hang us.
 */
import { ConnectionError } from "../errors.ts";
import { acceptHandshake, connectHandshake, type HandshakeOptions } from "./handshake.ts";
import { type ByteStream, FrameReader } from "./frames.ts";
import { MessageConnection, type MessageConnectionOptions } from "./message_connection.ts";

/** Default bound on the handshake. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface SessionOptions<In> extends HandshakeOptions, MessageConnectionOptions<In> {
  /** Bound on the handshake. @default {HANDSHAKE_TIMEOUT_MS} */
  handshakeTimeoutMs?: number;
}

export interface ConnectSessionOptions<In> extends SessionOptions<In> {
  host: string;
  port: number;
  /** Bound on the TCP connect. @default {10_000} */
  connectTimeoutMs?: number;
}

/** Connects to an endpoint; TCP errors keep their `Deno.errors` class so callers can explain them. */
export async function connectSession<In, Out>(
  options: ConnectSessionOptions<In>,
): Promise<MessageConnection<In, Out>> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const conn = await Deno.connect({
    hostname: options.host,
    port: options.port,
    signal: AbortSignal.timeout(connectTimeoutMs),
  }).catch((error) => {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      throw new Deno.errors.TimedOut(`Connecting timed out after ${connectTimeoutMs} ms`);
    }
    throw error;
  });
  conn.setNoDelay(true);
  return await establish(conn, options, connectHandshake);
}

/** Runs the accepting side of the handshake on a freshly accepted socket. */
export function acceptSession<In, Out>(
  conn: ByteStream,
  options: SessionOptions<In>,
): Promise<MessageConnection<In, Out>> {
  return establish(conn, options, acceptHandshake);
}

async function establish<In, Out>(
  stream: ByteStream,
  options: SessionOptions<In>,
  handshake: typeof connectHandshake,
): Promise<MessageConnection<In, Out>> {
  const reader = new FrameReader(stream);
  const timeoutMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  let timedOut = false;
  const onTimeout = () => {
    timedOut = true;
    closeQuietly(stream);
  };
  // Not setTimeout: its first use loads Deno's timer module, ~13 ms of every client's start.
  const deadline = AbortSignal.timeout(timeoutMs);
  deadline.addEventListener("abort", onTimeout);
  try {
    const session = await handshake(stream, reader, options);
    return new MessageConnection<In, Out>(stream, reader, session, options);
  } catch (error) {
    closeQuietly(stream);
    if (timedOut) throw new ConnectionError(`The handshake did not finish within ${timeoutMs} ms`);
    if (error instanceof ConnectionError) throw error;
    throw new ConnectionError("The connection broke during the handshake", { cause: error });
  } finally {
    deadline.removeEventListener("abort", onTimeout);
  }
}

function closeQuietly(stream: ByteStream): void {
  try {
    stream.close();
  } catch {
    // Already closed.
  }
}
