import assert from "node:assert/strict";
import { queueParams } from "../common/_test_queue_params.ts";
import { UsageError } from "../common/errors.ts";
import { parseCommandLine, type ParseOutcome } from "./args.ts";
import type { AllocAddArgs, AllocInfoArgs, AllocLogArgs } from "./alloc_commands.ts";
import { buildQueueParams, buildWorkerArgs, QueueParamsError } from "./build_queue_params.ts";
import { rootCommand } from "./commands.ts";
import type { CliContext } from "./context.ts";
import { renderHelp } from "./help.ts";

const WALLTIME_HINT = "Could not parse PBS walltime. Use either `HH:MM:SS` or humantime format " +
  "(2hours): ";

type RunOutcome = Extract<ParseOutcome<CliContext>, { type: "run" }>;

function parse(argv: string[]): ParseOutcome<CliContext> {
  return parseCommandLine(argv, rootCommand, { env: () => undefined });
}

function run(argv: string[]): RunOutcome {
  const outcome = parse(argv);
  assert.equal(outcome.type, "run", `hq ${argv.join(" ")}`);
  return outcome as RunOutcome;
}

/** `hq alloc add <manager> <args>` parsed into the options record `run_alloc.ts` receives. */
function addArgs(args: string[], manager = "slurm"): AllocAddArgs {
  return run(["alloc", "add", manager, ...args]).values as AllocAddArgs;
}

function build(args: string[], manager: "pbs" | "slurm" = "slurm") {
  return buildQueueParams(manager, addArgs(args, manager));
}

function assertUsageError(argv: string[], message: string | RegExp): void {
  assert.throws(() => parse(argv), (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected UsageError, got ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  }, `hq ${argv.join(" ")}`);
}

function assertParamsError(args: string[], message: string): void {
  assert.throws(() => build(args), (error: unknown) => {
    assert.ok(error instanceof QueueParamsError, `expected QueueParamsError, got ${error}`);
    assert.equal(error.exitCode, 1);
    assert.equal(error.message, message);
    return true;
  }, `hq alloc add slurm ${args.join(" ")}`);
}

Deno.test("alloc has the subcommands of the spec, add and dry-run per manager", () => {
  const alloc = rootCommand.subcommands.find((command) => command.name === "alloc")!;
  assert.deepEqual(
    alloc.subcommands.map((command) => command.name).sort(),
    ["add", "dry-run", "info", "list", "log", "pause", "remove", "resume"],
  );
  for (const name of ["add", "dry-run"]) {
    const command = alloc.subcommands.find((c) => c.name === name)!;
    assert.deepEqual(command.subcommands.map((c) => c.name), ["pbs", "slurm"]);
  }
  const add = parse(["alloc", "add"]);
  assert.equal(add.type, "help");
  assert.equal((add as Extract<typeof add, { type: "help" }>).exitCode, 2);
});

Deno.test("alloc add applies the spec's defaults", () => {
  const args = addArgs(["--time-limit", "1h"]);
  assert.equal(args.timeLimit, 3_600_000);
  assert.equal(args.backlog, 1);
  assert.equal(args.maxWorkersPerAlloc, 1);
  assert.equal(args.maxWorkerCount, undefined);
  assert.equal(args.minUtilization, 0);
  assert.equal(args.idleTimeout, 300_000);
  assert.equal(args.onServerLost, "finish-running");
  assert.equal(args.noDryRun, false);
  assert.deepEqual(args.additionalArgs, []);

  const { params } = build(["--time-limit", "1h"]);
  assert.deepEqual(params, queueParams());
});

Deno.test("alloc add takes the short flags -t, -b, -m and -n", () => {
  const { params } = build(["-t", "30m", "-b", "3", "-m", "4", "-n", "gpu"], "pbs");
  assert.equal(params.manager, "pbs");
  assert.equal(params.timeLimitMs, 1_800_000);
  assert.equal(params.backlog, 3);
  assert.equal(params.maxWorkersPerAlloc, 4);
  assert.equal(params.name, "gpu");
  assert.equal(build(["-t1h", "-b2"]).params.backlog, 2);
});

Deno.test("alloc add sets every option of the spec", () => {
  const { params, warnings } = build([
    "-t",
    "2h",
    "--max-worker-count",
    "10",
    "--min-utilization",
    "0.5",
    "--worker-start-cmd",
    "module load x",
    "--worker-stop-cmd",
    "echo bye",
    "--worker-wrap-cmd",
    "podman run img",
    "--worker-time-limit",
    "01:59:58",
    "--idle-timeout",
    "2m",
    "--cpus",
    "4",
    "--no-dry-run",
  ]);
  assert.deepEqual(warnings, []);
  assert.equal(params.maxWorkerCount, 10);
  assert.equal(params.minUtilization, 0.5);
  assert.equal(params.workerStartCmd, "module load x");
  assert.equal(params.workerStopCmd, "echo bye");
  assert.equal(params.workerWrapCmd, "podman run img");
  assert.equal(params.workerTimeLimitMs, 7_198_000);
  assert.equal(params.idleTimeoutMs, 120_000);
  assert.equal(addArgs(["-t", "1h", "--no-dry-run"]).noDryRun, true);
});

Deno.test("alloc add passes trailing arguments after `--` to the manager", () => {
  const { params } = build(["-t", "1h", "--cpus", "8", "--", "--partition=p1", "-A", "proj"]);
  assert.deepEqual(params.additionalArgs, ["--partition=p1", "-A", "proj"]);
  // Once the trailing arguments start, options belong to them too (clap's trailing_var_arg).
  assert.deepEqual(build(["-t", "1h", "extra", "--qos", "x"]).params.additionalArgs, [
    "extra",
    "--qos",
    "x",
  ]);
  assertUsageError(
    ["alloc", "add", "slurm", "-t", "1h", "--partition=p1"],
    "unexpected argument '--partition' found",
  );
});

Deno.test("alloc add requires --time-limit and a manager", () => {
  assertUsageError(
    ["alloc", "add", "slurm"],
    "the following required arguments were not provided: --time-limit <TIME_LIMIT>",
  );
  assertUsageError(["alloc", "add", "lsf", "-t", "1h"], "unrecognized subcommand 'lsf'");
});

Deno.test("alloc add refuses --workers-per-alloc, renamed --max-workers-per-alloc in 0.23", () => {
  assertUsageError(
    ["alloc", "add", "pbs", "-t", "1h", "--workers-per-alloc", "2"],
    "unexpected argument '--workers-per-alloc' found",
  );
});

Deno.test("alloc add reports a bad duration with the PBS walltime hint", () => {
  for (const option of ["--time-limit", "--idle-timeout", "--worker-time-limit"]) {
    const base = option === "--time-limit" ? [] : ["-t", "1h"];
    const argv = ["alloc", "add", "slurm", ...base, option, "soon"];
    const display = option.slice(2).toUpperCase().replaceAll("-", "_");
    assertUsageError(
      argv,
      `invalid value 'soon' for '${option} <${display}>': ${WALLTIME_HINT}` +
        'expected a number at position 0, found "s"',
    );
  }
});

Deno.test("alloc add accepts the clock and the human duration forms", () => {
  const cases: Array<[string, number]> = [
    ["90", 90_000],
    ["01:30", 90_000],
    ["48:00:00", 172_800_000],
    ["2h 30m", 9_000_000],
    ["1day 2h", 93_600_000],
    ["90s", 90_000],
  ];
  for (const [text, ms] of cases) assert.equal(addArgs(["-t", text]).timeLimit, ms, text);
});

Deno.test("alloc add reports malformed numbers as usage errors, as clap does", () => {
  assertUsageError(
    ["alloc", "add", "slurm", "-t", "1h", "--backlog", "abc"],
    "invalid value 'abc' for '--backlog <BACKLOG>': invalid digit found in string",
  );
  assertUsageError(
    ["alloc", "add", "slurm", "-t", "1h", "-m", "-1"],
    "invalid value '-1' for '--max-workers-per-alloc <MAX_WORKERS_PER_ALLOC>': " +
      "invalid digit found in string",
  );
  assertUsageError(
    ["alloc", "add", "slurm", "-t", "1h", "--max-worker-count", "99999999999"],
    "invalid value '99999999999' for '--max-worker-count <MAX_WORKER_COUNT>': " +
      "number too large to fit in target type",
  );
  assertUsageError(
    ["alloc", "add", "slurm", "-t", "1h", "--min-utilization", "half"],
    "invalid value 'half' for '--min-utilization <MIN_UTILIZATION>': invalid float literal",
  );
  assertUsageError(
    ["alloc", "add", "slurm", "-t", "1h", "--on-server-lost", "wait"],
    "invalid value 'wait' for '--on-server-lost <ON_SERVER_LOST>' " +
      "[possible values: stop, finish-running]",
  );
});

Deno.test("alloc add checks the values with the spec's messages (exit code 1)", () => {
  assertParamsError(["-t", "1h", "--backlog", "0"], "Backlog has to be at least 1");
  for (const value of ["1.5", "-0.1"]) {
    assertParamsError(
      ["-t", "1h", `--min-utilization=${value}`],
      "Minimal utilization has to be in the interval [0.0, 1.0].",
    );
  }
  assertParamsError(
    ["-t", "1h", "--worker-time-limit", "1h 1s"],
    "Worker time limit cannot be larger than queue time limit",
  );
  assertParamsError(
    ["-t", "1h", "--max-workers-per-alloc", "0"],
    "Max workers per allocation has to be at least 1",
  );
  assert.equal(
    build(["-t", "1h", "--worker-time-limit", "1h"]).params.workerTimeLimitMs,
    3_600_000,
  );
  assert.equal(build(["-t", "1h", "--min-utilization", "1"]).params.minUtilization, 1);
});

Deno.test("alloc add refuses names that cannot be a directory or job name", () => {
  for (const name of ["a b", "a/b", ""]) {
    assertParamsError(
      ["-t", "1h", "--name", name],
      `Invalid queue name "${name}": it must be non-empty, without whitespace or "/"`,
    );
  }
});

Deno.test("alloc add parses --cpus and --resource with the worker's parsers", () => {
  const { params, warnings } = build([
    "-t",
    "1h",
    "--resource",
    "mem=sum(4096)",
    "--cpus",
    "2x4",
    "--resource",
    "gpus=[0,1]",
  ]);
  assert.deepEqual(warnings, []);
  assert.deepEqual(params.cliResources, [
    { name: "cpus", kind: "groups", groups: [["0", "1", "2", "3"], ["4", "5", "6", "7"]] },
    { name: "gpus", kind: "list", values: ["0", "1"] },
    { name: "mem", kind: "sum", size: 40_960_000 },
  ]);
  assert.deepEqual(params.cliResourceTexts, {
    cpus: "2x4",
    resources: ["mem=sum(4096)", "gpus=[0,1]"],
  });
  assertUsageError(["alloc", "add", "slurm", "-t", "1h", "--cpus", "2x"], /^invalid value '2x'/);
  assertUsageError(["alloc", "add", "slurm", "-t", "1h", "--cpus", "0"], /CPUs must have identity/);
  assertUsageError(
    ["alloc", "add", "slurm", "-t", "1h", "--resource", "gpus"],
    /^invalid value 'gpus' for '--resource <RESOURCE>'/,
  );
});

Deno.test("alloc add refuses resource sets the workers would refuse", () => {
  assertParamsError(
    ["-t", "1h", "--cpus", "2", "--resource", "cpus=[0,1]"],
    "Parameters --cpus and --resource cpus=... cannot be combined",
  );
  assertParamsError(
    ["-t", "1h", "--resource", "gpus=[0]", "--resource", "gpus=[1]"],
    "Resource gpus defined twice",
  );
  const { params } = build(["-t", "1h", "--resource", "cpus=[0,1]"]);
  assert.deepEqual(params.cliResources, [{ name: "cpus", kind: "list", values: ["0", "1"] }]);
  assert.deepEqual(params.cliResourceTexts, { cpus: null, resources: ["cpus=[0,1]"] });
});

Deno.test("alloc add warns about probing mode without --cpus or --resource", () => {
  const { warnings } = build(["-t", "1h"]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /probing mode/);
  assert.deepEqual(build(["-t", "1h", "--resource", "gpus=[0]"]).warnings, []);
});

Deno.test("alloc add warns about an idle timeout above 10 minutes", () => {
  assert.deepEqual(build(["-t", "1h", "--cpus", "1", "--idle-timeout", "10m"]).warnings, []);
  const { warnings } = build(["-t", "1h", "--cpus", "1", "--idle-timeout", "10m 1s"]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /idle timeout .*\(10m 1s\) is longer than 10 minutes/);
});

Deno.test("buildWorkerArgs follows the spec's order and quoting", () => {
  const args = addArgs([
    "-t",
    "1h",
    "--worker-time-limit",
    "59m 58s",
    "--overview-interval",
    "30s",
    "--detect-resources",
    "cpus,mem",
    "--min-utilization",
    "0.25",
    "--no-hyper-threading",
    "--group",
    "g1",
    "--coupling",
    "cpus[0]:gpus[0]",
    "--resource",
    "gpus=[0,1]",
    "--resource",
    "mem=sum(100)",
    "--cpus",
    "[0,2]",
    "--on-server-lost",
    "stop",
  ]);
  assert.deepEqual(buildWorkerArgs(args), [
    "--cpus",
    '"[0,2]"',
    "--resource",
    '"gpus=[0,1]"',
    "--resource",
    '"mem=sum(100)"',
    "--coupling",
    '"cpus[0]:gpus[0]"',
    "--group",
    "g1",
    "--no-hyper-threading",
    "--detect-resources",
    "cpus,mem",
    "--overview-interval",
    '"30s"',
    "--min-utilization",
    "0.25",
    "--on-server-lost",
    '"stop"',
    "--time-limit",
    '"59m 58s"',
  ]);
  // The spec's §2.6 example, joined as the submit script joins them.
  assert.equal(
    buildWorkerArgs(addArgs(["-t", "1h", "--cpus", "8", "--", "--partition=p1"])).join(" "),
    '--cpus "8" --on-server-lost "finish-running" --time-limit "1h"',
  );
});

Deno.test("buildWorkerArgs gives the time limit in the human form", () => {
  const cases: Array<[string, string]> = [
    ["1h", "1h"],
    ["59m 58s", "59m 58s"],
    ["25:00:00", "1day 1h"],
    ["48h", "2days"],
    ["300", "5m"],
    ["1.5h", "1h 30m"],
  ];
  for (const [given, human] of cases) {
    const args = buildWorkerArgs(addArgs(["-t", given]));
    assert.deepEqual(args.slice(-2), ["--time-limit", `"${human}"`], given);
  }
});

Deno.test("buildWorkerArgs leaves out --min-utilization of 0", () => {
  const args = buildWorkerArgs(addArgs(["-t", "1h", "--min-utilization", "0.0"]));
  assert.ok(!args.includes("--min-utilization"));
  assert.deepEqual(
    buildWorkerArgs(addArgs(["-t", "1h", "--min-utilization", "1.0"])).slice(0, 2),
    ["--min-utilization", "1"],
  );
});

Deno.test("alloc dry-run takes the options of add except --no-dry-run", () => {
  const outcome = run(["alloc", "dry-run", "pbs", "-t", "1h", "-b", "2", "--", "-q", "qexp"]);
  assert.equal(outcome.path.map((c) => c.name).join(" "), "hq alloc dry-run pbs");
  assert.equal(outcome.values.backlog, 2);
  assert.deepEqual(outcome.values.additionalArgs, ["-q", "qexp"]);
  assertUsageError(
    ["alloc", "dry-run", "pbs", "-t", "1h", "--no-dry-run"],
    "unexpected argument '--no-dry-run' found",
  );
});

Deno.test("alloc info takes a queue id and a --filter of the four states", () => {
  const values = run(["alloc", "info", "3", "--filter", "failed"]).values as AllocInfoArgs;
  assert.equal(values.queueId, 3);
  assert.equal(values.filter, "failed");
  assert.equal((run(["alloc", "info", "3"]).values as AllocInfoArgs).filter, undefined);
  assertUsageError(
    ["alloc", "info", "3", "--filter", "done"],
    "invalid value 'done' for '--filter <FILTER>' " +
      "[possible values: queued, running, finished, failed]",
  );
  assertUsageError(
    ["alloc", "info"],
    "the following required arguments were not provided: <QUEUE_ID>",
  );
  assertUsageError(["alloc", "info", "x"], /^invalid value 'x' for '<QUEUE_ID>'/);
});

Deno.test("alloc log takes an allocation id and stdout or stderr", () => {
  const values = run(["alloc", "log", "1234.pbs01", "stderr"]).values as AllocLogArgs;
  assert.deepEqual(values, { allocationId: "1234.pbs01", stream: "stderr" });
  assertUsageError(
    ["alloc", "log", "12", "stdin"],
    "invalid value 'stdin' for '<CHANNEL>' [possible values: stdout, stderr]",
  );
});

Deno.test("alloc pause, resume and remove take a queue id; remove takes --force", () => {
  for (const name of ["pause", "resume", "remove"]) {
    assert.equal(run(["alloc", name, "7"]).values.queueId, 7);
  }
  assert.equal(run(["alloc", "remove", "7"]).values.force, false);
  assert.equal(run(["alloc", "remove", "7", "--force"]).values.force, true);
  assertUsageError(["alloc", "pause", "7", "--force"], "unexpected argument '--force' found");
});

Deno.test("alloc add help lists every option with its default", () => {
  const outcome = parse(["alloc", "add", "pbs", "--help"]);
  assert.equal(outcome.type, "help");
  const text = renderHelp((outcome as Extract<typeof outcome, { type: "help" }>).path, true);
  assert.match(text, /^Create a PBS allocation queue\n/);
  assert.match(
    text,
    /Usage: hq alloc add pbs \[OPTIONS\] --time-limit <TIME_LIMIT> \[ADDITIONAL_ARGS\]\.\.\./,
  );
  for (
    const line of [
      /-t, --time-limit <TIME_LIMIT> /,
      /-b, --backlog <BACKLOG> .*\[default: 1\]/,
      /-m, --max-workers-per-alloc <MAX_WORKERS_PER_ALLOC> .*\[default: 1\]/,
      /-n, --name <NAME> /,
      /--min-utilization <MIN_UTILIZATION> .*\[default: 0\.0\]/,
      /--idle-timeout <IDLE_TIMEOUT> .*\[default: 5m\]/,
      /--on-server-lost <ON_SERVER_LOST> .*\[default: finish-running\]/,
      /--no-dry-run /,
    ]
  ) assert.match(text, line);
});
