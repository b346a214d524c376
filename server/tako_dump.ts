/**
 * The scheduler's state for `hq server debug-dump`, under HyperQueue's top-level `"tako"` key
 * (its scheduler crate): connected workers, worker groups, and the tasks not yet ended.
 */
import type { SchedulerCore } from "./scheduler/scheduler_core.ts";

export interface TakoDump {
  workers: unknown[];
  worker_groups: Array<{ name: string; worker_ids: number[] }>;
  tasks: unknown[];
}

export function takoDump(core: SchedulerCore): TakoDump {
  const workers: unknown[] = [];
  const groups = new Map<string, number[]>();
  for (const worker of core.workers.values()) {
    if (worker.ended !== null) continue;
    const { group, hostname } = worker.configuration;
    workers.push({
      id: worker.id,
      hostname,
      group,
      running_tasks: worker.runningTasks,
      assigned_tasks: [...worker.placements.keys()],
      exclusive: worker.exclusive,
    });
    groups.set(group, [...(groups.get(group) ?? []), worker.id]);
  }
  const tasks: unknown[] = [];
  for (const job of core.jobs.values()) {
    if (job.activeTasks === 0) continue;
    for (const submit of job.submits) {
      for (let index = 0; index < submit.ids.count; index++) {
        const view = submit.taskView(index);
        if (view.state !== "waiting" && view.state !== "running") continue;
        tasks.push({
          id: { job_id: job.id, job_task_id: view.id },
          state: view.state,
          instance_id: view.instanceId,
          workers: view.nodeIds ?? (view.workerId === null ? [] : [view.workerId]),
        });
      }
    }
  }
  return {
    workers,
    worker_groups: [...groups].map(([name, ids]) => ({ name, worker_ids: ids })),
    tasks,
  };
}
