/**
 * One listening endpoint (clients or workers): accepts sockets, runs the handshake on each with a
 * deadline, and hands authenticated connections on. A peer that fails anything is closed and
 * logged in one line; the listener keeps serving everyone else.
 *
 * Unauthenticated connections are bounded: at most `MAX_PENDING_PER_ADDRESS` handshakes per
 * remote address and `MAX_PENDING` in all, each for at most `HANDSHAKE_DEADLINE_MS`; a new
 * connection past a bound closes the oldest pending one (an idle attacker's, as real handshakes
 * take milliseconds). Rejections are logged at most `MAX_LOG_LINES` per `LOG_WINDOW_MS`.
 */
import { describeError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import type { Role } from "../common/protocol.ts";
import {
  acceptSession,
  HandshakeAbandonedError,
  type MessageConnection,
} from "../common/transport/mod.ts";

const log = logger("server::endpoint_listener");

/** Handshakes in progress from one remote address. */
export const MAX_PENDING_PER_ADDRESS = 64;
/** Handshakes in progress on one endpoint. */
export const MAX_PENDING = 512;
/** A peer that has not authenticated by then is dropped (a real handshake takes milliseconds). */
export const HANDSHAKE_DEADLINE_MS = 5_000;
const MAX_LOG_LINES = 10;
const LOG_WINDOW_MS = 10_000;

export interface EndpointOptions<In, Out> {
  role: Role;
  secretKey: Uint8Array | null;
  isMessage: (value: unknown) => value is In;
  /** Called for each authenticated connection. */
  onConnection: (connection: MessageConnection<In, Out>, peer: string) => void;
}

export class EndpointListener<In, Out> {
  /** Pending handshakes, oldest first. */
  #handshaking = new Set<Deno.TcpConn>();
  /** Pending handshakes by remote address, oldest first. */
  readonly #pendingByAddress = new Map<string, Set<Deno.TcpConn>>();
  /** Closed to make room for newer ones: not worth a log line each. */
  readonly #evicted = new WeakSet<Deno.TcpConn>();
  #closed = false;
  #logWindowStartMs = 0;
  #logLinesInWindow = 0;
  #unlogged = 0;

  constructor(
    private readonly listener: Deno.TcpListener,
    private readonly options: EndpointOptions<In, Out>,
  ) {}

  get port(): number {
    return this.listener.addr.port;
  }

  /** Accepts until `close()`; resolves then. */
  async serve(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.listener.accept();
      } catch (error) {
        if (this.#closed) return;
        // Running out of file descriptors must not end the server: wait and retry.
        log.warn(`Cannot accept a ${this.options.role} connection: ${describeError(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      this.#handshake(conn);
    }
  }

  /** Stops accepting and drops connections still in their handshake. */
  close(): void {
    this.#closed = true;
    try {
      this.listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of this.#handshaking) closeQuietly(conn);
    this.#handshaking.clear();
    this.#pendingByAddress.clear();
  }

  async #handshake(conn: Deno.TcpConn): Promise<void> {
    const address = conn.remoteAddr as Deno.NetAddr;
    const peer = `${address.hostname}:${address.port}`;
    this.#addPending(conn, address.hostname);
    try {
      conn.setNoDelay(true);
      const connection = await acceptSession<In, Out>(conn, {
        role: this.options.role,
        secretKey: this.options.secretKey,
        isMessage: this.options.isMessage,
        handshakeTimeoutMs: HANDSHAKE_DEADLINE_MS,
      });
      this.#removePending(conn, address.hostname);
      if (this.#closed) {
        connection.close();
        return;
      }
      this.options.onConnection(connection, peer);
    } catch (error) {
      this.#removePending(conn, address.hostname);
      closeQuietly(conn);
      if (this.#closed) return;
      const line = `Rejected ${this.options.role} connection from ${peer}: ${describeError(error)}`;
      // A connect-and-close (`hq server start` probing for a live server) is not worth a warning.
      if (error instanceof HandshakeAbandonedError || this.#evicted.has(conn)) log.debug(line);
      else this.#warnLimited(line);
    }
  }

  /** Tracks a new pending handshake, closing the oldest ones past the bounds. */
  #addPending(conn: Deno.TcpConn, hostname: string): void {
    let fromAddress = this.#pendingByAddress.get(hostname);
    if (!fromAddress) this.#pendingByAddress.set(hostname, fromAddress = new Set());
    if (fromAddress.size >= MAX_PENDING_PER_ADDRESS) {
      this.#evict(fromAddress.values().next().value!);
    }
    if (this.#handshaking.size >= MAX_PENDING) {
      this.#evict(this.#handshaking.values().next().value!);
    }
    fromAddress.add(conn);
    this.#handshaking.add(conn);
  }

  #removePending(conn: Deno.TcpConn, hostname: string): void {
    this.#handshaking.delete(conn);
    const fromAddress = this.#pendingByAddress.get(hostname);
    fromAddress?.delete(conn);
    if (fromAddress?.size === 0) this.#pendingByAddress.delete(hostname);
  }

  #evict(conn: Deno.TcpConn): void {
    const hostname = (conn.remoteAddr as Deno.NetAddr).hostname;
    this.#evicted.add(conn);
    this.#removePending(conn, hostname);
    closeQuietly(conn);
    this.#unlogged++;
  }

  /** A warning, unless `MAX_LOG_LINES` were logged in this window; then a count of the rest. */
  #warnLimited(line: string): void {
    const nowMs = Date.now();
    if (nowMs - this.#logWindowStartMs >= LOG_WINDOW_MS) {
      if (this.#unlogged > 0) {
        log.warn(
          `${this.#unlogged} more ${this.options.role} connection(s) were rejected or dropped unauthenticated`,
        );
      }
      this.#logWindowStartMs = nowMs;
      this.#logLinesInWindow = 0;
      this.#unlogged = 0;
    }
    if (this.#logLinesInWindow < MAX_LOG_LINES) {
      this.#logLinesInWindow++;
      log.warn(line);
    } else {
      this.#unlogged++;
    }
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
