/**
 * Client requests about jobs: submit, open/close, list, info, cancel, forget and wait. Chooses job
 * ids, checks what the core must not see (unknown or closed jobs, clashing task ids), turns the
 * rest into core events, and answers waiters when their jobs complete.
 */
import { IdRanges } from "../common/id_ranges.ts";
import { selectIds } from "../common/id_selector.ts";
import {
  jobState,
  requestVariants,
  type SubmitDescription,
  type TaskState,
} from "../common/job_types.ts";
import { resolveAtSubmit, resolveStreamDir } from "../common/placeholders.ts";
import type {
  ClientRequest,
  IdSelector,
  JobActionResult,
  ServerResponse,
} from "../common/protocol.ts";
import { explainTask } from "./scheduler/explain_task.ts";
import type { JobRecord } from "./scheduler/job_record.ts";
import type { JournalEvent } from "../common/journal/journal_events.ts";
import { noteForgottenTasks } from "./memory_release.ts";
import { MAX_ID, MAX_JOB_TASKS } from "./request_validation.ts";
import { ServerJournal } from "./server_journal.ts";
import type { WorkerHub } from "./worker_hub.ts";

interface Waiter {
  jobIds: number[];
  withoutClose: boolean;
  /** `jobIds` before this index are completed for good (closed jobs never reopen). */
  settled: number;
  /** The client connection that waits; its waiters are dropped when it goes away. */
  owner: object | null;
  resolve: (response: ServerResponse) => void;
}

export class JobService {
  #nextJobId = 1;
  #waiters = new Set<Waiter>();
  #waitersByOwner = new Map<object, Set<Waiter>>();

  constructor(
    private readonly workers: WorkerHub,
    private readonly serverUid: string,
    private readonly journal: ServerJournal = ServerJournal.inMemory(),
  ) {
    workers.onChange = () => this.#wakeWaiters();
  }

  /** The highest job id handed out, restored ones included; 0 if none. */
  get lastJobId(): number {
    return this.#nextJobId - 1;
  }

  /** Job ids continue after those a journal restored (dropped jobs' ids included). */
  continueJobIdsFrom(nextJobId: number): void {
    this.#nextJobId = Math.max(this.#nextJobId, nextJobId);
  }

  get #jobs(): ReadonlyMap<number, JobRecord> {
    return this.workers.core.jobs;
  }

  /** `job wait`s not yet answered. */
  get pendingWaits(): number {
    return this.#waiters.size;
  }

  /**
   * Answers a job request; `job-wait` resolves only once the jobs are done, or when `owner` (the
   * client connection) is passed to `dropWaiters`.
   */
  handle(
    request: ClientRequest,
    owner: object | null = null,
  ): ServerResponse | Promise<ServerResponse> {
    switch (request.type) {
      case "submit":
        return this.#submit(request);
      case "submit-graph":
        return this.#submitGraph(request);
      case "job-open": {
        const jobId = this.#nextJobId++;
        const { name, maxFails } = request;
        return this.#persisted([{ type: "job-open", jobId, name, maxFails }], () => {
          this.workers.handle({
            type: "job-created",
            jobId,
            name,
            maxFails,
            isOpen: true,
            submit: null,
          });
          return { type: "job-created", jobId };
        });
      }
      case "job-list": {
        let jobs = request.selector === undefined
          ? [...this.#jobs.values()]
          : this.#select(request.selector).map((id) => this.#jobs.get(id)).filter((job) =>
            job !== undefined
          );
        const states = request.states;
        if (states !== undefined) {
          jobs = jobs.filter((job) =>
            (request.open === true && job.isOpen) ||
            states.includes(jobState(job.counts, job.isOpen))
          );
        }
        return {
          type: "jobs",
          jobs: jobs.map((job) => job.summary()).sort((a, b) => a.id - b.id),
          totalCount: this.#jobs.size,
        };
      }
      case "job-info": {
        const ids = this.#select(request.selector);
        const hostnames = this.#hostnames();
        return {
          type: "job-details",
          jobs: ids.filter((id) => this.#jobs.has(id)).map((id) =>
            this.#jobs.get(id)!.detail(hostnames)
          ),
          notFound: ids.filter((id) => !this.#jobs.has(id)),
        };
      }
      case "job-cancel":
        return this.#cancel(request.selector, request.reason);
      case "job-close":
        return this.#close(request.selector);
      case "job-forget":
        return { type: "job-actions", results: this.#forget(request.selector, request.states) };
      case "job-wait":
        return this.#wait(request.selector, request.withoutClose, owner);
      case "task-explain":
        return this.#explain(request.job, request.taskId);
      default:
        return { type: "error", message: `Unexpected request "${request.type}"` };
    }
  }

  #submit(
    request: Extract<ClientRequest, { type: "submit" }>,
  ): ServerResponse | Promise<ServerResponse> {
    const { jobId: targetJobId, name, maxFails } = request;
    let submit = request.submit;
    if (targetJobId === null) {
      const jobId = this.#nextJobId++;
      const resolved = this.#resolvePaths(submit, jobId);
      const event: JournalEvent = {
        type: "job-created",
        jobId,
        name,
        maxFails,
        attached: false,
        submit: resolved,
      };
      return this.#persisted([event], () => {
        this.workers.handle({
          type: "job-created",
          jobId,
          name,
          maxFails,
          isOpen: false,
          submit: resolved,
        });
        return { type: "job-created", jobId };
      });
    }
    const job = this.#jobs.get(targetJobId);
    if (!job) return { type: "error", message: `Job ${targetJobId} not found.` };
    if (!job.isOpen) return { type: "error", message: `Job ${targetJobId} is not opened.` };
    if (request.autoIdCount !== null) {
      if (job.maxTaskId() + request.autoIdCount > MAX_ID) {
        return { type: "error", message: `Task ids of job ${job.id} would exceed ${MAX_ID}` };
      }
      submit = {
        ...submit,
        ids: IdRanges.sequence(job.maxTaskId() + 1, request.autoIdCount).ranges.slice(),
      };
    }
    submit = this.#resolvePaths(submit, job.id);
    const ids = new IdRanges(submit.ids);
    if (job.taskCount + ids.count > MAX_JOB_TASKS) {
      return {
        type: "error",
        message: `A job can hold at most ${
          MAX_JOB_TASKS.toLocaleString("en-US")
        } tasks, job ${job.id} has ${job.taskCount.toLocaleString("en-US")}`,
      };
    }
    for (const existing of job.submits) {
      // Clashes are rare and arrays are ranges: compare the smaller side against the larger.
      const [small, large] = existing.ids.count < ids.count
        ? [existing.ids, ids]
        : [ids, existing.ids];
      for (const id of small) {
        if (large.has(id)) {
          return { type: "error", message: `Task ${id} already exists in job ${job.id}.` };
        }
      }
    }
    const attached = submit;
    const event: JournalEvent = {
      type: "job-created",
      jobId: job.id,
      name: job.name,
      maxFails: job.maxFails,
      attached: true,
      submit: attached,
    };
    return this.#persisted([event], () => {
      this.workers.handle({ type: "tasks-added", jobId: job.id, submit: attached });
      return { type: "job-created", jobId: job.id };
    });
  }

  /**
   * A task graph: a new job, or more tasks into an open one. Every task id must be new, and every
   * dependency name a task sent before it or one the job has (so no cycle can form); then all
   * parts are journaled together and added in order (resources spec §9.5, §10).
   */
  #submitGraph(
    request: Extract<ClientRequest, { type: "submit-graph" }>,
  ): ServerResponse | Promise<ServerResponse> {
    const { jobId: targetJobId } = request;
    let job: JobRecord | null = null;
    if (targetJobId !== null) {
      job = this.#jobs.get(targetJobId) ?? null;
      if (!job) return { type: "error", message: `Job ${targetJobId} not found.` };
      if (!job.isOpen) return { type: "error", message: `Job ${targetJobId} is not opened.` };
    }
    const sent = new Set<number>();
    for (const submit of request.submits) {
      const ids = new IdRanges(submit.ids);
      let index = 0;
      for (const id of ids) {
        if (sent.has(id)) return { type: "error", message: `Task ${id} is defined multiple times` };
        if (job?.findTask(id)) {
          return { type: "error", message: `Task ${id} already exists in job ${job.id}.` };
        }
        for (const dep of submit.deps?.[index] ?? []) {
          if (!sent.has(dep) && !job?.findTask(dep)) {
            return {
              type: "error",
              message: `Task ${id} is part of dependency cycle or has an invalid dependencies`,
            };
          }
        }
        sent.add(id);
        index++;
      }
    }
    const jobId = job?.id ?? this.#nextJobId++;
    const name = job?.name ?? request.name;
    const maxFails = job ? job.maxFails : request.maxFails;
    const submits = request.submits.map((submit, i) => {
      const resolved = this.#resolvePaths(submit, jobId);
      if (i > 0) resolved.continuesGraph = true;
      return resolved;
    });
    // One event for the whole graph, as users see one submit.
    const events: JournalEvent[] = [{
      type: "job-created",
      jobId,
      name,
      maxFails,
      attached: job !== null,
      submit: submits[0],
      ...(submits.length > 1 ? { more: submits.slice(1) } : {}),
    }];
    return this.#persisted(events, () => {
      submits.forEach((submit, i) => {
        if (job === null && i === 0) {
          const isOpen = false;
          this.workers.handle({ type: "job-created", jobId, name, maxFails, isOpen, submit });
        } else {
          this.workers.handle({ type: "tasks-added", jobId, submit });
        }
      });
      return { type: "job-created", jobId };
    });
  }

  /**
   * Journals a modifying request's events and, with a journal file, makes the change only once
   * they are on disk (journal spec §1.3): what cannot be persisted is refused (the rejection
   * becomes the error reply), never done without a record.
   */
  #persisted(
    events: JournalEvent[],
    apply: () => ServerResponse,
  ): ServerResponse | Promise<ServerResponse> {
    if (!this.journal.wanted || events.length === 0) return apply();
    for (const event of events) {
      if (!this.journal.record(event)) {
        return {
          type: "error",
          message: `Cannot journal the "${event.type}" event; nothing was changed`,
        };
      }
    }
    return this.journal.hasFile ? this.journal.flush().then(apply) : apply();
  }

  /** Step 1 of placeholder resolution (jobs spec §3), done once per submit. */
  #resolvePaths(submit: SubmitDescription, jobId: number): SubmitDescription {
    const template = submit.template;
    const paths = resolveAtSubmit(template, {
      jobId,
      submitDir: template.submitDir,
      serverUid: this.serverUid,
    });
    const stream = template.stream
      ? {
        ...template.stream,
        dir: resolveStreamDir(template.stream.dir, {
          jobId,
          submitDir: template.submitDir,
          serverUid: this.serverUid,
        }),
      }
      : template.stream;
    // Only the server says which submits continue a graph (`#submitGraph`).
    const { continuesGraph: _, ...rest } = submit;
    return { ...rest, template: { ...template, ...paths, stream } };
  }

  #cancel(selector: IdSelector, reason: string | null): ServerResponse | Promise<ServerResponse> {
    const ids = selector.type === "all"
      ? [...this.#jobs.values()].filter((job) => job.activeTasks > 0).map((job) => job.id)
      : this.#select(selector);
    const events: JournalEvent[] = ids.filter((jobId) => this.#jobs.get(jobId)?.activeTasks)
      .map((jobId) => ({ type: "job-cancel", jobId, reason }));
    return this.#persisted(events, () => ({
      type: "job-actions",
      results: ids.map((jobId): JobActionResult => {
        const job = this.#jobs.get(jobId);
        if (!job) return { jobId, outcome: "not-found" };
        const canceled = job.activeTasks;
        if (canceled === 0) return { jobId, outcome: "already-finished" };
        this.workers.handle({ type: "job-canceled", jobId, reason });
        return { jobId, outcome: "canceled", canceled, finished: job.counts.finished };
      }),
    }));
  }

  #close(selector: IdSelector): ServerResponse | Promise<ServerResponse> {
    const ids = selector.type === "all"
      ? [...this.#jobs.values()].filter((job) => job.isOpen).map((job) => job.id)
      : this.#select(selector);
    const events: JournalEvent[] = ids.filter((jobId) => this.#jobs.get(jobId)?.isOpen)
      .map((jobId) => ({ type: "job-close", jobId }));
    return this.#persisted(events, () => ({
      type: "job-actions",
      results: ids.map((jobId): JobActionResult => {
        const job = this.#jobs.get(jobId);
        if (!job) return { jobId, outcome: "not-found" };
        if (!job.isOpen) return { jobId, outcome: "already-closed" };
        this.workers.handle({ type: "job-closed", jobId });
        return { jobId, outcome: "closed" };
      }),
    }));
  }

  #forget(selector: IdSelector, states: TaskState[]): JobActionResult[] {
    return this.#select(selector).map((jobId): JobActionResult => {
      const job = this.#jobs.get(jobId);
      const state = job?.summary().state;
      if (!job || !job.isCompleted || !states.includes(state as TaskState)) {
        return { jobId, outcome: "ignored" };
      }
      this.workers.handle({ type: "job-forgotten", jobId });
      noteForgottenTasks(job.taskCount);
      return { jobId, outcome: "forgotten" };
    });
  }

  #wait(
    selector: IdSelector,
    withoutClose: boolean,
    owner: object | null,
  ): ServerResponse | Promise<ServerResponse> {
    const jobIds = this.#select(selector).filter((id) => this.#jobs.has(id));
    const waiter = { jobIds, withoutClose, settled: 0, owner } as Omit<Waiter, "resolve">;
    if (this.#isDone(waiter)) return { type: "ok" };
    return new Promise((resolve) => {
      const added = { ...waiter, resolve };
      this.#waiters.add(added);
      if (owner === null) return;
      const owned = this.#waitersByOwner.get(owner);
      if (owned) owned.add(added);
      else this.#waitersByOwner.set(owner, new Set([added]));
    });
  }

  /** Forgets the waits of a client that went away (nobody reads their answers any more). */
  dropWaiters(owner: object): void {
    const owned = this.#waitersByOwner.get(owner);
    if (!owned) return;
    this.#waitersByOwner.delete(owner);
    for (const waiter of owned) {
      this.#waiters.delete(waiter);
      waiter.resolve({ type: "error", message: "The client went away" });
    }
  }

  #wakeWaiters(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of this.#waiters) {
      if (!this.#isDone(waiter)) continue;
      this.#waiters.delete(waiter);
      if (waiter.owner !== null) {
        const owned = this.#waitersByOwner.get(waiter.owner);
        owned?.delete(waiter);
        if (owned?.size === 0) this.#waitersByOwner.delete(waiter.owner);
      }
      waiter.resolve({ type: "ok" });
    }
  }

  /**
   * Whether every job of the waiter is done. Jobs complete mostly in order, so the settled prefix
   * is skipped: checking stays cheap however many jobs one `job wait all` covers.
   */
  #isDone(waiter: Omit<Waiter, "resolve">): boolean {
    const ids = waiter.jobIds;
    while (waiter.settled < ids.length) {
      const job = this.#jobs.get(ids[waiter.settled]);
      if (job && !job.isCompleted) break;
      waiter.settled++;
    }
    for (let i = waiter.settled; i < ids.length; i++) {
      const job = this.#jobs.get(ids[i]);
      if (!job) continue;
      if (!(waiter.withoutClose ? job.activeTasks === 0 : job.isCompleted)) return false;
    }
    return true;
  }

  /** `last` is the highest id ever created, even if forgotten (spec §1). */
  #select(selector: IdSelector): number[] {
    if (selector.type === "last") return this.#nextJobId > 1 ? [this.#nextJobId - 1] : [];
    return selectIds(selector, [...this.#jobs.keys()].sort((a, b) => a - b));
  }

  /** `hq task explain` (resources spec §7), against the workers connected now. */
  #explain(selector: IdSelector, taskId: number): ServerResponse {
    const job = this.#jobs.get(this.#select(selector)[0] ?? -1);
    if (!job) return { type: "error", message: "Job not found" };
    const found = job.findTask(taskId);
    if (!found) return { type: "error", message: "Task not found" };
    const state = found.submit.taskView(found.index).state;
    if (state !== "waiting" && state !== "running") {
      return {
        type: "error",
        message: "Explain command works only for tasks in WAITING or RUNNING state",
      };
    }
    const core = this.workers.core;
    const template = found.submit.description.template;
    const explanation = explainTask({
      variants: requestVariants(template).map((variant) => ({
        resources: variant.resources,
        timeRequestMs: variant.timeRequestMs,
        nNodes: template.nodes,
      })),
      workers: [...core.workers.values()].filter((worker) => core.isRunning(worker.id)),
      nowMs: Date.now(),
      nTaskDeps: found.submit.description.deps?.[found.index]?.length ?? 0,
      nWaitingDeps: job.graph?.waitingDeps(found.submit.base + found.index) ?? 0,
    });
    return { type: "task-explain", jobId: job.id, taskId, explanation };
  }

  #hostnames(): Record<number, string> {
    const hostnames: Record<number, string> = {};
    for (const [id, worker] of this.workers.core.workers) {
      hostnames[id] = worker.configuration.hostname;
    }
    return hostnames;
  }
}
