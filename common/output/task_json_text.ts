/**
 * The tasks of `job info --output-mode json` written straight from the wire's columns, as text
 * equal to `taskJson` through the sorted-JSON writer (issue 18, item 6): a 1,000,000-task job
 * took 4.9 s and 300 MB through a `TaskView`, an object, a placeholder resolution and a key sort
 * per task. Here each submit's paths are resolved once with stand-ins for the task and instance
 * ids, and a task's text is those pieces joined with its numbers.
 */
import { IdRanges } from "../id_ranges.ts";
import { type JobDetailView, TASK_STATES, type TaskTemplate } from "../job_types.ts";
import { resolveForTask } from "../placeholders.ts";
import type { TaskColumns } from "../task_columns.ts";
import { formatJsonTimestamp } from "../timestamp.ts";
import { markStreamed, taskJson } from "./job_words.ts";
import { JsonTextArray, toSortedJson } from "./json.ts";

/** Stand-ins for the ids while resolving paths once per submit (no path holds a NUL). */
const TASK_MARK = "\0T\0";
const INSTANCE_MARK = "\0I\0";
const TASK_MARK_JSON = JSON.stringify(TASK_MARK).slice(1, -1);
const INSTANCE_MARK_JSON = JSON.stringify(INSTANCE_MARK).slice(1, -1);
const MARKS_JSON = new RegExp(
  `(${escapeRegExp(TASK_MARK_JSON)}|${escapeRegExp(INSTANCE_MARK_JSON)})`,
);

/** A JSON string value in pieces: literal text, then TASK or INSTANCE marks between. */
type Pieces = string[];

/** A submit's three paths as JSON pieces, or null to fall back to `taskJson` for its tasks. */
interface SubmitPaths {
  cwd: Pieces;
  stderr: Pieces;
  stdout: Pieces;
}

/** The job's tasks as `JsonTextArray` items, from its columns. */
export function taskColumnsJson(job: JobDetailView, columns: TaskColumns): JsonTextArray {
  // Read in place (decoded bytes are unaligned views): copies would cost 24 MB a million tasks.
  const ids = view(columns.ids);
  const workerIds = view(columns.workerIds);
  const startedMs = view(columns.startedMs);
  const finishedMs = view(columns.finishedMs);
  const states = columns.states;
  const instanceIds = new Map(columns.instanceIds);
  const errors = new Map(columns.errors);
  const nodeIds = new Map(columns.nodeIds);
  const submits = job.submits.map((submit) => new IdRanges(submit.ids));
  const paths = new Map<number, SubmitPaths | null>();
  let lastSubmit = -1;
  const submitOf = (id: number): number => {
    if (lastSubmit >= 0 && submits[lastSubmit].has(id)) return lastSubmit;
    lastSubmit = submits.findIndex((ids) => ids.has(id));
    return lastSubmit;
  };
  const pathsOf = (submit: number): SubmitPaths | null => {
    if (!paths.has(submit)) paths.set(submit, compilePaths(job.id, job.submits[submit].template));
    return paths.get(submit)!;
  };

  return new JsonTextArray(columns.count, (i, indent) => {
    const id = ids.getUint32(4 * i, true);
    const state = TASK_STATES[states[i]];
    const instanceId = instanceIds.get(i) ?? 0;
    const startedAt = startedMs.getFloat64(8 * i, true);
    const finishedAt = finishedMs.getFloat64(8 * i, true);
    const started = startedAt === 0 ? null : startedAt;
    const finished = finishedAt === 0 ? null : finishedAt;
    const workerId = workerIds.getUint32(4 * i, true);
    const error = errors.get(i) ?? null;
    const nodes = nodeIds.get(i) ?? null;
    const submit = submitOf(id);
    const showsPaths = submit >= 0 && started !== null && state !== "waiting" &&
      state !== "aborted";
    const compiled = showsPaths ? pathsOf(submit) : null;
    if (showsPaths && compiled === null) {
      // A path with a NUL: the general way.
      const task = {
        id,
        state,
        instanceId,
        workerId: workerId === 0 ? null : workerId,
        nodeIds: nodes,
        startedMs: started,
        finishedMs: finished,
        error,
      };
      return toSortedJson(taskJson(job, task), indent);
    }
    const inner = `${indent}  `;
    let text = "{\n";
    if (compiled) text += `${inner}"cwd": ${join(compiled.cwd, id, instanceId)},\n`;
    if (error !== null) text += `${inner}"error": ${JSON.stringify(error)},\n`;
    // §9.3: canceled and aborted tasks carry no start time or worker, even if they had started.
    const hasRun = state === "running" || state === "finished" || state === "failed";
    if (finished !== null && hasRun) {
      text += `${inner}"finished_at": "${formatJsonTimestamp(finished)}",\n`;
    }
    text += `${inner}"id": ${id}`;
    if (started !== null && hasRun) {
      text += `,\n${inner}"started_at": "${formatJsonTimestamp(started)}"`;
    }
    text += `,\n${inner}"state": "${state}"`;
    if (compiled) {
      text += `,\n${inner}"stderr": ${join(compiled.stderr, id, instanceId)}`;
      text += `,\n${inner}"stdout": ${join(compiled.stdout, id, instanceId)}`;
    }
    if (started !== null && hasRun) {
      if (nodes) text += `,\n${inner}"workers": ${toSortedJson(nodes, inner)}`;
      else text += `,\n${inner}"worker": ${workerId === 0 ? "null" : workerId}`;
    }
    return `${text}\n${indent}}`;
  });
}

/** The resolved paths of a submit's tasks, with marks for the ids, as JSON pieces. */
function compilePaths(jobId: number, template: TaskTemplate): SubmitPaths | null {
  const paths = [template.cwd, template.stdout, template.stderr];
  if (paths.some((path) => path?.includes("\0"))) return null;
  const resolved = markStreamed(
    resolveForTask(template, {
      jobId,
      // Strings where numbers go: `resolveForTask` only ever formats them with `String`.
      taskId: TASK_MARK as unknown as number,
      instanceId: INSTANCE_MARK as unknown as number,
      submitDir: template.submitDir,
      serverUid: "",
    }),
    template,
    "<pipe>",
  );
  const pieces = (value: string | null): Pieces =>
    value === null ? ["null"] : JSON.stringify(value).split(MARKS_JSON);
  return {
    cwd: pieces(resolved.cwd),
    stderr: pieces(resolved.stderr),
    stdout: pieces(resolved.stdout),
  };
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function join(pieces: Pieces, taskId: number, instanceId: number): string {
  if (pieces.length === 1) return pieces[0];
  let text = pieces[0];
  for (let at = 1; at < pieces.length; at += 2) {
    text += (pieces[at] === TASK_MARK_JSON ? taskId : instanceId) + pieces[at + 1];
  }
  return text;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}
