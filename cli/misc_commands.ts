/**
 * `hq dashboard`, `hq doc` and `hq generate-completion` (journal-alloc spec §4, §5): arguments
 * and help here, implementations loaded only when one of them runs.
 */
import { type ArgValues, defineCommand, flag, option, positional } from "./args.ts";
import type { CliContext } from "./context.ts";
import { lazyImport } from "./lazy_import.ts";
import { parsePort } from "./value_parsers.ts";

type RunDashboard = typeof import("./run_dashboard.ts");
const runDashboard = () => lazyImport<RunDashboard>("./run_dashboard.ts");
type RunDoc = typeof import("./run_doc.ts");
const runDoc = () => lazyImport<RunDoc>("./run_doc.ts");

export const dashboardArgs = {
  host: option({
    help: "Address the dashboard's web server listens on",
    default: "127.0.0.1",
    defaultText: "127.0.0.1",
  }),
  port: option({
    help: "Port of the dashboard's web server (random if not set)",
    parse: parsePort,
  }),
  open: flag({ help: "Open the dashboard in the default browser" }),
};
export type DashboardArgs = ArgValues<typeof dashboardArgs>;

export const dashboardReplayArgs = {
  ...dashboardArgs,
  journal: positional({ help: "Path to a journal", required: true }),
};
export type DashboardReplayArgs = ArgValues<typeof dashboardReplayArgs>;

export const dashboardCommand = defineCommand<typeof dashboardArgs, CliContext>({
  name: "dashboard",
  about: "Serve a live web dashboard of the server's workers, jobs and allocations",
  args: dashboardArgs,
  run: async (values, context: CliContext) =>
    (await runDashboard()).runDashboardStream(values, context),
  subcommands: [
    defineCommand({
      name: "stream",
      about: "Serve the dashboard from the events of a running server (the default)",
      args: dashboardArgs,
      run: async (values, context: CliContext) =>
        (await runDashboard()).runDashboardStream(values, context),
    }),
    defineCommand({
      name: "replay",
      about: "Serve the dashboard from a journal file, without a server",
      args: dashboardReplayArgs,
      run: async (values, context: CliContext) =>
        (await runDashboard()).runDashboardReplay(values, context),
    }),
  ],
});

/** Topics of `hq doc` and their aliases, in the order of spec §5.2, with their paths. */
export const DOC_TOPICS: ReadonlyArray<{ names: string[]; path: string }> = [
  { names: ["job", "jobs", "tasks"], path: "jobs/jobs" },
  { names: ["taskarray"], path: "jobs/arrays" },
  { names: ["resources"], path: "jobs/resources" },
  { names: ["worker", "workers"], path: "deployment/worker" },
  { names: ["autoalloc", "pbs", "slurm"], path: "deployment/allocation" },
  { names: ["python-api", "python"], path: "python" },
  { names: ["cheatsheet"], path: "cheatsheet" },
  { names: ["changelog"], path: "changelog" },
  { names: ["faq"], path: "faq" },
];

export const docArgs = {
  open: flag({ help: "Open the documentation in the default browser instead of printing its URL" }),
  topic: positional({
    help: "Documentation topic",
    possibleValues: DOC_TOPICS.flatMap((topic) => topic.names),
  }),
};
export type DocArgs = ArgValues<typeof docArgs>;

export const docCommand = defineCommand<typeof docArgs, CliContext>({
  name: "doc",
  about: "Print the URL of HyperQueue's documentation (or open it)",
  args: docArgs,
  run: async (values, context: CliContext) => (await runDoc()).runDoc(values, context),
});

export const SHELLS = ["bash", "elvish", "fish", "powershell", "zsh"] as const;
export type Shell = typeof SHELLS[number];

export const generateCompletionArgs = {
  shell: positional<Shell>({
    help: "Shell to generate the completion script for",
    possibleValues: SHELLS,
    parse: (raw) => raw as Shell,
    required: true,
  }),
};

export const generateCompletionCommand = defineCommand<typeof generateCompletionArgs, CliContext>({
  name: "generate-completion",
  about: "Generate a shell completion script for hq",
  args: generateCompletionArgs,
  run: async (values, context: CliContext) =>
    (await runDoc()).runGenerateCompletion(values.shell, context),
});
