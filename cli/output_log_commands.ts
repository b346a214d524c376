/**
 * `hq output-log <DIR> [--server-uid <UID>] <SUBCOMMAND>` (jobs spec §10.2). The command parser
 * cannot put a positional before subcommands, so the subcommand and what follows it are parsed
 * here a second time, against the subcommand's own arguments.
 */
import {
  type ArgValues,
  type Command,
  defineCommand,
  flag,
  option,
  parseCommandLine,
  positional,
  positionalList,
} from "./args.ts";
import type { CliContext } from "./context.ts";
import { lazyImport } from "./lazy_import.ts";
import { nonNegativeInteger, parseArray } from "./job_commands.ts";
import { UsageError } from "../common/errors.ts";

const jobId = (raw: string) => nonNegativeInteger(raw.trim());

const channel = (help: string) =>
  positional({
    help,
    possibleValues: ["stdout", "stderr"],
    parse: (raw) => raw as "stdout" | "stderr",
    required: true,
    valueName: "CHANNEL",
  });

export const outputLogCatArgs = {
  job: positional({ help: "Job id", parse: jobId, required: true, valueName: "JOB" }),
  channel: channel("Which output: stdout or stderr"),
  task: option({ help: "Only these task ids", parse: parseArray }),
  allowUnfinished: flag({ help: "Print tasks whose stream is not finished too" }),
};
export type OutputLogCatArgs = ArgValues<typeof outputLogCatArgs>;

export const outputLogShowArgs = {
  job: option({ help: "Only this job", parse: jobId }),
  channel: option({
    help: "Only this output: stdout or stderr",
    possibleValues: ["stdout", "stderr"],
    parse: (raw) => raw as "stdout" | "stderr",
  }),
};
export type OutputLogShowArgs = ArgValues<typeof outputLogShowArgs>;

export const outputLogExportArgs = {
  job: positional({ help: "Job id", parse: jobId, required: true, valueName: "JOB" }),
  task: option({ help: "Only these task ids", parse: parseArray }),
};
export type OutputLogExportArgs = ArgValues<typeof outputLogExportArgs>;

export type OutputLogSubcommand =
  | { name: "summary" }
  | { name: "jobs" }
  | { name: "cat"; args: OutputLogCatArgs }
  | { name: "show"; args: OutputLogShowArgs }
  | { name: "export"; args: OutputLogExportArgs };

const SUBCOMMANDS: Command<unknown>[] = [
  defineCommand({ name: "summary", about: "Summary of the streams in the directory" }),
  defineCommand({ name: "jobs", about: "Ids of the jobs in the streams" }),
  defineCommand({ name: "cat", about: "Raw output of a job's tasks", args: outputLogCatArgs }),
  defineCommand({
    name: "show",
    about: "Every chunk, prefixed by its task",
    args: outputLogShowArgs,
  }),
  defineCommand({ name: "export", about: "A job's stdout as JSON", args: outputLogExportArgs }),
];

/** Parses `<SUBCOMMAND> [ARGS]…`; throws `UsageError`. */
export function parseOutputLogSubcommand(words: string[]): OutputLogSubcommand {
  const root = defineCommand<Record<never, never>, unknown>({
    name: "hq output-log <DIR>",
    about: "",
    subcommands: SUBCOMMANDS,
  });
  const outcome = parseCommandLine(words, root, { env: () => undefined });
  if (outcome.type !== "run") {
    throw new UsageError(
      "a subcommand is required: summary, jobs, cat <JOB> <stdout|stderr>, show, export <JOB>",
    );
  }
  const name = outcome.path[outcome.path.length - 1].name;
  return { name, args: outcome.values } as OutputLogSubcommand;
}

export const outputLogCommand: Command<CliContext> = defineCommand({
  name: "output-log",
  about: "Read the task output streamed into a directory (`hq submit --stream`)",
  args: {
    serverUid: option({ help: "Read only the streams of this server uid" }),
    path: positional({ help: "Directory of the stream files", required: true, valueName: "DIR" }),
    subcommand: positionalList({
      help:
        "summary | jobs | cat <JOB> <stdout|stderr> [--task <IDS>] [--allow-unfinished] | show [--job <JOB>] [--channel <CHANNEL>] | export <JOB> [--task <IDS>]",
      valueName: "SUBCOMMAND",
      required: true,
      trailing: true,
      allowHyphenValues: true,
    }),
  },
  run: async (values, context: CliContext) => {
    const words = [...values.subcommand];
    let serverUid = values.serverUid;
    // `<DIR> --server-uid <UID> <SUBCOMMAND>`: the list after DIR took the option too.
    while (words[0]?.startsWith("--server-uid")) {
      const word = words.shift()!;
      const value = word.includes("=") ? word.slice(word.indexOf("=") + 1) : words.shift();
      if (value === undefined) {
        throw new UsageError(
          "a value is required for '--server-uid <SERVER_UID>' but none was supplied",
        );
      }
      serverUid = value;
    }
    const subcommand = parseOutputLogSubcommand(words);
    return (await lazyImport<typeof import("./run_output_log.ts")>("./run_output_log.ts"))
      .runOutputLog({ path: values.path, serverUid, subcommand }, context);
  },
});
