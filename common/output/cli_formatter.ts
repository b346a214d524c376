import { formatDuration } from "../duration.ts";
import { formatErrorChain } from "../errors.ts";
import type { ServerInfo, WorkerView } from "../protocol.ts";
import {
  describeResources,
  formatResourcesLine,
  formatResourcesLines,
} from "../resources/describe_resources.ts";
import type { ResourceDescriptor } from "../resources/resource_descriptor.ts";
import { formatCliDate, formatJsonTimestamp } from "../timestamp.ts";
import type { Formatter } from "./formatter.ts";
import { writeStdout } from "./stdout.ts";
import { type Cell, renderHorizontalTable, renderVerticalTable } from "./table.ts";
import { managerWord, workerState } from "./worker_words.ts";

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

  error(error: unknown): void {
    writeStderr(`${formatErrorChain(error)}\n`);
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
