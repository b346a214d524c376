/**
 * One listening endpoint (clients or workers): accepts sockets, runs the handshake on each with a
 * deadline, and hands authenticated connections on. A peer that fails anything is closed and
 * logged in one line; the listener keeps serving everyone else.
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

export interface EndpointOptions<In, Out> {
  role: Role;
  secretKey: Uint8Array | null;
  isMessage: (value: unknown) => value is In;
  /** Called for each authenticated connection. */
  onConnection: (connection: MessageConnection<In, Out>, peer: string) => void;
}

export class EndpointListener<In, Out> {
  #handshaking = new Set<Deno.TcpConn>();
  #closed = false;

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
  }

  async #handshake(conn: Deno.TcpConn): Promise<void> {
    const address = conn.remoteAddr as Deno.NetAddr;
    const peer = `${address.hostname}:${address.port}`;
    this.#handshaking.add(conn);
    try {
      conn.setNoDelay(true);
      const connection = await acceptSession<In, Out>(conn, {
        role: this.options.role,
        secretKey: this.options.secretKey,
        isMessage: this.options.isMessage,
      });
      this.#handshaking.delete(conn);
      if (this.#closed) {
        connection.close();
        return;
      }
      this.options.onConnection(connection, peer);
    } catch (error) {
      this.#handshaking.delete(conn);
      closeQuietly(conn);
      if (this.#closed) return;
      const line = `Rejected ${this.options.role} connection from ${peer}: ${describeError(error)}`;
      // A connect-and-close (`hq server start` probing for a live server) is not worth a warning.
      if (error instanceof HandshakeAbandonedError) log.debug(line);
      else log.warn(line);
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
