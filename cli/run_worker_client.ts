/** The `hq worker …` commands that ask the server about workers. */
import { selectIds } from "../common/id_selector.ts";
import { logger } from "../common/log.ts";
import { writeStdout } from "../common/output/mod.ts";
import type { IdSelector } from "../common/protocol.ts";
import type { CliContext } from "./context.ts";
import { withClient } from "./with_client.ts";
import type { WorkerListArgs } from "./worker_commands.ts";
import { HqError } from "../common/errors.ts";

const log = logger("client");

export async function runWorkerList(args: WorkerListArgs, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const filter = args.all ? "all" : args.filter ?? "running";
    context.output.workerList(await client.workerList(filter));
  });
}

export async function runWorkerInfo(selector: IdSelector, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const workers = await client.workerInfo(selector);
    if (selector.type === "ids") {
      const found = new Set(workers.map((worker) => worker.id));
      for (const id of selectIds(selector, [...found])) {
        if (!found.has(id)) log.error(`Worker ${id} not found`);
      }
    }
    context.output.workerInfo(workers);
  });
}

export async function runWorkerStop(selector: IdSelector, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    for (const { workerId, outcome } of await client.workerStop(selector)) {
      if (outcome === "stopped") log.info(`Worker ${workerId} stopped`);
      else if (outcome === "already-stopped") {
        log.warn(`Stopping worker ${workerId} failed; worker is already stopped`);
      } else log.error(`Stopping worker ${workerId} failed; worker not found`);
    }
  });
}

/** Prints the hostname whatever the output mode (spec §4.7 quirk: JSON mode also prints `{}`). */
export async function runWorkerAddress(workerId: number, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const [worker] = await client.workerInfo({ type: "ids", ranges: [[workerId, workerId, 1]] });
    if (!worker) throw new HqError(`Worker ${workerId} not found`);
    writeStdout(`${worker.configuration.hostname}\n`);
  });
}

/** Polls the worker list every second until enough workers are running. */
export async function runWorkerWait(count: number, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    while ((await client.workerList("running")).length < count) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  });
}
