import { logger } from "../common/log.ts";
import { setBrokenPipePolicy } from "../common/output/mod.ts";
import { resolvePath } from "../common/paths.ts";
import { HQ_VERSION } from "../common/version.ts";
import { startWorker } from "../worker/mod.ts";
import type { CliContext } from "./context.ts";
import type { WorkerStartArgs } from "./worker_commands.ts";

const log = logger("worker");

/** `hq worker start`: runs in the foreground; the exit code follows spec §5.6. */
export async function runWorkerStart(args: WorkerStartArgs, context: CliContext): Promise<number> {
  setBrokenPipePolicy("ignore");
  log.info(`HyperQueue ${HQ_VERSION}`);
  return await startWorker({
    serverDir: context.globals.serverDir,
    cpus: args.cpus,
    resources: args.resource,
    coupling: args.coupling,
    detect: new Set(args.detectResources),
    noHyperThreading: args.noHyperThreading,
    group: args.group,
    idleTimeoutMs: args.idleTimeout,
    timeLimitMs: args.timeLimit,
    heartbeatMs: args.heartbeat,
    manager: args.manager,
    hostname: args.hostname,
    onServerLost: args.onServerLost,
    workDir: args.workDir === undefined ? undefined : resolvePath(Deno.cwd(), args.workDir),
    overviewIntervalMs: args.overviewInterval,
    minUtilization: args.minUtilization,
    retractCheckIntervalMs: args.retractCheckIntervalMs,
    onRegistered: (view) => context.output.workerInfo([view]),
    zeroWorker: args.zeroWorker,
  });
}
