/**
 * `%{NAME}` placeholders in task paths (jobs spec §3), resolved in two steps: the server fills in
 * what it knows at submit (job id, submit dir, server uid, cwd), the worker the rest at task start.
 */
import { resolvePath } from "./paths.ts";

export type PlaceholderName =
  | "JOB_ID"
  | "TASK_ID"
  | "INSTANCE_ID"
  | "SUBMIT_DIR"
  | "SERVER_UID"
  | "CWD";

export const PLACEHOLDER_NAMES: readonly PlaceholderName[] = [
  "JOB_ID",
  "TASK_ID",
  "INSTANCE_ID",
  "SUBMIT_DIR",
  "SERVER_UID",
  "CWD",
];

const PATTERN = /%\{([^}]*)\}/g;

/** Replaces the placeholders given in `values`; others stay verbatim. */
export function fillPlaceholders(
  text: string,
  values: Partial<Record<PlaceholderName, string>>,
): string {
  // Only own values of the six names: `values[name]` alone would find `constructor`, `toString`
  // and the rest of Object.prototype, so `%{constructor}` became "function Object() { … }".
  return text.replace(PATTERN, (whole, name: string) => {
    if (!Object.hasOwn(values, name) || !isPlaceholderName(name)) return whole;
    return values[name] ?? whole;
  });
}

function isPlaceholderName(name: string): name is PlaceholderName {
  return (PLACEHOLDER_NAMES as readonly string[]).includes(name);
}

export function hasPlaceholders(text: string): boolean {
  return /%\{[^}]*\}/.test(text);
}

/** Names inside `%{…}` that are not placeholders (for the client's warning). */
export function unknownPlaceholders(text: string): string[] {
  const unknown: string[] = [];
  for (const match of text.matchAll(PATTERN)) {
    if (!(PLACEHOLDER_NAMES as readonly string[]).includes(match[1])) unknown.push(match[1]);
  }
  return unknown;
}

export interface TaskPaths {
  cwd: string;
  stdout: string | null;
  stderr: string | null;
}

/**
 * Step 1 (server, at submit): job id, submit dir and server uid; `%{CWD}` in the outputs becomes
 * the partially resolved cwd. Fully resolved paths are made absolute.
 */
export function resolveAtSubmit(
  paths: TaskPaths,
  values: { jobId: number; submitDir: string; serverUid: string },
): TaskPaths {
  const known = {
    JOB_ID: String(values.jobId),
    SUBMIT_DIR: values.submitDir,
    SERVER_UID: values.serverUid,
  };
  let cwd = fillPlaceholders(paths.cwd, known);
  if (!hasPlaceholders(cwd)) cwd = resolvePath(values.submitDir, cwd);
  // `%{CWD}` stands for the absolute cwd even while the cwd still has placeholders; otherwise a
  // relative `--cwd work-%{TASK_ID}` would appear twice in `--stdout %{CWD}/out`.
  const absoluteCwd = resolvePath(values.submitDir, cwd);
  const output = (path: string | null) => {
    if (path === null) return null;
    const filled = fillPlaceholders(path, { ...known, CWD: absoluteCwd });
    return hasPlaceholders(filled) ? filled : resolvePath(absoluteCwd, filled);
  };
  return { cwd, stdout: output(paths.stdout), stderr: output(paths.stderr) };
}

/**
 * The `--stream` directory at submit (spec §10.1): job id, submit dir and server uid are its only
 * placeholders, so it is final here; relative to the submit dir.
 */
export function resolveStreamDir(
  dir: string,
  values: { jobId: number; submitDir: string; serverUid: string },
): string {
  const filled = fillPlaceholders(dir, {
    JOB_ID: String(values.jobId),
    SUBMIT_DIR: values.submitDir,
    SERVER_UID: values.serverUid,
  });
  return resolvePath(values.submitDir, filled);
}

/** Step 2 (worker, at task start, or a client showing a started task): everything. */
export function resolveForTask(
  paths: TaskPaths,
  values: {
    jobId: number;
    taskId: number;
    instanceId: number;
    submitDir: string;
    serverUid: string;
  },
): TaskPaths {
  const known = {
    JOB_ID: String(values.jobId),
    TASK_ID: String(values.taskId),
    INSTANCE_ID: String(values.instanceId),
    SUBMIT_DIR: values.submitDir,
    SERVER_UID: values.serverUid,
  };
  const cwd = resolvePath(values.submitDir, fillPlaceholders(paths.cwd, known));
  const output = (path: string | null) =>
    path === null ? null : resolvePath(cwd, fillPlaceholders(path, { ...known, CWD: cwd }));
  return { cwd, stdout: output(paths.stdout), stderr: output(paths.stderr) };
}
