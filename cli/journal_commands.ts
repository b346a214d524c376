/** `hq journal …` (journal spec §1.5): arguments and help here, implementations loaded when run. */
import { type ArgValues, defineCommand, option, positional } from "./args.ts";
import type { CliContext } from "./context.ts";
import { lazyImport } from "./lazy_import.ts";
import { parseDurationArg } from "./value_parsers.ts";

type RunJournal = typeof import("./run_journal.ts");
const runJournal = () => lazyImport<RunJournal>("./run_journal.ts");

export const journalExportArgs = {
  journal: positional({
    help: "Path to a journal. It must have been created with the same version of hq",
    required: true,
  }),
};

export const journalReportArgs = {
  journal: positional({ help: "Path to a journal", required: true }),
  output: positional({ help: "Path of the HTML report to write", required: true }),
  startTime: option({
    help: "Leave out events before this time, measured from the first event of the journal",
    parse: parseDurationArg,
  }),
  endTime: option({
    help: "Leave out events after this time, measured from the first event of the journal",
    parse: parseDurationArg,
  }),
};
export type JournalReportArgs = ArgValues<typeof journalReportArgs>;

export const journalCommand = defineCommand<Record<never, never>, CliContext>({
  name: "journal",
  about: "Commands for the journal",
  subcommands: [
    defineCommand({
      name: "export",
      about: "Export events from a journal to NDJSON (line-delimited JSON) on stdout",
      args: journalExportArgs,
      run: async (values, context: CliContext) =>
        (await runJournal()).runJournalExport(values.journal, context),
    }),
    defineCommand({
      name: "replay",
      about: "Print all past events of a running server, then exit",
      run: async (_values, context: CliContext) =>
        (await runJournal()).runJournalReplay({ live: false }, context),
    }),
    defineCommand({
      name: "stream",
      about:
        "Stream events from a running server: first its past events, then live events until it stops",
      run: async (_values, context: CliContext) =>
        (await runJournal()).runJournalReplay({ live: true }, context),
    }),
    defineCommand({
      name: "prune",
      about:
        "Connect to a server and remove completed jobs and disconnected workers from its journal",
      run: async (_values, context: CliContext) =>
        (await runJournal()).runJournalRequest("journal-prune", context),
    }),
    defineCommand({
      name: "flush",
      about: "Connect to a server and force it to flush its journal to disk",
      run: async (_values, context: CliContext) =>
        (await runJournal()).runJournalRequest("journal-flush", context),
    }),
    defineCommand({
      name: "report",
      about: "Generate an HTML report from a journal",
      args: journalReportArgs,
      run: async (values, context: CliContext) =>
        (await runJournal()).runJournalReport(values, context),
    }),
  ],
});
