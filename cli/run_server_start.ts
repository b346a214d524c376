import { HqError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { setBrokenPipePolicy } from "../common/output/mod.ts";
import { resolvePath } from "../common/paths.ts";
import { HQ_VERSION } from "../common/version.ts";
import { HqServer } from "../server/mod.ts";
import type { CliContext } from "./context.ts";
import type { ServerStartArgs } from "./server_commands.ts";

const log = logger("server");

/** `hq server start`: runs in the foreground until `hq server stop`, SIGINT or SIGTERM. */
export async function runServerStart(args: ServerStartArgs, context: CliContext): Promise<number> {
  if (args.schedulerTimeLimit !== undefined) {
    throw new HqError(
      "--scheduler-time-limit is not supported by this version of hq: its scheduler places " +
        "tasks in one greedy pass, with no solver whose time could be limited",
    );
  }
  setBrokenPipePolicy("ignore");
  // A bug in one connection's handling must not take the whole server down.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    log.error(`Internal error (please report it): ${event.reason?.stack ?? event.reason}`);
  });
  log.info(`HyperQueue ${HQ_VERSION}`);
  const cwd = Deno.cwd();
  const journalPath = args.journal === undefined ? undefined : resolvePath(cwd, args.journal);
  const server = await HqServer.start({
    serverDir: context.globals.serverDir,
    host: args.host,
    clientPort: args.clientPort,
    workerPort: args.workerPort,
    idleTimeoutMs: args.idleTimeout,
    journalPath,
    journalFlushPeriodMs: args.journalFlushPeriod,
    accessFile: args.accessFile === undefined ? undefined : resolvePath(cwd, args.accessFile),
    disableClientAuthentication: args.disableClientAuthenticationAndEncryption,
    disableWorkerAuthentication: args.disableWorkerAuthenticationAndEncryption,
  });
  context.output.serverInfo(server.info, server.serverDir);
  const onSignal = () => void server.stop();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  await server.stopped;
  for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  return 0;
}
