import type { AllocationView, QueueView } from "../autoalloc.ts";
import { formatDuration } from "../duration.ts";
import { formatErrorChain } from "../errors.ts";
import { formatIdList } from "../id_ranges.ts";
import type { JobDetailView, JobSummaryView, TaskState, TaskView } from "../job_types.ts";
import type { ServerInfo, WorkerView } from "../protocol.ts";
import { logger } from "../log.ts";
import {
  countLines,
  dependenciesOf,
  formatMakespan,
  markStreamed,
  progressBar,
  resourcesText,
  showsPaths,
  stateCell,
  SUMMARY_STATES,
  templateOf,
} from "./job_words.ts";
import { resolveForTask } from "../placeholders.ts";
import { paint } from "./colors.ts";
import {
  describeResources,
  formatResourcesLine,
  formatResourcesLines,
} from "../resources/describe_resources.ts";
import type { ResourceDescriptor } from "../resources/resource_descriptor.ts";
import type { TaskExplanation } from "../task_explanation.ts";
import {
  type ExplainedTaskId,
  EXPLANATION_HEADER,
  explanationLines,
  explanationRows,
} from "./explanation_words.ts";
import { formatCliDate, formatJsonTimestamp, formatLocalDateTime } from "../timestamp.ts";
import type { Formatter } from "./formatter.ts";
import { type ExportedTaskOutput, formatStreamSize, type OutputLogSummary } from "../stream_log.ts";
import { toSortedJson } from "./json.ts";
import { writeStdout } from "./stdout.ts";
import { type Cell, renderHorizontalTable, renderVerticalTable } from "./table.ts";
import { managerWord, workerState } from "./worker_words.ts";
import { allocInfoTable, allocListTable } from "./alloc_words.ts";

/** Human-readable tables (spec §8.1). */
export class CliFormatter implements Formatter {
  constructor(private readonly colors: boolean) {}

  serverInfo(info: ServerInfo, serverDir: string | null): void {
    const rows: [string, Cell][] = [];
    if (serverDir !== null) rows.push(["Server directory", serverDir]);
    rows.push(
      ["Server UID", info.serverUid],
      ["Client host", info.clientHost],
      ["Client port", String(info.clientPort)],
      ["Worker host", info.workerHost],
      ["Worker port", String(info.workerPort)],
      ["Version", info.version],
      ["Pid", String(info.pid)],
      ["Start date", formatCliDate(info.startDateMs)],
      ["Journal path", info.journalPath ?? ""],
    );
    writeStdout(renderVerticalTable(rows, { colors: this.colors }));
  }

  workerList(workers: WorkerView[]): void {
    const rows: Cell[][] = workers.map((view) => [
      String(view.id),
      workerState(view),
      view.configuration.hostname,
      formatResourcesLine(view.configuration.resources),
      managerWord(view.configuration.manager),
      view.configuration.manager?.allocationId ?? "N/A",
    ]);
    writeStdout(
      renderHorizontalTable(
        ["ID", "State", "Hostname", "Resources", "Manager", "Manager Job ID"],
        rows,
        { colors: this.colors, rightAligned: [0] },
      ),
    );
  }

  workerInfo(workers: WorkerView[]): void {
    writeStdout(workers.map((view) => this.#workerTable(view)).join("\n"));
  }

  hwdetect(resources: ResourceDescriptor): void {
    writeStdout(`${describeResources(resources)}\n`);
  }

  submitted(jobId: number): void {
    const word = this.colors ? paint("successfully", "green") : "successfully";
    writeStdout(`Job submitted ${word}, job ID: ${jobId}\n`);
  }

  jobOpened(jobId: number): void {
    writeStdout(`Job ${jobId} is open.\n`);
  }

  jobList(jobs: JobSummaryView[], options: { totalCount: number; verbose: boolean }): void {
    const header = ["ID", "Name", "State", "Tasks"];
    if (options.verbose) header.push("Cancel Reason");
    const rows: Cell[][] = jobs.map((job) => {
      const row: Cell[] = [
        job.isOpen ? `*${job.id}` : String(job.id),
        truncateMiddle(job.name, 50),
        stateCell(job.state),
        String(job.taskCount),
      ];
      if (options.verbose) row.push(job.cancelReason ?? "");
      return row;
    });
    let text = renderHorizontalTable(header, rows, { colors: this.colors, rightAligned: [0] });
    if (jobs.some((job) => job.isOpen)) text += "* = Open jobs\n";
    if (jobs.length < options.totalCount) {
      text += options.totalCount === 1
        ? "There is 1 job in total.\n"
        : `There are ${options.totalCount} jobs in total. Use \`--all\` to display all jobs.\n`;
    }
    writeStdout(text);
  }

  jobInfo(jobs: JobDetailView[]): void {
    writeStdout(jobs.map((job) => this.#jobTables(job)).join("\n"));
  }

  taskList(
    jobs: Array<{ job: JobDetailView; tasks: TaskView[] }>,
    options: { verbose: boolean },
  ): void {
    const withJobId = jobs.length > 1;
    const header = [
      ...(withJobId ? ["Job ID"] : []),
      "Task ID",
      "State",
      "Worker",
      "Makespan",
      "Error",
    ];
    let truncated = false;
    const rows: Cell[][] = [];
    for (const { job, tasks } of jobs) {
      for (const task of tasks) {
        let error = task.error ?? "";
        if (!options.verbose && error.length >= 16) {
          error = `${error.slice(0, 16)}...`;
          truncated = true;
        }
        rows.push([
          ...(withJobId ? [String(job.id)] : []),
          String(task.id),
          stateCell(task.state),
          workerCell(job, task),
          makespanOf(task),
          error === "" ? "" : { text: error, color: "red" },
        ]);
      }
    }
    writeStdout(renderHorizontalTable(header, rows, { colors: this.colors }));
    if (truncated) log.info("An error message was truncated. Use -v to display the full error.");
  }

  jobSummary(counts: Record<string, number>): void {
    writeStdout(renderHorizontalTable(
      ["Status", "Count"],
      SUMMARY_STATES.map((state) => [stateCell(state as TaskState), String(counts[state] ?? 0)]),
      { colors: this.colors, rightAligned: [1] },
    ));
  }

  taskIds(jobs: Array<{ jobId: number; ids: number[] }>): void {
    if (jobs.length === 1) writeStdout(`${formatIdList(jobs[0].ids)}\n`);
    else writeStdout(jobs.map(({ jobId, ids }) => `${jobId}: ${formatIdList(ids)}\n`).join(""));
  }

  taskInfo(job: JobDetailView, tasks: TaskView[], options: { verbose: boolean }): void {
    let truncated = false;
    const tables = tasks.map((task) => {
      const template = templateOf(job, task.id);
      const paths = template && showsPaths(task)
        ? markStreamed(
          resolveForTask(template, {
            jobId: job.id,
            taskId: task.id,
            instanceId: task.instanceId,
            submitDir: template.submitDir,
            serverUid: "",
          }),
          template,
          "<Stream>",
        )
        : null;
      let error = task.error ?? "";
      if (!options.verbose && error.length > 237) {
        error = `${error.slice(0, 237)}...`;
        truncated = true;
      }
      const rows: [string, Cell][] = [
        ["Task ID", String(task.id)],
        ["State", stateCell(task.state)],
        ["Command", template?.args.map(wrap80).join("\n") ?? ""],
        [
          "Environment",
          Object.entries(template?.env ?? {}).map(([key, value]) => `${key}=${value}`).join("\n"),
        ],
        ["Worker", workerCell(job, task)],
        ["Start", task.startedMs === null ? "" : formatLocalDateTime(task.startedMs)],
        ["End", task.finishedMs === null ? "" : formatLocalDateTime(task.finishedMs)],
        ["Makespan", makespanOf(task)],
        ["Workdir", paths?.cwd ?? ""],
        ["Stdout", paths ? paths.stdout ?? "<None>" : ""],
        ["Stderr", paths ? paths.stderr ?? "<None>" : ""],
        [
          "Time limit",
          template?.timeLimitMs ? formatDuration(template.timeLimitMs) : "None",
        ],
        ["Resources", template ? resourcesText(template) : ""],
        ["Priority", String(template?.priority ?? 0)],
        ["Pin", template?.pin ?? "none"],
        ["Task dir", template?.taskDir ? "yes" : "no"],
        ["Crash limit", String(template?.crashLimit ?? "")],
        ["Dependencies", dependenciesOf(job, task.id).join(",")],
        ["Error", error === "" ? "" : { text: error, color: "red" }],
      ];
      return renderVerticalTable(rows, { colors: this.colors });
    });
    writeStdout(tables.join("\n"));
    if (truncated) {
      log.info("An error message(s) was truncated. Use -v to display the full error(s).");
    }
  }

  taskExplain(task: ExplainedTaskId, explanation: TaskExplanation): void {
    let text = explanationLines(task, explanation).map((line) => `${line}\n`).join("");
    if (explanation.workers.length > 0) {
      text += renderHorizontalTable(EXPLANATION_HEADER, explanationRows(explanation), {
        colors: this.colors,
      });
    }
    writeStdout(text);
  }

  allocList(queues: QueueView[]): void {
    writeStdout(allocListTable(queues, { colors: this.colors }));
  }

  allocInfo(allocations: AllocationView[]): void {
    writeStdout(allocInfoTable(allocations, { colors: this.colors }));
  }

  outputLogSummary(summary: OutputLogSummary): void {
    const sizes = (stdout: number, stderr: number) =>
      `${formatStreamSize(stdout)} / ${formatStreamSize(stderr)}`;
    writeStdout(renderVerticalTable([
      ["Path", summary.path],
      ["Files", String(summary.files)],
      ["Jobs", String(summary.jobs)],
      ["Tasks", String(summary.tasks)],
      ["Opened streams", String(summary.opened)],
      ["Stdout/stderr size", sizes(summary.stdoutBytes, summary.stderrBytes)],
      ["Superseded streams", String(summary.superseded)],
      [
        "Superseded stdout/stderr size",
        sizes(summary.supersededStdoutBytes, summary.supersededStderrBytes),
      ],
    ], { colors: this.colors }));
  }

  outputLogExport(tasks: ExportedTaskOutput[]): void {
    writeStdout(toSortedJson(tasks) + "\n");
  }

  error(error: unknown): void {
    writeStderr(`${formatErrorChain(error)}\n`);
  }

  #jobTables(job: JobDetailView): string {
    const rows: [string, Cell][] = [["ID", String(job.id)], ["Name", job.name]];
    if (job.taskCount === 1) {
      rows.push(["State", stateCell(job.tasks[0]?.state ?? job.state)]);
    } else {
      const lines = [progressBar(job.counts, job.taskCount), ...countLines(job.counts)];
      rows.push(["State", lines.map((line) => `${line}\n`).join("").trimEnd()]);
    }
    rows.push(
      ["Cancel Reason", job.cancelReason ?? ""],
      ["Session", job.isOpen ? "open" : "closed"],
      ["Tasks", `${job.taskCount}; Ids: ${taskIdsText(job)}`],
      ["Workers", workersText(job)],
    );
    if (job.submits.length === 1) {
      const template = job.submits[0].template;
      rows.push(
        ["Resources", resourcesText(template)],
        ["Pin", template.pin ?? "none"],
        ["Priority", String(template.priority)],
        ["Command", template.args.map(wrap80).join("\n")],
        ["Stdout", markStreamed(template, template, "<Stream>").stdout ?? "<None>"],
        ["Stderr", markStreamed(template, template, "<Stream>").stderr ?? "<None>"],
        [
          "Environment",
          Object.entries(template.env)
            .filter(([key]) => !key.startsWith("HQ_"))
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([key, value]) => `${key}=${value}`)
            .join("\n"),
        ],
        ["Working directory", template.cwd],
        [
          "Task time limit",
          template.timeLimitMs === null ? "None" : formatDuration(template.timeLimitMs),
        ],
        ["Crash limit", String(template.crashLimit)],
      );
    }
    rows.push(["Submission date", formatCliDate(job.submittedMs)]);
    if (job.submits.length === 1) {
      rows.push(["Submission directory", job.submits[0].template.submitDir]);
    }
    rows.push(["Makespan", formatMakespan((job.completedMs ?? Date.now()) - job.submittedMs)]);
    let text = renderVerticalTable(rows, { colors: this.colors });
    const failed = job.tasks.filter((task) => task.state === "failed");
    if (failed.length > 0) {
      const shown = failed.slice(0, 5);
      text += renderHorizontalTable(
        ["Task ID", "Worker", "Error"],
        shown.map((task) => [
          String(task.id),
          task.workerId === null ? "" : job.workerHostnames[task.workerId] ?? "",
          { text: task.error ?? "", color: "red" },
        ]),
        { colors: this.colors },
      );
      text += failed.length > shown.length
        ? `${failed.length} tasks failed. (${shown.length} shown)\n`
        : `${failed.length} tasks failed.\n`;
    }
    return text;
  }

  #workerTable(view: WorkerView): string {
    const config = view.configuration;
    const optionalDuration = (ms: number | null) => (ms === null ? "None" : formatDuration(ms));
    const last = view.lastTaskStarted;
    const rows: [string, Cell][] = [
      ["Worker", String(view.id)],
      ["State", workerState(view)],
      ["Hostname", config.hostname],
      // Quoted, as HyperQueue prints it (spec §4.5 quirk).
      ["Started", JSON.stringify(formatJsonTimestamp(view.startedMs))],
      ["Data provider", config.listenAddress],
      ["Working directory", config.workDir],
      ["Heartbeat", formatDuration(config.heartbeatIntervalMs)],
      ["Idle timeout", optionalDuration(config.idleTimeoutMs)],
      ["Overview interval", optionalDuration(config.overviewIntervalMs)],
      ["Resources", formatResourcesLines(config.resources)],
      ["Time Limit", optionalDuration(config.timeLimitMs)],
      ["Process pid", config.pid > 0 ? String(config.pid) : "N/A"],
      ["Group", config.group],
      ["Manager", managerWord(config.manager)],
      ["Manager Job ID", config.manager?.allocationId ?? "N/A"],
      [
        "Last task started",
        last
          ? `${last.jobId}@${last.taskId}; Time: ${
            JSON.stringify(formatJsonTimestamp(last.timeMs))
          }`
          : "",
      ],
    ];
    if (view.runtimeInfo) {
      const info = view.runtimeInfo;
      let text = `assigned tasks: ${info.assignedTasks}`;
      if (info.runningTasks > 0) text += `; running tasks: ${info.runningTasks}`;
      if (info.isReserved) text += "; reserved for a multi-node task";
      rows.push(["Runtime Info", text]);
    }
    return renderVerticalTable(rows, { colors: this.colors });
  }

  finish(): void {}
}

const encoder = new TextEncoder();

/** Error text for a user; a closed stderr is ignored. */
export function writeStderr(text: string): void {
  try {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
  } catch {
    // Nowhere left to report to.
  }
}

const log = logger("client");

function truncateMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, 24)}...${text.slice(text.length - 23)}`;
}

function makespanOf(task: TaskView): string {
  if (task.startedMs === null) return "";
  return formatMakespan((task.finishedMs ?? Date.now()) - task.startedMs);
}

/** `0-2`, or `0-10:2` for a single stepped array, else merged sorted ids. */
function taskIdsText(job: JobDetailView): string {
  if (job.submits.length === 1 && job.submits[0].ids.length === 1) {
    const [start, end, step] = job.submits[0].ids[0];
    if (step > 1 && end > start) return `${start}-${end}:${step}`;
  }
  return formatIdList(job.tasks.map((task) => task.id));
}

/** The hostname of the task's worker; one line per node for a multi-node task. */
function workerCell(job: JobDetailView, task: TaskView): string {
  return workerIdsOf(task).map((id) => job.workerHostnames[id] ?? "").join("\n");
}

/** The task's workers: every node of a multi-node task, else its one worker, if any. */
function workerIdsOf(task: TaskView): number[] {
  return task.nodeIds ?? (task.workerId === null ? [] : [task.workerId]);
}

/** HyperQueue's `Workers` row: `w1,w2`, or `w1,w2, … (N total)`, every node counted. */
function workersText(job: JobDetailView): string {
  const ids = new Set<number>();
  for (const task of job.tasks) {
    for (const id of workerIdsOf(task)) ids.add(id);
  }
  const names = [...ids].sort((a, b) => a - b).map((id) => job.workerHostnames[id] ?? "N/A");
  if (names.length <= 2) return names.join(",");
  return `${names.slice(0, 2).join(",")}, … (${names.length} total)`;
}

function wrap80(text: string): string {
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 80) lines.push(text.slice(i, i + 80));
  return lines.length === 0 ? "" : lines.join("\n");
}
