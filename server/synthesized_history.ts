/**
 * `hq journal replay` on a server without a journal: the history its memory can still tell
 * (journal spec §1.5) — server start, workers, per job `job-open` and a `job-created` per submit,
 * task starts and ends (equal-time cancels and aborts merged), completions, lost workers — stably
 * sorted by time.
 */
import type { JournalEvent, JournalTaskRef } from "../common/journal/journal_events.ts";
import type { SchedulerCore } from "./scheduler/scheduler_core.ts";

export function synthesizeHistory(
  core: SchedulerCore,
  serverUid: string,
  startedMs: number,
): Array<[number, JournalEvent]> {
  const records: Array<[number, JournalEvent]> = [[startedMs, {
    type: "server-start",
    serverUid,
  }]];
  for (const worker of core.workers.values()) {
    records.push([worker.startedMs, {
      type: "worker-connected",
      workerId: worker.id,
      configuration: worker.configuration,
    }]);
    if (worker.ended) {
      records.push([worker.ended.atMs, {
        type: "worker-lost",
        workerId: worker.id,
        reason: worker.ended.reason,
      }]);
    }
  }
  for (const job of core.jobs.values()) {
    const at = job.submittedMs;
    records.push([at, { type: "job-open", jobId: job.id, name: job.name, maxFails: job.maxFails }]);
    // Stopped tasks by kind and time, merged into one event each.
    const stopped = new Map<string, [number, JournalTaskRef[]]>();
    let created: Extract<JournalEvent, { type: "job-created" }> | null = null;
    for (const submit of job.submits) {
      if (created && submit.description.continuesGraph) {
        // One event per graph request, as the server journals it.
        (created.more ??= []).push(submit.description);
      } else {
        created = {
          type: "job-created",
          jobId: job.id,
          name: job.name,
          maxFails: job.maxFails,
          attached: true,
          submit: submit.description,
        };
        records.push([at, created]);
      }
      for (let index = 0; index < submit.ids.count; index++) {
        const task = submit.taskView(index);
        if (task.startedMs !== null) {
          records.push([task.startedMs, {
            type: "task-started",
            jobId: job.id,
            taskId: task.id,
            instanceId: task.instanceId,
            workerIds: task.nodeIds ?? (task.workerId === null ? [] : [task.workerId]),
            variant: 0,
          }]);
        }
        if (task.state === "finished" || task.state === "failed") {
          records.push([
            task.finishedMs ?? task.startedMs ?? at,
            task.state === "finished"
              ? { type: "task-finished", jobId: job.id, taskId: task.id }
              : { type: "task-failed", jobId: job.id, taskId: task.id, error: task.error ?? "" },
          ]);
        } else if (task.state === "canceled" || task.state === "aborted") {
          const time = job.completedMs ?? at;
          const key = `${task.state}:${time}`;
          const entry = stopped.get(key) ?? [time, []];
          entry[1].push([job.id, task.id]);
          stopped.set(key, entry);
        }
      }
    }
    for (const [key, [time, tasks]] of stopped) {
      const type = key.startsWith("canceled") ? "tasks-canceled" : "tasks-aborted";
      records.push([time, { type, tasks }]);
    }
    if (job.isCompleted && job.completedMs !== null) {
      records.push([job.completedMs, { type: "job-completed", jobId: job.id }]);
    }
  }
  // Array.prototype.sort is stable: equal times keep the order above.
  return records.sort((a, b) => a[0] - b[0]);
}
