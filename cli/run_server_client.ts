/** The `hq server …` commands that talk to a running server as a client. */
import { formatDuration } from "../common/duration.ts";
import { HqError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { HqClient } from "../client/mod.ts";
import type { CliContext } from "./context.ts";
import { withClient } from "./with_client.ts";
import type { ServerWaitArgs } from "./server_commands.ts";

const log = logger("client");

export async function runServerInfo(context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    context.output.serverInfo(await client.serverInfo(), null);
  });
}

export async function runServerStop(context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    await client.stopServer();
    log.info("Stopping server");
  });
}

export async function runDebugDump(path: string, context: CliContext): Promise<void> {
  await withClient(context, (client) => client.debugDump(path));
}

const WAIT_RETRY_MS = 5_000;

/** `hq server wait`: retries a full connection every 5 s until it works or the timeout passes. */
export async function runServerWait(args: ServerWaitArgs, context: CliContext): Promise<void> {
  const serverDir = context.globals.serverDir;
  const deadline = Date.now() + args.timeout;
  for (;;) {
    let lastError: unknown;
    try {
      const remainingMs = Math.max(1, deadline - Date.now());
      const client = await HqClient.connect({
        serverDir,
        timeoutMs: Math.min(10_000, remainingMs),
      });
      try {
        await client.serverInfo();
      } finally {
        client.close();
      }
      log.info("Successfully connected to server");
      return;
    } catch (error) {
      lastError = error;
      log.debug(`Server not reachable yet: ${error instanceof Error ? error.message : error}`);
    }
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      throw new HqError(
        `Timeout after ${
          formatDuration(args.timeout)
        }: Could not connect to server at \`${serverDir}\`. Make sure that the server is running.`,
        { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_RETRY_MS, remainingMs)));
  }
}
