import { HqError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { setBrokenPipePolicy } from "../common/output/mod.ts";
import { resolvePath } from "../common/paths.ts";
import { HQ_VERSION } from "../common/version.ts";
// Not through server/mod.ts, which loads the whole server: the access file is written first.
import { openServerAccess, refuseLiveServer } from "../server/server_access.ts";
import type { CliContext } from "./context.ts";
import { lazyImport } from "./lazy_import.ts";
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
  const options = {
    serverDir: context.globals.serverDir,
    host: args.host,
    clientPort: args.clientPort,
    workerPort: args.workerPort,
    idleTimeoutMs: args.idleTimeout,
    journalPath,
    journalFlushPeriodMs: args.journalFlushPeriod,
    journalTruncateCorrupted: args.journalTruncateCorrupted,
    accessFile: args.accessFile === undefined ? undefined : resolvePath(cwd, args.accessFile),
    disableClientAuthentication: args.disableClientAuthenticationAndEncryption,
    disableWorkerAuthentication: args.disableWorkerAuthenticationAndEncryption,
  };
  // Tools issue their first command ~0.2 s after starting the server: publish the access file
  // before loading the server (~25 ms of modules), unless a journal's restore must give the uid.
  // Clients that connect meanwhile wait in the listen backlog.
  let access;
  if (journalPath === undefined) {
    const lock = await refuseLiveServer(options.serverDir);
    try {
      access = await openServerAccess(options, undefined, lock);
    } catch (error) {
      lock.close();
      throw error;
    }
  }
  const { HqServer } = await lazyImport<typeof import("../server/mod.ts")>("../server/mod.ts");
  const server = await HqServer.start(options, access);
  context.output.serverInfo(server.info, server.serverDir);
  const onSignal = () => void server.stop();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  await server.stopped;
  for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  return 0;
}
