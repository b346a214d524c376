/** The command tree of `hq` and its global options (spec §1). */
import { OUTPUT_MODES } from "../common/output/formatter.ts";
import type { ColorPolicy, OutputMode } from "../common/output/mod.ts";
import { allocCommand } from "./alloc_commands.ts";
import { type ArgValues, defineCommand, flag, option } from "./args.ts";
import type { CliContext } from "./context.ts";
import { jobCommand, submitTopCommand, taskCommand } from "./job_commands.ts";
import { journalCommand } from "./journal_commands.ts";
import { dashboardCommand, docCommand, generateCompletionCommand } from "./misc_commands.ts";
import { outputLogCommand } from "./output_log_commands.ts";
import { serverCommand } from "./server_commands.ts";
import { workerCommand } from "./worker_commands.ts";

export const globalArgs = {
  serverDir: option({
    help: "Path to a directory that stores HQ access files",
    env: "HQ_SERVER_DIR",
    global: true,
  }),
  outputMode: option<OutputMode>({
    help: "How the output of commands is printed",
    env: "HQ_OUTPUT_MODE",
    possibleValues: OUTPUT_MODES,
    parse: (raw) => raw as OutputMode,
    default: "cli",
    defaultText: "cli",
    global: true,
  }),
  colors: option<ColorPolicy>({
    help: "Whether to colour the output",
    possibleValues: ["auto", "always", "never"],
    parse: (raw) => raw as ColorPolicy,
    default: "auto",
    defaultText: "auto",
    global: true,
  }),
  debug: flag({ help: "Enable more detailed logging", env: "HQ_DEBUG", global: true }),
};
export type GlobalArgs = ArgValues<typeof globalArgs>;

export const rootCommand = defineCommand<typeof globalArgs, CliContext>({
  name: "hq",
  about: "hq: a HyperQueue-compatible task scheduler for HPC clusters",
  args: globalArgs,
  subcommands: [
    serverCommand,
    workerCommand,
    submitTopCommand,
    jobCommand,
    taskCommand,
    allocCommand,
    journalCommand,
    outputLogCommand,
    dashboardCommand,
    docCommand,
    generateCompletionCommand,
  ],
});
