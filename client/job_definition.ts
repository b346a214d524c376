/**
 * Job definitions (resources spec §9): the keys of a TOML job file, which the API takes as the
 * same object, checked and turned into the submits of one graph request. Tasks go out in a
 * topological order (dependencies first, otherwise file order); consecutive tasks of one
 * template share a submit, so a 100,000-task file of one command is one submit.
 */
import { HqError } from "../common/errors.ts";
import { parseIdSelector } from "../common/id_selector.ts";
import { type IdRange, IdRanges } from "../common/id_ranges.ts";
import { parseHumantime } from "../common/duration.ts";
import type {
  CrashLimit,
  RequestVariant,
  SubmitDescription,
  TaskTemplate,
} from "../common/job_types.ts";
import {
  DEFAULT_CPU_REQUEST,
  parseResourceRequestArg,
  type ResourceRequestEntry,
} from "../common/resources/resource_request.ts";

/** `stdout`/`stderr` of a task: a path, `"none"`, or a path with what to do at the end. */
export type OutputDefinition = string | { path: string; on_close: "none" | "rm-if-finished" };

/** One resource variant (`[[task.request]]`). */
export interface RequestDefinition {
  /** Amounts: an integer `n` (`n compact`), a float, or request text (`"2 compact!"`, `"all"`). */
  resources?: Record<string, number | string>;
  /** Humantime, e.g. `"10m"`. */
  time_request?: string;
  n_nodes?: number;
  weight?: number;
}

/** What every task of a job file may set (`[[task]]`, `[array]`). */
export interface TaskOptions {
  command: string[];
  env?: Record<string, string>;
  cwd?: string;
  stdout?: OutputDefinition;
  stderr?: OutputDefinition;
  stdin?: string;
  pin?: "none" | "taskset" | "omp";
  task_dir?: boolean;
  /** Humantime, e.g. `"1m 10s"`. */
  time_limit?: string;
  priority?: number;
  crash_limit?: number | string;
  request?: RequestDefinition[];
}

export interface TaskDefinition extends TaskOptions {
  id?: number;
  /** Ids of the tasks this one waits for (in the file, or already in the open job). */
  deps?: number[];
}

export interface ArrayDefinition extends Omit<TaskOptions, "command"> {
  command: string[];
  /** `--array` syntax, e.g. `"1,2,50-100"`. */
  ids?: string;
  entries?: string[];
}

/** A job file's content (resources spec §9.1), or the same object given to the API. */
export interface JobDefinition {
  name?: string;
  max_fails?: number;
  stream?: string;
  data_layer?: boolean;
  task?: TaskDefinition[];
  array?: ArrayDefinition;
}

/** A job definition that breaks a rule of resources spec §9.5. */
export class JobDefinitionError extends HqError {}

export interface JobSubmits {
  name: string;
  maxFails: number | null;
  submits: SubmitDescription[];
}

export interface BuildOptions {
  /** The client's working directory (`%{SUBMIT_DIR}`, the default cwd). */
  submitDir: string;
  /**
   * Into an open job: dependencies on ids outside the definition are left to the server, which
   * accepts tasks the job already has (beyond HyperQueue, whose CLI refuses them).
   * @default {false}
   */
  openJob?: boolean;
}

const DEFAULT_STDOUT = "%{CWD}/job-%{JOB_ID}/%{TASK_ID}.stdout";
const DEFAULT_STDERR = "%{CWD}/job-%{JOB_ID}/%{TASK_ID}.stderr";
const MAX_VARIANTS = 32;
const U32_MAX = 0xffff_ffff;

const TOP_KEYS = ["name", "max_fails", "stream", "data_layer", "task", "array"];
const OPTION_KEYS = [
  "command",
  "env",
  "cwd",
  "stdout",
  "stderr",
  "stdin",
  "pin",
  "task_dir",
  "time_limit",
  "priority",
  "crash_limit",
  "request",
];
const TASK_KEYS = ["id", "deps", ...OPTION_KEYS];
const ARRAY_KEYS = ["ids", "entries", ...OPTION_KEYS];
const REQUEST_KEYS = ["resources", "time_request", "n_nodes", "weight"];

/** Checks a job definition and turns it into the submits of one `submit-graph` request. */
export function buildJobSubmits(definition: unknown, options: BuildOptions): JobSubmits {
  const top = record(definition, "the job definition");
  checkKeys(top, TOP_KEYS, "the job definition");
  const name = top.name === undefined ? "" : text(top.name, "name");
  if (/[\n\t]/.test(name)) throw new JobDefinitionError("name cannot have a newline or a tab");
  const maxFails = top.max_fails === undefined ? null : u32(top.max_fails, "max_fails");
  const stream = top.stream === undefined ? null : text(top.stream, "stream");
  if (top.data_layer !== undefined) bool(top.data_layer, "data_layer");
  const tasks = top.task === undefined ? null : list(top.task, "task");
  if (tasks !== null && tasks.length === 0) throw new JobDefinitionError("No tasks defined");
  if (tasks !== null && top.array !== undefined) {
    throw new JobDefinitionError("Definition of array job and individual task cannot be mixed");
  }
  const context = { submitDir: options.submitDir, stream };
  if (top.array !== undefined) {
    return { name, maxFails, submits: [arraySubmit(top.array, context)] };
  }
  if (tasks === null) throw new JobDefinitionError("No tasks defined");
  return { name, maxFails, submits: graphSubmits(tasks, context, options.openJob ?? false) };
}

interface TemplateContext {
  submitDir: string;
  stream: string | null;
}

function arraySubmit(value: unknown, context: TemplateContext): SubmitDescription {
  const array = record(value, "array");
  checkKeys(array, ARRAY_KEYS, "array");
  const template = buildTemplate(array, context, "array");
  const entries = array.entries === undefined
    ? null
    : list(array.entries, "array.entries").map((entry, i) => text(entry, `array.entries[${i}]`));
  let ids: IdRange[];
  if (array.ids !== undefined) {
    ids = parseArrayIds(text(array.ids, "array.ids"));
    if (entries !== null && new IdRanges(ids).count !== entries.length) {
      throw new JobDefinitionError("Items 'ids' and 'entries' does not match");
    }
  } else if (entries !== null) {
    ids = IdRanges.sequence(0, entries.length).ranges.slice();
  } else {
    throw new JobDefinitionError("One of attributes of array must be defined: 'ids', 'entries'");
  }
  return { template, ids, entries };
}

function parseArrayIds(raw: string): IdRange[] {
  let ranges: IdRange[];
  try {
    const selector = parseIdSelector(raw);
    if (selector.type !== "ids") throw new Error(`expected ids, got "${raw}"`);
    ranges = selector.ranges;
  } catch (error) {
    throw new JobDefinitionError(
      `Invalid value of array.ids "${raw}": ${error instanceof Error ? error.message : error}`,
    );
  }
  const seen = new Set<number>();
  for (const id of new IdRanges(ranges)) {
    if (seen.has(id)) {
      throw new JobDefinitionError(`Invalid value of array.ids "${raw}": ranges overlap`);
    }
    seen.add(id);
  }
  return ranges;
}

/**
 * `[[task]]` tables: ids (explicit, then automatic after the largest, §9.4), dependencies in
 * the file (or left to the server for an open job), a depth-first topological order that keeps
 * the file's order where it is one already, then runs of one template as one submit each.
 */
function graphSubmits(
  tasks: unknown[],
  context: TemplateContext,
  openJob: boolean,
): SubmitDescription[] {
  const tables = tasks.map((task, i) => {
    const table = record(task, `task[${i}]`);
    checkKeys(table, TASK_KEYS, `task[${i}]`);
    return table;
  });
  const explicit = tables.map((table, i) =>
    table.id === undefined ? -1 : u32(table.id, `task[${i}].id`)
  );
  let nextId = explicit.reduce((max, id) => Math.max(max, id), 0) + 1;
  const ids = explicit.map((id) => id >= 0 ? id : nextId++);
  const indexById = new Map<number, number>();
  ids.forEach((id, i) => {
    if (indexById.has(id)) throw new JobDefinitionError(`Task ${id} is defined multiple times`);
    indexById.set(id, i);
  });
  const deps = tables.map((table, i) =>
    table.deps === undefined
      ? []
      : list(table.deps, `task[${i}].deps`).map((dep, k) => u32(dep, `task[${i}].deps[${k}]`))
  );
  const invalid = (i: number) =>
    new JobDefinitionError(
      `Task ${ids[i]} is part of dependency cycle or has an invalid dependencies`,
    );
  // Depth-first, iteratively (a 100,000-task chain would overflow the call stack).
  const order: number[] = [];
  const state = new Uint8Array(tables.length); // 0 new, 1 on the path, 2 placed
  const stackTask: number[] = [];
  const stackDep: number[] = [];
  for (let root = 0; root < tables.length; root++) {
    if (state[root] !== 0) continue;
    stackTask.push(root);
    stackDep.push(0);
    state[root] = 1;
    while (stackTask.length > 0) {
      const top = stackTask.length - 1;
      const task = stackTask[top];
      const taskDeps = deps[task];
      if (stackDep[top] < taskDeps.length) {
        const depId = taskDeps[stackDep[top]++];
        const dep = indexById.get(depId);
        if (dep === undefined) {
          if (openJob) continue;
          throw invalid(task);
        }
        if (state[dep] === 1) throw invalid(dep === task ? task : dep);
        if (state[dep] === 0) {
          state[dep] = 1;
          stackTask.push(dep);
          stackDep.push(0);
        }
        continue;
      }
      stackTask.pop();
      stackDep.pop();
      state[task] = 2;
      order.push(task);
    }
  }
  const submits: SubmitDescription[] = [];
  let runKey: string | null = null;
  let runIds: number[] = [];
  let runDeps: number[][] = [];
  let runTemplate: TaskTemplate | null = null;
  const flush = () => {
    if (runTemplate === null) return;
    submits.push({
      template: runTemplate,
      ids: rangesInOrder(runIds),
      entries: null,
      deps: runDeps,
    });
    runIds = [];
    runDeps = [];
  };
  for (const i of order) {
    const table = tables[i];
    // Tasks alike but for id and deps share one template (checked once per run).
    const key = JSON.stringify(table, (k, v) => k === "id" || k === "deps" ? undefined : v);
    if (key !== runKey) {
      flush();
      runKey = key;
      runTemplate = buildTemplate(table, context, `task[${i}]`);
    }
    runIds.push(ids[i]);
    runDeps.push(deps[i]);
  }
  flush();
  return submits;
}

/** Ids in the order given, consecutive ascending runs as one range each. */
function rangesInOrder(ids: readonly number[]): IdRange[] {
  const ranges: IdRange[] = [];
  for (const id of ids) {
    const last = ranges[ranges.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else ranges.push([id, id, 1]);
  }
  return ranges;
}

function buildTemplate(
  table: Record<string, unknown>,
  context: TemplateContext,
  where: string,
): TaskTemplate {
  if (table.command === undefined) {
    throw new JobDefinitionError(`missing field \`command\` in ${where}`);
  }
  const args = list(table.command, `${where}.command`).map((arg, i) =>
    text(arg, `${where}.command[${i}]`)
  );
  const env: Record<string, string> = {};
  if (table.env !== undefined) {
    for (const [key, value] of Object.entries(record(table.env, `${where}.env`))) {
      env[key] = text(value, `${where}.env.${key}`);
    }
  }
  const cwd = table.cwd === undefined ? "%{SUBMIT_DIR}" : text(table.cwd, `${where}.cwd`);
  if (cwd.includes("%{CWD}")) {
    throw new JobDefinitionError(
      "Working directory path cannot contain the working directory placeholder `%{CWD}`.",
    );
  }
  const stdout = output(table.stdout, DEFAULT_STDOUT, `${where}.stdout`);
  const stderr = output(table.stderr, DEFAULT_STDERR, `${where}.stderr`);
  let pin: TaskTemplate["pin"] = null;
  if (table.pin !== undefined) {
    const mode = text(table.pin, `${where}.pin`);
    if (mode !== "none" && mode !== "taskset" && mode !== "omp") {
      throw new JobDefinitionError(
        `unknown variant \`${mode}\`, expected one of \`none\`, \`taskset\`, \`omp\` in ${where}.pin`,
      );
    }
    pin = mode === "none" ? null : mode;
  }
  const variants = requestVariantsOf(table.request, `${where}.request`);
  const first = variants.list[0];
  return {
    args,
    env,
    cwd,
    stdout: stdout.path,
    stderr: stderr.path,
    removeStdoutIfFinished: stdout.removeIfFinished,
    removeStderrIfFinished: stderr.removeIfFinished,
    stdin: table.stdin === undefined
      ? null
      : new TextEncoder().encode(text(table.stdin, `${where}.stdin`)),
    resources: first.resources,
    weight: first.weight,
    nodes: variants.nodes,
    ...(variants.list.length > 1 ? { variants: variants.list } : {}),
    timeLimitMs: table.time_limit === undefined
      ? null
      : duration(table.time_limit, `${where}.time_limit`),
    timeRequestMs: first.timeRequestMs,
    priority: table.priority === undefined ? 0 : i32(table.priority, `${where}.priority`),
    crashLimit: table.crash_limit === undefined
      ? 5
      : crashLimit(table.crash_limit, `${where}.crash_limit`),
    pin,
    taskDir: table.task_dir === undefined ? false : bool(table.task_dir, `${where}.task_dir`),
    submitDir: context.submitDir,
    // Resources spec §9.1: tasks without an explicit stdout/stderr stream (jobs spec §10.1).
    stream: context.stream === null ? null : {
      dir: context.stream,
      stdout: table.stdout === undefined,
      stderr: table.stderr === undefined,
    },
  };
}

function output(
  value: unknown,
  fallback: string,
  where: string,
): { path: string | null; removeIfFinished: boolean } {
  if (value === undefined) return { path: fallback, removeIfFinished: false };
  if (typeof value === "string") {
    return { path: value === "none" ? null : value, removeIfFinished: false };
  }
  // The table form: both keys required; other keys are ignored (§9.2 quirk).
  const table = record(value, where);
  if (table.path === undefined) throw new JobDefinitionError(`missing field \`path\` in ${where}`);
  if (table.on_close === undefined) {
    throw new JobDefinitionError(`missing field \`on_close\` in ${where}`);
  }
  const path = text(table.path, `${where}.path`);
  const onClose = text(table.on_close, `${where}.on_close`);
  if (onClose !== "none" && onClose !== "rm-if-finished") {
    throw new JobDefinitionError(
      `unknown variant \`${onClose}\`, expected \`none\` or \`rm-if-finished\` in ${where}.on_close`,
    );
  }
  return { path: path === "none" ? null : path, removeIfFinished: onClose === "rm-if-finished" };
}

function requestVariantsOf(
  value: unknown,
  where: string,
): { list: RequestVariant[]; nodes: number } {
  if (value === undefined) {
    return {
      list: [{ resources: [{ ...DEFAULT_CPU_REQUEST }], timeRequestMs: 0, weight: 1 }],
      nodes: 0,
    };
  }
  const tables = list(value, where);
  if (tables.length === 0) throw new JobDefinitionError("Resource request is empty");
  if (tables.length > MAX_VARIANTS) throw new JobDefinitionError("Too many resource variants");
  const nodes: number[] = [];
  const variants = tables.map((item, v): RequestVariant => {
    const at = `${where}[${v}]`;
    const table = record(item, at);
    checkKeys(table, REQUEST_KEYS, at);
    const nNodes = table.n_nodes === undefined ? 0 : u32(table.n_nodes, `${at}.n_nodes`);
    nodes.push(nNodes);
    const resources: ResourceRequestEntry[] = [];
    if (table.resources !== undefined) {
      for (const [name, amount] of Object.entries(record(table.resources, `${at}.resources`))) {
        resources.push(resourceEntry(name, amount, `${at}.resources.${name}`));
      }
    }
    if (resources.length === 0 && nNodes === 0) {
      throw new JobDefinitionError("Resource request is empty");
    }
    let weight = 1;
    if (table.weight !== undefined) {
      weight = number(table.weight, `${at}.weight`);
      if (!(weight > 0)) throw new JobDefinitionError("Resource weight has to be positive number");
      weight = Math.round(weight * 10_000) / 10_000;
    }
    return {
      // A multi-node task takes whole workers (resources spec §5.5).
      resources: nNodes > 0 ? [] : resources,
      timeRequestMs: table.time_request === undefined
        ? 0
        : duration(table.time_request, `${at}.time_request`),
      weight,
    };
  });
  const multi = nodes.filter((n) => n > 0).length;
  if (multi > 0 && multi < nodes.length) {
    throw new JobDefinitionError("Resources mixes multi-node and non-multi-node requests");
  }
  return { list: variants, nodes: nodes[0] };
}

function resourceEntry(name: string, amount: unknown, where: string): ResourceRequestEntry {
  const parse = (rq: string) => {
    try {
      return parseResourceRequestArg(`${name}=${rq}`);
    } catch (error) {
      throw new JobDefinitionError(error instanceof Error ? error.message : String(error));
    }
  };
  if (typeof amount === "string") return parse(amount);
  if (typeof amount !== "number" && typeof amount !== "bigint") {
    throw typeError(amount, "an integer, a float or a string", where);
  }
  const value = Number(amount);
  if (!(value > 0)) throw new JobDefinitionError("Zero resources cannot be requested");
  if (Number.isInteger(value)) return parse(String(value));
  // Resources spec §9.2 quirk: f32, then rounded up to 4 decimals (1.1 becomes 1.1001).
  const units = Math.ceil(Math.fround(value) * 10_000);
  return { name: parse("1").name, amount: units, policy: "compact" };
}

function crashLimit(value: unknown, where: string): CrashLimit {
  const raw = typeof value === "number" || typeof value === "bigint"
    ? String(value)
    : text(value, where);
  if (raw === "never-restart" || raw === "unlimited") return raw;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) {
    throw new JobDefinitionError(`Invalid crash limit: ${raw}`);
  }
  if (Number(raw) === 0) {
    throw new JobDefinitionError(
      "Crash limit cannot be 0. Use `never-restart` or `unlimited` instead.",
    );
  }
  return Number(raw);
}

function duration(value: unknown, where: string): number {
  const raw = text(value, where);
  try {
    return parseHumantime(raw);
  } catch (error) {
    throw new JobDefinitionError(
      `Invalid duration "${raw}" in ${where}: ${error instanceof Error ? error.message : error}`,
    );
  }
}

// --- Types, in the words of HyperQueue's TOML deserializer (serde) ---

function checkKeys(table: Record<string, unknown>, allowed: readonly string[], where: string) {
  for (const key of Object.keys(table)) {
    if (!allowed.includes(key)) {
      throw new JobDefinitionError(
        `unknown field \`${key}\`, expected one of ${
          allowed.map((k) => `\`${k}\``).join(", ")
        } in ${where}`,
      );
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "boolean") return `boolean \`${value}\``;
  if (typeof value === "number" || typeof value === "bigint") {
    return Number.isInteger(Number(value)) ? `integer \`${value}\`` : `floating point \`${value}\``;
  }
  if (Array.isArray(value)) return "a sequence";
  if (value instanceof Date) return "a datetime";
  return "a map";
}

function typeError(value: unknown, expected: string, where: string): JobDefinitionError {
  return new JobDefinitionError(
    `invalid type: ${describe(value)}, expected ${expected} in ${where}`,
  );
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (
    typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date
  ) {
    throw typeError(value, "a table", where);
  }
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw typeError(value, "a sequence", where);
  return value;
}

function text(value: unknown, where: string): string {
  if (typeof value !== "string") throw typeError(value, "a string", where);
  return value;
}

function bool(value: unknown, where: string): boolean {
  if (typeof value !== "boolean") throw typeError(value, "a boolean", where);
  return value;
}

function number(value: unknown, where: string): number {
  if (typeof value !== "number" && typeof value !== "bigint") {
    throw typeError(value, "a number", where);
  }
  return Number(value);
}

function integerIn(value: unknown, min: number, max: number, type: string, where: string) {
  const n = typeof value === "bigint" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n)) throw typeError(value, type, where);
  if (n < min || n > max) {
    throw new JobDefinitionError(`invalid value: integer \`${n}\`, expected ${type} in ${where}`);
  }
  return n;
}

function u32(value: unknown, where: string): number {
  return integerIn(value, 0, U32_MAX, "u32", where);
}

function i32(value: unknown, where: string): number {
  return integerIn(value, -0x8000_0000, 0x7fff_ffff, "i32", where);
}
