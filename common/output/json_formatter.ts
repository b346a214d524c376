import { formatErrorChain } from "../errors.ts";
import type { ServerInfo } from "../protocol.ts";
import { formatJsonTimestamp } from "../timestamp.ts";
import type { Formatter } from "./formatter.ts";
import { toSortedJson } from "./json.ts";
import { writeStdout } from "./stdout.ts";

/** One pretty-printed JSON value per invocation, keys sorted (spec §8.1). */
export class JsonFormatter implements Formatter {
  #printed = false;

  serverInfo(info: ServerInfo, serverDir: string | null): void {
    this.#print({
      client_host: info.clientHost,
      client_port: info.clientPort,
      journal_path: info.journalPath,
      pid: info.pid,
      server_dir: serverDir,
      server_uid: info.serverUid,
      start_date: formatJsonTimestamp(info.startDateMs),
      version: info.version,
      worker_host: info.workerHost,
      worker_port: info.workerPort,
    });
  }

  error(error: unknown): void {
    this.#print({ error: formatErrorChain(error) });
  }

  finish(): void {
    if (!this.#printed) this.#print({});
  }

  #print(value: unknown): void {
    this.#printed = true;
    writeStdout(`${toSortedJson(value)}\n`);
  }
}
