import { formatErrorChain } from "../errors.ts";
import type { ServerInfo } from "../protocol.ts";
import { formatCliDate } from "../timestamp.ts";
import type { Formatter } from "./formatter.ts";
import { writeStdout } from "./stdout.ts";
import { type Cell, renderVerticalTable } from "./table.ts";

/** Human-readable tables (spec §8.1). */
export class CliFormatter implements Formatter {
  constructor(private readonly colors: boolean) {}

  serverInfo(info: ServerInfo, serverDir: string | null): void {
    const rows: [string, Cell][] = [];
    if (serverDir !== null) rows.push(["Server directory", serverDir]);
    rows.push(
      ["Server UID", info.serverUid],
      ["Client host", info.clientHost],
      ["Client port", String(info.clientPort)],
      ["Worker host", info.workerHost],
      ["Worker port", String(info.workerPort)],
      ["Version", info.version],
      ["Pid", String(info.pid)],
      ["Start date", formatCliDate(info.startDateMs)],
      ["Journal path", info.journalPath ?? ""],
    );
    writeStdout(renderVerticalTable(rows, { colors: this.colors }));
  }

  error(error: unknown): void {
    writeStderr(`${formatErrorChain(error)}\n`);
  }

  finish(): void {}
}

const encoder = new TextEncoder();

/** Error text for a user; a closed stderr is ignored. */
export function writeStderr(text: string): void {
  try {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
  } catch {
    // Nowhere left to report to.
  }
}
