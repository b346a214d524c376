/**
 * Full checks of a client request before the server journals or applies any of it. The transport's
 * shape check (`isClientMessage`) only proves a message is a request; an authenticated client can
 * still send values that would loop forever (a range with step 0), fail after being journaled and
 * then fail every restart (`ids: [null]`), or expand into billions of ids. Such a request gets a
 * clear error back and changes nothing.
 */
import { HqError } from "../common/errors.ts";
import { rangesOverlap } from "../common/id_selector.ts";
import type { IdRange } from "../common/id_ranges.ts";
import { TASK_STATES } from "../common/job_types.ts";
import { isRecord } from "../common/protocol.ts";
import type { ClientRequest } from "../common/protocol.ts";
import {
  type ResourceDescriptorItem,
  validateResourceDescriptor,
} from "../common/resources/resource_descriptor.ts";

/**
 * Most tasks one job may hold. Past it a job's records stop fitting their caps: `job info` of ~5.4M
 * tasks exceeds the 128 MiB frame limit and a cancel record of ~30M tasks the 256 MiB record limit.
 */
export const MAX_JOB_TASKS = 4_000_000;

/** Largest task or job id (ids are u32, jobs spec §2). */
export const MAX_ID = 0xffff_ffff;

/** Most ranges in one id selector or one submit's ids. */
export const MAX_RANGES = 100_000;

/** Longest job name, in characters. */
export const MAX_NAME_LENGTH = 4096;

/** Most request variants of one task (resources spec §3.6). */
const MAX_VARIANTS = 32;

/** A request the server refuses before doing anything with it. */
export class InvalidRequestError extends HqError {}

const JOB_STATES: ReadonlySet<string> = new Set([...TASK_STATES, "opened"]);
const POLICIES: ReadonlySet<string> = new Set([
  "compact",
  "compact!",
  "tight",
  "tight!",
  "scatter",
  "all",
]);

/** Throws `InvalidRequestError` naming the first bad value of `request`. */
export function validateClientRequest(request: ClientRequest): void {
  const r = request as unknown as Record<string, unknown>;
  switch (request.type) {
    case "worker-info":
    case "worker-stop":
    case "job-info":
    case "job-close":
    case "job-cancel":
    case "job-wait":
      checkSelector(r.selector, "selector");
      break;
    case "job-forget":
      checkSelector(r.selector, "selector");
      checkStates(r.states, TASK_STATES);
      break;
    case "job-list":
      if (r.selector !== undefined) checkSelector(r.selector, "selector");
      if (r.states !== undefined) checkStates(r.states, JOB_STATES);
      break;
    case "job-open":
      checkName(r.name);
      checkMaxFails(r.maxFails);
      break;
    case "notify-subscribe":
      check(
        Array.isArray(r.jobIds) && r.jobIds.length <= MAX_RANGES,
        `"jobIds" must hold at most ${MAX_RANGES} ids`,
      );
      break;
    case "task-explain":
      checkSelector(r.job, "job");
      checkId(r.taskId, "taskId");
      break;
    case "submit":
      checkSubmit(r);
      break;
    case "submit-graph":
      checkGraphSubmit(r);
      break;
    case "alloc-add":
    case "alloc-dry-run":
      checkQueueParams(r.params as Record<string, unknown>);
      break;
  }
}

/** `hq alloc add`'s parameters are journaled: each must be what the allocator expects. */
function checkQueueParams(p: Record<string, unknown>): void {
  check(p.manager === "pbs" || p.manager === "slurm", `"manager" must be "pbs" or "slurm"`);
  check(isFinite(p.timeLimitMs) && p.timeLimitMs > 0, `"timeLimitMs" must be a positive number`);
  for (const field of ["backlog", "maxWorkersPerAlloc"]) {
    check(isInteger(p[field]) && p[field] >= 1, `"${field}" must be a positive integer`);
  }
  check(
    p.maxWorkerCount === null || (isInteger(p.maxWorkerCount) && p.maxWorkerCount >= 1),
    `"maxWorkerCount" must be null or a positive integer`,
  );
  check(p.name === null || checkedName(p.name), `"name" must be null or a name`);
  check(
    isFinite(p.minUtilization) && p.minUtilization >= 0 && p.minUtilization <= 1,
    `"minUtilization" must be in [0, 1]`,
  );
  for (const field of ["additionalArgs", "workerArgs"]) {
    check(isStringList(p[field]), `"${field}" must be a list of strings`);
  }
  for (const field of ["workerStartCmd", "workerStopCmd", "workerWrapCmd"]) {
    check(p[field] === null || typeof p[field] === "string", `"${field}" must be null or text`);
  }
  check(isFinite(p.idleTimeoutMs) && p.idleTimeoutMs >= 0, `"idleTimeoutMs" must be >= 0`);
  check(
    p.workerTimeLimitMs === null ||
      (isFinite(p.workerTimeLimitMs) && p.workerTimeLimitMs > 0 &&
        p.workerTimeLimitMs <= (p.timeLimitMs as number)),
    `"workerTimeLimitMs" must be null or a positive number up to "timeLimitMs"`,
  );
  check(
    p.cliResources === null || isResourceList(p.cliResources),
    `"cliResources" must be null or a list of resources`,
  );
  const texts = p.cliResourceTexts;
  check(
    isRecord(texts) && (texts.cpus === null || typeof texts.cpus === "string") &&
      isStringList(texts.resources),
    `"cliResourceTexts" must hold the resource texts`,
  );
}

function isResourceList(value: unknown): boolean {
  if (!Array.isArray(value) || !value.every(isResourceItem)) return false;
  try {
    validateResourceDescriptor({
      resources: value as ResourceDescriptorItem[],
      coupling: { weights: [] },
    });
    return true;
  } catch {
    return false;
  }
}

function isResourceItem(item: unknown): boolean {
  if (!isRecord(item) || typeof item.name !== "string") return false;
  switch (item.kind) {
    case "list":
      return isStringList(item.values);
    case "groups":
      return Array.isArray(item.groups) && item.groups.every(isStringList);
    case "range":
      return isInteger(item.start) && isInteger(item.end);
    case "sum":
      return isInteger(item.size) && item.size >= 0;
    default:
      return false;
  }
}

function checkedName(value: unknown): boolean {
  return typeof value === "string" && value.length <= MAX_NAME_LENGTH;
}

function isStringList(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function checkSubmit(r: Record<string, unknown>): void {
  checkName(r.name);
  checkMaxFails(r.maxFails);
  check(r.jobId === null || isId(r.jobId), `"jobId" must be null or an id`);
  const autoIdCount = r.autoIdCount;
  check(
    autoIdCount === null || (isInteger(autoIdCount) && autoIdCount >= 1),
    `"autoIdCount" must be null or a positive integer`,
  );
  const submit = r.submit as Record<string, unknown>;
  const count = typeof autoIdCount === "number" ? autoIdCount : checkRanges(submit.ids, "ids");
  checkSubmitDescription(submit, count);
}

/** A graph submit (job file, API): each submit as a plain one, its dependencies ids. */
function checkGraphSubmit(r: Record<string, unknown>): void {
  checkName(r.name);
  checkMaxFails(r.maxFails);
  check(r.jobId === null || isId(r.jobId), `"jobId" must be null or an id`);
  let total = 0;
  for (const submit of r.submits as Array<Record<string, unknown>>) {
    const count = checkRanges(submit.ids, "ids");
    total += count;
    checkSubmitDescription(submit, count);
    const deps = submit.deps;
    check(
      deps === undefined ||
        (Array.isArray(deps) && deps.length <= count &&
          deps.every((list) => Array.isArray(list) && list.every(isId))),
      `"deps" must hold lists of task ids`,
    );
  }
  check(total <= MAX_JOB_TASKS, `A job can hold at most ${MAX_JOB_TASKS} tasks`);
}

function checkSubmitDescription(submit: Record<string, unknown>, count: number): void {
  if (count > MAX_JOB_TASKS) {
    throw new InvalidRequestError(
      `A job can hold at most ${MAX_JOB_TASKS.toLocaleString("en-US")} tasks, this submit has ${
        count.toLocaleString("en-US")
      }`,
    );
  }
  check(count >= 1, "A submit must have at least one task");
  const entries = submit.entries;
  check(
    entries === null ||
      (Array.isArray(entries) && entries.length === count &&
        entries.every((entry) => typeof entry === "string" || entry instanceof Uint8Array)),
    `"entries" must be null or one string (or bytes) per task`,
  );
  checkTemplate(submit.template as Record<string, unknown>);
}

function checkTemplate(t: Record<string, unknown>): void {
  check(
    Array.isArray(t.args) && t.args.length >= 1 && t.args.every((arg) => typeof arg === "string"),
    `"args" must be a non-empty list of strings`,
  );
  check(
    isRecord(t.env) && Object.values(t.env).every((value) => typeof value === "string"),
    `"env" must map names to strings`,
  );
  for (const field of ["cwd", "submitDir"]) {
    check(typeof t[field] === "string", `"${field}" must be a string`);
  }
  for (const field of ["stdout", "stderr"]) {
    check(t[field] === null || typeof t[field] === "string", `"${field}" must be null or a path`);
  }
  for (const field of ["removeStdoutIfFinished", "removeStderrIfFinished", "taskDir"]) {
    check(typeof t[field] === "boolean", `"${field}" must be a boolean`);
  }
  check(t.stdin === null || t.stdin instanceof Uint8Array, `"stdin" must be null or bytes`);
  const stream = t.stream;
  check(
    stream === undefined || stream === null ||
      (isRecord(stream) && typeof stream.dir === "string" &&
        typeof stream.stdout === "boolean" && typeof stream.stderr === "boolean"),
    `"stream" must be null or a directory with its channels`,
  );
  checkResources(t.resources, "resources");
  check(isFinite(t.weight), `"weight" must be a number`);
  check(isInteger(t.nodes) && t.nodes >= 0, `"nodes" must be a non-negative integer`);
  check(
    t.timeLimitMs === null || (isFinite(t.timeLimitMs) && t.timeLimitMs >= 0),
    `"timeLimitMs" must be null or a non-negative number`,
  );
  check(isFinite(t.timeRequestMs) && t.timeRequestMs >= 0, `"timeRequestMs" must be >= 0`);
  check(isInteger(t.priority), `"priority" must be an integer`);
  check(
    (isInteger(t.crashLimit) && t.crashLimit >= 0) || t.crashLimit === "never-restart" ||
      t.crashLimit === "unlimited",
    `"crashLimit" must be a count, "never-restart" or "unlimited"`,
  );
  check(t.pin === null || t.pin === "taskset" || t.pin === "omp", `"pin" is invalid`);
  if (t.variants !== undefined) {
    check(
      Array.isArray(t.variants) && t.variants.length >= 1 && t.variants.length <= MAX_VARIANTS,
      `"variants" must hold 1 to ${MAX_VARIANTS} variants`,
    );
    (t.variants as unknown[]).forEach((variant, i) => {
      check(isRecord(variant), `"variants[${i}]" must be an object`);
      const v = variant as Record<string, unknown>;
      checkResources(v.resources, `variants[${i}].resources`);
      check(isFinite(v.timeRequestMs) && v.timeRequestMs >= 0, `"variants[${i}]" is invalid`);
      check(isFinite(v.weight), `"variants[${i}]" is invalid`);
    });
  }
}

function checkResources(value: unknown, what: string): void {
  check(Array.isArray(value), `"${what}" must be a list`);
  (value as unknown[]).forEach((entry, i) => {
    const e = isRecord(entry) ? entry : null;
    check(
      e !== null && typeof e.name === "string" && e.name.length > 0 && isInteger(e.amount) &&
        e.amount >= 0 && typeof e.policy === "string" && POLICIES.has(e.policy),
      `"${what}[${i}]" must be a resource request {name, amount, policy}`,
    );
  });
}

/**
 * Checks an id selector: `all`, `last`, or at most `MAX_RANGES` non-overlapping ranges of ids with
 * `start <= end` and a step of at least 1.
 */
function checkSelector(value: unknown, what: string): void {
  check(isRecord(value), `"${what}" must be an id selector`);
  const selector = value as Record<string, unknown>;
  if (selector.type === "all" || selector.type === "last") return;
  check(selector.type === "ids", `"${what}" must be an id selector`);
  checkRanges(selector.ranges, what);
}

/** Checks a list of id ranges; returns how many ids they hold. */
function checkRanges(value: unknown, what: string): number {
  check(
    Array.isArray(value) && value.length <= MAX_RANGES,
    `"${what}" must be a list of at most ${MAX_RANGES} ranges`,
  );
  let count = 0;
  for (const range of value as unknown[]) {
    check(
      Array.isArray(range) && range.length === 3 && range.every(isId),
      `"${what}" must hold ranges of ids [start, end, step] in 0..${MAX_ID}`,
    );
    const [start, end, step] = range as IdRange;
    if (end < start || step < 1) {
      throw new InvalidRequestError(
        `Invalid range ${start}-${end}:${step} in "${what}": the end must not be below the start and the step must be at least 1`,
      );
    }
    count += Math.floor((end - start) / step) + 1;
  }
  if (rangesOverlap(value as IdRange[])) {
    throw new InvalidRequestError(`Ranges overlap in "${what}"`);
  }
  return count;
}

function checkStates(value: unknown, known: Iterable<string>): void {
  const states = new Set(known);
  check(
    Array.isArray(value) && value.every((state) => states.has(state)),
    `"states" must be a list of states`,
  );
}

function checkName(value: unknown): void {
  check(
    typeof value === "string" && value.length <= MAX_NAME_LENGTH,
    `The job name must be a string of at most ${MAX_NAME_LENGTH} characters`,
  );
}

function checkMaxFails(value: unknown): void {
  check(
    value === null || (isInteger(value) && value >= 0),
    `"maxFails" must be null or a non-negative integer`,
  );
}

function checkId(value: unknown, what: string): void {
  check(isId(value), `"${what}" must be an id in 0..${MAX_ID}`);
}

function isId(value: unknown): value is number {
  return isInteger(value) && value >= 0 && value <= MAX_ID;
}

function isInteger(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

function isFinite(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvalidRequestError(`Invalid request: ${message}`);
}
