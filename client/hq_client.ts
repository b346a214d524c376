/**
 * A client connection to a running server: finds the access file in the server directory,
 * connects to the client endpoint and sends requests (several may be in flight at once).
 */
import type { JournalEvent } from "../common/journal/journal_events.ts";
import {
  ConnectionClosedError,
  ConnectionError,
  HqError,
  ServerReplyError,
} from "../common/errors.ts";
import {
  type ClientMessage,
  type ClientRequest,
  type IdSelector,
  isServerToClientMessage,
  type ServerInfo,
  type ServerResponse,
  type ServerToClientMessage,
  type TaskNotification,
  type WorkerFilter,
  type WorkerStopOutcome,
  type WorkerView,
} from "../common/protocol.ts";
import { defaultServerDir, loadClientEndpoint, serverDirHint } from "../common/server_dir.ts";
import { connectSession, type MessageConnection } from "../common/transport/mod.ts";

export interface ConnectOptions {
  /** Root server directory (absolute). @default {defaultServerDir()} */
  serverDir?: string;
  /** Bound on TCP connect plus handshake, in milliseconds. @default {10_000} */
  timeoutMs?: number;
}

type Pending = { resolve: (response: ServerResponse) => void; reject: (error: Error) => void };

export class HqClient {
  #nextRequestId = 1;
  #pending = new Map<number, Pending>();
  #closedError: Error | null = null;
  /** Called for every task notification the server pushes (after `subscribeNotifications`). */
  onNotify: ((notification: TaskNotification) => void) | null = null;
  /** Called for every batch of journal events the server pushes (after `journal-replay`). */
  onJournalRecords: ((records: Array<[number, JournalEvent]>) => void) | null = null;

  private constructor(
    private readonly connection: MessageConnection<ServerToClientMessage, ClientMessage>,
  ) {
    this.#receive();
  }

  /** Connects to the server whose access file is found in `options.serverDir` (spec §2.2). */
  static async connect(options: ConnectOptions = {}): Promise<HqClient> {
    const root = options.serverDir ?? defaultServerDir();
    const endpoint = loadClientEndpoint(root);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const connect = (host: string) =>
      connectSession<ServerToClientMessage, ClientMessage>({
        host,
        port: endpoint.port,
        role: "client",
        secretKey: endpoint.secretKey,
        isMessage: isServerToClientMessage,
        connectTimeoutMs: timeoutMs,
        handshakeTimeoutMs: timeoutMs,
      });
    try {
      return new HqClient(await connect(endpoint.host));
    } catch (error) {
      if (error instanceof ConnectionError) throw error;
      // Spec §8.3: a host that is our own name but unroutable is retried through localhost.
      if (isHostUnreachable(error) && endpoint.host === Deno.hostname()) {
        try {
          return new HqClient(await connect("localhost"));
        } catch (retryError) {
          if (retryError instanceof ConnectionError) throw retryError;
        }
      }
      throw new ConnectionError(
        `Access token found but HQ server ${endpoint.host}:${endpoint.port} is unreachable.\nTry to (re)start the server using \`hq server start${
          serverDirHint(root)
        }\``,
        { cause: error },
      );
    }
  }

  /** Sends one request and resolves with the server's response (error responses throw). */
  async request(request: ClientRequest): Promise<ServerResponse> {
    if (this.#closedError) throw this.#closedError;
    const requestId = this.#nextRequestId++;
    const response = await new Promise<ServerResponse>((resolve, reject) => {
      this.#pending.set(requestId, { resolve, reject });
      this.connection.send({ type: "request", requestId, request });
    });
    if (response.type === "error") throw new ServerReplyError(response.message);
    return response;
  }

  async serverInfo(): Promise<ServerInfo> {
    const response = await this.request({ type: "server-info" });
    if (response.type !== "server-info") throw unexpectedResponse(response);
    return response.info;
  }

  /** Asks the server to stop; resolves once the server acknowledged. */
  async stopServer(): Promise<void> {
    await this.request({ type: "stop-server" });
  }

  async workerList(filter: WorkerFilter): Promise<WorkerView[]> {
    const response = await this.request({ type: "worker-list", filter });
    if (response.type !== "workers") throw unexpectedResponse(response);
    return response.workers;
  }

  async workerInfo(selector: IdSelector): Promise<WorkerView[]> {
    const response = await this.request({ type: "worker-info", selector });
    if (response.type !== "workers") throw unexpectedResponse(response);
    return response.workers;
  }

  async workerStop(
    selector: IdSelector,
  ): Promise<Array<{ workerId: number; outcome: WorkerStopOutcome }>> {
    const response = await this.request({ type: "worker-stop", selector });
    if (response.type !== "worker-stop") throw unexpectedResponse(response);
    return response.results;
  }

  /** Asks the server to push the notifications of these jobs' tasks to `onNotify`. */
  async subscribeNotifications(jobIds: number[]): Promise<void> {
    await this.request({ type: "notify-subscribe", jobIds });
  }

  /** Asks the server to write a JSON dump of its state to `path` on the server's host. */
  async debugDump(path: string): Promise<void> {
    await this.request({ type: "debug-dump", path });
  }

  close(): void {
    this.connection.close();
  }

  async #receive(): Promise<void> {
    let failure: Error = new ConnectionClosedError();
    try {
      for await (const batch of this.connection.batches()) {
        for (const message of batch) {
          if (message.type === "task-notify") {
            this.onNotify?.(message.notification);
            continue;
          }
          if (message.type === "journal-records") {
            this.onJournalRecords?.(message.records);
            continue;
          }
          const pending = this.#pending.get(message.requestId);
          this.#pending.delete(message.requestId);
          pending?.resolve(message.response);
        }
      }
    } catch (error) {
      failure = error instanceof Error ? error : new ConnectionError(String(error));
    }
    this.connection.close();
    this.#closedError = failure;
    for (const pending of this.#pending.values()) pending.reject(failure);
    this.#pending.clear();
  }
}

function isHostUnreachable(error: unknown): boolean {
  return error instanceof Error && /host is unreachable|EHOSTUNREACH|os error 113/i.test(
    error.message,
  );
}

function unexpectedResponse(response: ServerResponse): Error {
  return new ConnectionError(`Unexpected response "${response.type}" from the server`);
}

/** The response as the type a request expects; any other is an error (a bug, another build). */
export function expectResponse<T extends ServerResponse["type"]>(
  response: ServerResponse,
  type: T,
): Extract<ServerResponse, { type: T }> {
  if (response.type !== type) throw new HqError(`Unexpected response "${response.type}"`);
  return response as Extract<ServerResponse, { type: T }>;
}
