/** The `hq alloc …` commands (journal-alloc spec §2.1): requests to the server and what they log. */
import type { ManagerName } from "../common/autoalloc.ts";
import { describeError, HqError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { selectAllocations, stallLines } from "../common/output/alloc_words.ts";
import { joinPath } from "../common/paths.ts";
import type {
  AllocAddArgs,
  AllocInfoArgs,
  AllocLogArgs,
  AllocQueueArgs,
} from "./alloc_commands.ts";
import { buildQueueParams } from "./build_queue_params.ts";
import { expectResponse } from "../client/mod.ts";
import type { CliContext } from "./context.ts";
import { withClient } from "./with_client.ts";

const log = logger("client");

const DRY_RUN_SUCCESS = "A trial allocation was submitted successfully. It was immediately " +
  "canceled to avoid wasting resources.";
const DRY_RUN_FAILED = "Dry-run (test allocation submission) has failed";

export async function runAllocAdd(
  manager: ManagerName,
  args: AllocAddArgs,
  context: CliContext,
): Promise<void> {
  const { params, warnings } = buildQueueParams(manager, args);
  for (const warning of warnings) log.warn(warning);
  await withClient(context, async (client) => {
    const response = await client.request({ type: "alloc-add", params, dryRun: !args.noDryRun });
    if (response.type === "alloc-dry-run-failed") dryRunFailed(response.message);
    const added = expectResponse(response, "alloc-added");
    if (added.dryRun) log.info(DRY_RUN_SUCCESS);
    log.info(`Allocation queue ${added.queueId} successfully created`);
  });
}

export async function runAllocDryRun(
  manager: ManagerName,
  args: AllocQueueArgs,
  context: CliContext,
): Promise<void> {
  const { params, warnings } = buildQueueParams(manager, args);
  for (const warning of warnings) log.warn(warning);
  await withClient(context, async (client) => {
    const response = await client.request({ type: "alloc-dry-run", params });
    if (response.type === "alloc-dry-run-failed") dryRunFailed(response.message);
    expectResponse(response, "ok");
    log.info(DRY_RUN_SUCCESS);
  });
}

/** The server's error text (submit error and script path) is logged; the command fails after. */
function dryRunFailed(message: string): never {
  log.error(message);
  throw new HqError(DRY_RUN_FAILED);
}

export async function runAllocList(context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = expectResponse(await client.request({ type: "alloc-list" }), "alloc-queues");
    context.output.allocList(response.queues);
  });
}

/**
 * The table or JSON array stays HyperQueue's; why the queue is not submitting goes to stderr
 * as log lines, in every output mode, so scripts reading stdout see no difference.
 */
export async function runAllocInfo(args: AllocInfoArgs, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    const response = expectResponse(
      await client.request({ type: "alloc-info", queueId: args.queueId }),
      "alloc-queue",
    );
    const { allocations, stall } = response.detail;
    context.output.allocInfo(selectAllocations(allocations, args.filter));
    if (stall === null) return;
    for (const line of stallLines(stall)) log[line.level](line.text);
  });
}

/** Copies `<workdir>/stdout|stderr` of the allocation to stdout, raw. */
export async function runAllocLog(args: AllocLogArgs, context: CliContext): Promise<void> {
  if (context.globals.outputMode === "json") {
    throw new HqError("JSON output mode doesn't support allocation output");
  }
  const response = await withClient(
    context,
    async (client) =>
      expectResponse(
        await client.request({ type: "alloc-log", allocationId: args.allocationId }),
        "alloc-allocation",
      ),
  );
  const path = joinPath(response.allocation.workdir, args.stream);
  log.info(`Printing file ${path}`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    // An allocation that has not started yet has no output files.
    if (error instanceof Deno.errors.NotFound) {
      log.warn(`File ${path} does not exist (yet)`);
      return;
    }
    throw new HqError(`Cannot read "${path}": ${describeError(error)}`, { cause: error });
  }
  try {
    await copyToStdout(file);
  } finally {
    file.close();
  }
}

async function copyToStdout(file: Deno.FsFile): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const count = await file.read(buffer);
    if (count === null) return;
    let offset = 0;
    try {
      while (offset < count) offset += await Deno.stdout.write(buffer.subarray(offset, count));
    } catch (error) {
      // `hq alloc log 12 stdout | head` ends quietly.
      if (error instanceof Deno.errors.BrokenPipe) return;
      throw error;
    }
  }
}

export async function runAllocPause(queueId: number, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    expectResponse(await client.request({ type: "alloc-pause", queueId }), "ok");
  });
  log.info(`Allocation queue ${queueId} successfully paused`);
}

export async function runAllocResume(queueId: number, context: CliContext): Promise<void> {
  await withClient(context, async (client) => {
    expectResponse(await client.request({ type: "alloc-resume", queueId }), "ok");
  });
  log.info(`Allocation queue ${queueId} successfully resumed`);
}

export async function runAllocRemove(
  queueId: number,
  force: boolean,
  context: CliContext,
): Promise<void> {
  await withClient(context, async (client) => {
    expectResponse(await client.request({ type: "alloc-remove", queueId, force }), "ok");
  });
  log.info(`Allocation queue ${queueId} successfully removed`);
}
