/** `hq submit`, `hq job …` and `hq task …` (jobs spec §2, §7, §8): arguments and help. */
import { parseIdSelector } from "../common/id_selector.ts";
import type { IdRange } from "../common/id_ranges.ts";
import { TASK_STATES, type TaskState } from "../common/job_types.ts";
import type { IdSelector } from "../common/protocol.ts";
import {
  type ArgValues,
  type Command,
  countFlag,
  defineCommand,
  flag,
  option,
  optionList,
  positional,
  positionalList,
} from "./args.ts";
import type { CliContext } from "./context.ts";
import { lazyImport } from "./lazy_import.ts";
import { parseDurationArg } from "./value_parsers.ts";
import { parseRequestText, parseResourceRequestArg } from "../common/resources/resource_request.ts";

/** `--array`: the selector grammar without `all`/`last`. */
export function parseArray(raw: string): IdRange[] {
  const selector = parseIdSelector(raw);
  if (selector.type !== "ids") throw new Error(`Invalid array "${raw}"`);
  return selector.ranges;
}

/** `--crash-limit`: a positive number, `never-restart` or `unlimited`. */
export function parseCrashLimit(raw: string): number | "never-restart" | "unlimited" {
  if (raw === "never-restart" || raw === "unlimited") return raw;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new Error(`Invalid crash limit: ${raw}`);
  if (Number(raw) === 0) {
    throw new Error("Crash limit cannot be 0. Use `never-restart` or `unlimited` instead.");
  }
  return Number(raw);
}

/** `--cpus <RQ>` (resources spec §3.2), checked here and kept as text for the assembly. */
export function parseCpuRequest(raw: string): string {
  parseRequestText(raw);
  return raw;
}

/** `--resource NAME=<RQ>`, checked here and kept as text for the assembly. */
export function parseResourceRequest(raw: string): string {
  parseResourceRequestArg(raw);
  return raw;
}

/** `--env KEY=VALUE` (a bare `KEY` means an empty value). */
export function parseEnv(raw: string): [string, string] {
  if (raw === "") throw new Error("Environment variable cannot be empty");
  const eq = raw.indexOf("=");
  return eq < 0 ? [raw, ""] : [raw.slice(0, eq), raw.slice(eq + 1)];
}

export interface OutputSpec {
  /** null = `none`; undefined = the default path. */
  path: string | null | undefined;
  removeIfFinished: boolean;
}

/** `--stdout`/`--stderr`: `none`, `<path>`, `<path>:rm-if-finished` or `:rm-if-finished`. */
export function parseOutputSpec(raw: string): OutputSpec {
  const colon = raw.indexOf(":");
  const path = (colon < 0 ? raw : raw.slice(0, colon)).trim();
  const suffix = colon < 0 ? null : raw.slice(colon + 1);
  if (suffix !== null && suffix !== "rm-if-finished") {
    throw new Error(`Cannot parse stream: unknown suffix "${suffix}" (expected rm-if-finished)`);
  }
  if (path === "" && suffix === null) throw new Error("Cannot parse stream: empty value");
  if (path === "none") return { path: null, removeIfFinished: false };
  return { path: path === "" ? undefined : path, removeIfFinished: suffix !== null };
}

/** Comma lists of task states (`--filter`, `--task-status`), repeatable. */
export function parseTaskStates(raw: string): TaskState[] {
  return raw.split(",").map((item) => {
    const state = item.trim() as TaskState;
    if (!TASK_STATES.includes(state)) {
      throw new Error(`invalid state "${item}" (expected ${TASK_STATES.join(", ")})`);
    }
    return state;
  });
}

const COMPLETED_STATES: TaskState[] = ["finished", "failed", "aborted", "canceled"];

/** `job forget --filter`: only the states a completed job can end in. */
function parseCompletedStates(raw: string): TaskState[] {
  return raw.split(",").map((item) => {
    const state = item.trim() as TaskState;
    if (!COMPLETED_STATES.includes(state)) {
      throw new Error(`invalid state "${item}" (expected ${COMPLETED_STATES.join(", ")})`);
    }
    return state;
  });
}

const JOB_STATE_WORDS = [...TASK_STATES, "opened"] as const;
export type JobStateFilter = typeof JOB_STATE_WORDS[number];

function parseJobStates(raw: string): JobStateFilter[] {
  return raw.split(",").map((item) => {
    const state = item.trim() as JobStateFilter;
    if (!JOB_STATE_WORDS.includes(state)) {
      throw new Error(`invalid state "${item}" (expected ${JOB_STATE_WORDS.join(", ")})`);
    }
    return state;
  });
}

export const submitArgs = {
  name: option({ help: "Name of the job" }),
  maxFails: option({
    help: "Abort the job's remaining tasks once more than this many tasks failed",
    parse: (raw) => nonNegativeInteger(raw),
  }),
  array: option({ help: "Task ids to create, e.g. 1-100, 0-10:2, 2,8-10", parse: parseArray }),
  eachLine: option({ help: "One task per line of this file (HQ_ENTRY)" }),
  fromJson: option({ help: "One task per element of this file's top-level JSON array (HQ_ENTRY)" }),
  cpus: option({
    help:
      "CPUs per task: an amount and a policy (compact, compact!, tight, tight!, scatter) or all",
    parse: parseCpuRequest,
  }),
  resource: optionList({
    help: "Another resource per task, NAME=REQUEST (e.g. gpus/nvidia=1, mem=2000)",
    parse: parseResourceRequest,
  }),
  weight: option({ help: "Resource weight for the scheduler", parse: Number }),
  nodes: option({
    help: "Run each task on this many whole workers of one group (multi-node task)",
    parse: (raw) => nonNegativeInteger(raw),
    defaultText: "0",
  }),
  timeRequest: option({
    help: "Minimal remaining lifetime of a worker to start the task",
    parse: parseDurationArg,
    default: 0,
    defaultText: "0ms",
  }),
  timeLimit: option({ help: "Time limit of each task instance", parse: parseDurationArg }),
  priority: option({
    help: "Priority; tasks with higher priority start first",
    parse: (raw) => integer(raw),
    default: 0,
    defaultText: "0",
  }),
  crashLimit: option({
    help: "How often a task may be on a crashed worker: a number, never-restart or unlimited",
    parse: parseCrashLimit,
    default: 5 as number | "never-restart" | "unlimited",
    defaultText: "5",
  }),
  stdout: option({
    help: "Where each task's stdout goes (`none`, a path with placeholders)",
    parse: parseOutputSpec,
  }),
  stderr: option({
    help: "Where each task's stderr goes (`none`, a path with placeholders)",
    parse: parseOutputSpec,
  }),
  stream: option({
    help: "Stream the outputs of all tasks into log files in this directory (`hq output-log`)",
    aliases: ["log"],
  }),
  cwd: option({ help: "Working directory of the tasks" }),
  env: optionList({ help: "Environment variable KEY=VALUE for the tasks", parse: parseEnv }),
  pin: option<"taskset" | "omp">({
    help: "Pin the task to its allocated CPUs",
    possibleValues: ["taskset", "omp"],
    parse: (raw) => raw as "taskset" | "omp",
  }),
  taskDir: flag({ help: "Create a temporary directory for each task (HQ_TASK_DIR)" }),
  job: option({ help: "Add the tasks to this open job", parse: (raw) => nonNegativeInteger(raw) }),
  wait: flag({ help: "Wait until the job completes" }),
  progress: flag({ help: "Show a progress bar until the job completes" }),
  onNotify: option({
    help:
      "With --wait/--progress: run this command for each `hq task notify` of the job's tasks (the message is its last argument)",
  }),
  stdin: flag({ help: "Read stdin and pass it to every task" }),
  directives: option<"auto" | "file" | "stdin" | "off">({
    help: "Where to look for #HQ directives",
    possibleValues: ["auto", "file", "stdin", "off"],
    parse: (raw) => raw as "auto" | "file" | "stdin" | "off",
    default: "auto",
    defaultText: "auto",
  }),
  commands: positionalList({
    help: "The command to run, with its arguments",
    valueName: "COMMANDS",
    required: true,
    trailing: true,
  }),
};
export type SubmitArgs = ArgValues<typeof submitArgs>;

/** A job selector without `all` (`job cat`, `task list`). */
function parseJobIdsWithoutAll(raw: string): IdSelector {
  const selector = parseIdSelector(raw);
  if (selector.type === "all") throw new Error("`all` is not allowed here");
  return selector;
}

/** One job id or `last` (`task info`). */
function parseSingleJob(raw: string): IdSelector {
  if (raw.trim() === "last") return { type: "last" };
  const id = nonNegativeInteger(raw.trim());
  return { type: "ids", ranges: [[id, id, 1]] };
}

function integer(raw: string): number {
  if (!/^-?\d+$/.test(raw)) throw new Error("invalid digit found in string");
  return Number(raw);
}

/** Digits only, with clap's message otherwise (`invalid digit found in string`). */
export function nonNegativeInteger(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new Error("invalid digit found in string");
  return Number(raw);
}

const jobSelector = {
  selector: positional({
    help: "Job ids: an id, a range, a list, `last` or `all`",
    parse: parseIdSelector,
    required: true,
    valueName: "SELECTOR",
  }),
};

export const jobListArgs = {
  all: flag({ help: "Show all jobs" }),
  filter: optionList({ help: "Show only jobs in these states", parse: parseJobStates }),
  verbose: flag({ help: "Show more columns" }),
};
export type JobListArgs = ArgValues<typeof jobListArgs>;

export const jobCancelArgs = {
  ...jobSelector,
  reason: option({
    help: "Why the job was canceled",
    parse: (raw) => {
      const length = new TextEncoder().encode(raw).length;
      if (length > 200) {
        throw new Error(`Cancel reason must be shorter than 200 you entered ${length}.`);
      }
      return raw;
    },
  }),
};

export const jobForgetArgs = {
  ...jobSelector,
  filter: optionList({ help: "Forget only jobs in these states", parse: parseCompletedStates }),
};

export const taskListArgs = {
  selector: positional({
    help: "Job ids: an id, a range, a list or `last`",
    parse: parseJobIdsWithoutAll,
    required: true,
    valueName: "SELECTOR",
  }),
  tasks: option({ help: "Only these task ids", parse: parseArray }),
  taskStatus: optionList({ help: "Only tasks in these states", parse: parseTaskStates }),
  // HyperQueue's `-v` is a count without a long name: `-vv` works, `--verbose` does not.
  verbose: countFlag({ help: "Show full error messages", short: "v" }),
};
export type TaskListArgs = ArgValues<typeof taskListArgs>;

export interface JobCatArgs {
  selector: IdSelector;
  tasks: IdRange[] | undefined;
  taskStatus: TaskState[][];
  printTaskHeader: boolean;
  stream: "stdout" | "stderr";
}

export interface TaskInfoArgs {
  jobId: IdSelector;
  taskIds: IdRange[];
  verbose: boolean;
}

const run = () => lazyImport<typeof import("./run_job_client.ts")>("./run_job_client.ts");
const runSubmit = () => lazyImport<typeof import("./run_submit.ts")>("./run_submit.ts");

function submitCommand(): Command<CliContext> {
  return defineCommand({
    name: "submit",
    about: "Submit a job",
    args: submitArgs,
    conflicts: [["eachLine", "fromJson"], ["wait", "progress"], ["nodes", "cpus"], [
      "nodes",
      "pin",
    ]],
    run: async (values, context: CliContext, given) =>
      (await runSubmit()).runSubmit(values, context, given),
  });
}

export const submitTopCommand = submitCommand();

export const jobCommand = defineCommand<Record<never, never>, CliContext>({
  name: "job",
  about: "Commands for jobs",
  subcommands: [
    submitCommand(),
    defineCommand({
      name: "list",
      about: "List jobs",
      args: jobListArgs,
      conflicts: [["all", "filter"]],
      run: async (values, context: CliContext) => (await run()).runJobList(values, context),
    }),
    defineCommand({
      name: "info",
      about: "Show details of jobs",
      args: jobSelector,
      run: async (values, context: CliContext) =>
        (await run()).runJobInfo(values.selector, context),
    }),
    defineCommand({
      name: "cancel",
      about: "Cancel jobs",
      args: jobCancelArgs,
      run: async (values, context: CliContext) =>
        (await run()).runJobCancel(values.selector, values.reason ?? null, context),
    }),
    defineCommand({
      name: "wait",
      about: "Wait until jobs complete",
      args: { ...jobSelector, withoutClose: flag({ help: "Do not wait for open jobs to close" }) },
      run: async (values, context: CliContext) =>
        (await run()).runJobWait(values.selector, values.withoutClose, context),
    }),
    defineCommand({
      name: "forget",
      about: "Remove completed jobs from the server's memory",
      args: jobForgetArgs,
      run: async (values, context: CliContext) =>
        (await run()).runJobForget(values.selector, values.filter.flat(), context),
    }),
    defineCommand({
      name: "progress",
      about: "Show a progress bar until jobs complete",
      args: jobSelector,
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_job_progress.ts")>("./run_job_progress.ts"))
          .runJobProgress(values.selector, context),
    }),
    defineCommand({
      name: "summary",
      about: "Count jobs by state",
      run: async (_values, context: CliContext) => (await run()).runJobSummary(context),
    }),
    defineCommand({
      name: "task-ids",
      about: "Print the task ids of jobs",
      args: {
        ...jobSelector,
        filter: optionList({ help: "Only tasks in these states", parse: parseTaskStates }),
      },
      run: async (values, context: CliContext) =>
        (await run()).runJobTaskIds(values.selector, values.filter.flat(), context),
    }),
    defineCommand({
      name: "cat",
      about: "Print the stdout or stderr of tasks",
      args: {
        selector: positional({
          help: "Job ids: an id, a range, a list or `last`",
          parse: parseJobIdsWithoutAll,
          required: true,
          valueName: "SELECTOR",
        }),
        tasks: option({ help: "Only these task ids", parse: parseArray }),
        taskStatus: optionList({ help: "Only tasks in these states", parse: parseTaskStates }),
        printTaskHeader: flag({ help: "Print a header line before each task's output" }),
        stream: positional({
          help: "Which output: stdout or stderr",
          possibleValues: ["stdout", "stderr"],
          parse: (raw) => raw as "stdout" | "stderr",
          required: true,
          valueName: "STREAM",
        }),
      },
      run: async (values, context: CliContext) => (await run()).runJobCat(values, context),
    }),
    defineCommand({
      name: "submit-file",
      about: "Submit a job definition file (TOML): tasks with dependencies and their settings",
      args: {
        file: positional({ help: "The job definition file", required: true, valueName: "FILE" }),
        job: submitArgs.job,
      },
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_submit_file.ts")>("./run_submit_file.ts"))
          .runSubmitFile(values.file, { job: values.job }, context),
    }),
    defineCommand({
      name: "open",
      about: "Open a job that tasks can be added to later",
      args: { name: submitArgs.name, maxFails: submitArgs.maxFails },
      run: async (values, context: CliContext) =>
        (await run()).runJobOpen(values.name ?? "job", values.maxFails ?? null, context),
    }),
    defineCommand({
      name: "close",
      about: "Close open jobs",
      args: jobSelector,
      run: async (values, context: CliContext) =>
        (await run()).runJobClose(values.selector, context),
    }),
  ],
});

export const taskCommand = defineCommand<Record<never, never>, CliContext>({
  name: "task",
  about: "Commands for tasks",
  subcommands: [
    defineCommand({
      name: "list",
      about: "List the tasks of jobs",
      args: taskListArgs,
      run: async (values, context: CliContext) => (await run()).runTaskList(values, context),
    }),
    defineCommand({
      name: "info",
      about: "Show details of tasks",
      args: {
        jobId: positional({
          help: "Job id or `last`",
          parse: parseSingleJob,
          required: true,
          valueName: "JOB_ID",
        }),
        taskIds: positional({
          help: "Task ids",
          parse: parseArray,
          required: true,
          valueName: "TASK_IDS",
        }),
        verbose: flag({ help: "Show full error messages", short: "v" }),
      },
      run: async (values, context: CliContext) => (await run()).runTaskInfo(values, context),
    }),
    defineCommand({
      name: "explain",
      about: "Explain where a waiting or running task can run, and why not elsewhere",
      args: {
        jobId: positional({
          help: "Job id or `last`",
          parse: parseSingleJob,
          required: true,
          valueName: "JOB_ID",
        }),
        taskId: positional({
          help: "Task id",
          parse: (raw) => {
            const id = nonNegativeInteger(raw.trim());
            if (id > 0xffff_ffff) throw new Error("number too large to fit in target type");
            return id;
          },
          required: true,
          valueName: "TASK_ID",
        }),
      },
      run: async (values, context: CliContext) =>
        (await run()).runTaskExplain(values.jobId, values.taskId, context),
    }),
    defineCommand({
      name: "notify",
      about: "Send a message from a running task to clients waiting with --on-notify",
      args: {
        message: positional({
          help: "The message (at most 1024 bytes)",
          required: true,
          valueName: "MESSAGE",
        }),
      },
      run: async (values) =>
        (await lazyImport<typeof import("./run_task_notify.ts")>("./run_task_notify.ts"))
          .runTaskNotify(values.message),
    }),
  ],
});

export type { IdSelector };
