import type { ServerInfo } from "../protocol.ts";
import { CliFormatter } from "./cli_formatter.ts";
import type { Formatter } from "./formatter.ts";
import { writeStdout } from "./stdout.ts";

/** Only the minimal lines the spec lists for quiet mode. Errors still go to stderr. */
export class QuietFormatter implements Formatter {
  serverInfo(_info: ServerInfo, serverDir: string | null): void {
    if (serverDir !== null) writeStdout(`${serverDir}\n`);
  }

  error(error: unknown): void {
    new CliFormatter(false).error(error);
  }

  finish(): void {}
}
