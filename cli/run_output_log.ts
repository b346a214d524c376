/** `hq output-log` (jobs spec §10.2): reads a stream directory and prints what was asked. */
import { HqError } from "../common/errors.ts";
import { type IdRange, IdRanges } from "../common/id_ranges.ts";
import { type Color, colorsEnabled, paint } from "../common/output/colors.ts";
import { writeStdout } from "../common/output/mod.ts";
import { exportTasks, OutputLog, showLines } from "../client/output_log.ts";
import type { CliContext } from "./context.ts";
import type { OutputLogSubcommand } from "./output_log_commands.ts";

const NEWLINE = new Uint8Array([0x0a]);
const PREFIX_COLORS: Color[] = ["red", "green", "yellow", "blue", "magenta", "cyan"];

export async function runOutputLog(
  options: { path: string; serverUid: string | undefined; subcommand: OutputLogSubcommand },
  context: CliContext,
): Promise<void> {
  const log = await OutputLog.read(options.path, options.serverUid);
  try {
    await run(log, options.subcommand, context);
  } finally {
    log.close();
  }
}

async function run(
  log: OutputLog,
  command: OutputLogSubcommand,
  context: CliContext,
): Promise<void> {
  switch (command.name) {
    case "summary":
      context.output.outputLogSummary(log.summary());
      return;
    case "jobs":
      writeStdout(log.jobIds().map((id) => `${id}\n`).join(""));
      return;
    case "cat": {
      const { job, channel, task, allowUnfinished } = command.args;
      const tasks = log.tasksOf(job, task ? expand(task) : undefined);
      if (!allowUnfinished) {
        const open = tasks.find((instance) => !instance.finished);
        if (open) throw new HqError(`Stream for task ${open.taskId} is not finished`);
      }
      await writeParts(log.channelData(tasks, channel === "stdout" ? 0 : 1));
      return;
    }
    case "show": {
      const { job, channel } = command.args;
      const tasks = job === undefined ? log.allTasks() : log.tasksOf(job);
      const colors = colorsEnabled(context.globals.colors);
      const channelNumber = channel === undefined ? null : channel === "stdout" ? 0 : 1;
      const encoder = new TextEncoder();
      await writeParts((async function* () {
        for await (const line of showLines(log, tasks, channelNumber)) {
          yield encoder.encode(
            colors
              ? paint(line.prefix, PREFIX_COLORS[line.taskId % PREFIX_COLORS.length])
              : line.prefix,
          );
          yield line.data;
          if (line.newline) yield NEWLINE;
        }
      })());
      return;
    }
    case "export": {
      const { job, task } = command.args;
      context.output.outputLogExport(
        await exportTasks(log, log.tasksOf(job, task ? expand(task) : undefined)),
      );
      return;
    }
  }
}

function expand(ranges: IdRange[]): number[] {
  return [...new IdRanges(ranges)];
}

const WRITE_BYTES = 1024 * 1024;

/**
 * Writes the parts in blocks of about 1 MiB, each part used before the next is asked for; a
 * reader that went away ends the command.
 */
async function writeParts(parts: AsyncIterable<Uint8Array>): Promise<void> {
  const block = new Uint8Array(WRITE_BYTES);
  let used = 0;
  const flush = async (bytes: Uint8Array) => {
    let offset = 0;
    try {
      while (offset < bytes.length) offset += await Deno.stdout.write(bytes.subarray(offset));
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe) Deno.exit(0);
      throw error;
    }
  };
  for await (const part of parts) {
    if (used + part.length > block.length) {
      await flush(block.subarray(0, used));
      used = 0;
    }
    if (part.length > block.length) await flush(part);
    else {
      block.set(part, used);
      used += part.length;
    }
  }
  await flush(block.subarray(0, used));
}
