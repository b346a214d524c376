/**
 * `hq submit` (jobs spec §2): reads `#HQ` directives, builds the submit's task template, ids and
 * entries, sends it, prints the job id, and optionally waits.
 */
import { describeError, HqError, UsageError } from "../common/errors.ts";
import { IdRanges } from "../common/id_ranges.ts";
import type { SubmitDescription, TaskTemplate } from "../common/job_types.ts";
import { logger } from "../common/log.ts";
import { writeStdout } from "../common/output/mod.ts";
import { resolvePath } from "../common/paths.ts";
import { hasPlaceholders, unknownPlaceholders } from "../common/placeholders.ts";
import { parseCommandLine } from "./args.ts";
import type { CliContext } from "./context.ts";
import { type OutputSpec, type SubmitArgs, submitArgs } from "./job_commands.ts";
import { defineCommand } from "./args.ts";
import { withClient } from "./with_client.ts";
import { showProgress } from "./run_job_progress.ts";
import type { IdSelector, TaskNotification } from "../common/protocol.ts";
import { splitShellWords } from "../common/shell_words.ts";
import { assembleTaskRequest } from "../common/resources/resource_request.ts";
import { jsonArrayEntries } from "./json_entries.ts";

const log = logger("client::submit");

const DEFAULT_STDOUT = "%{CWD}/job-%{JOB_ID}/%{TASK_ID}.stdout";
const DEFAULT_STDERR = "%{CWD}/job-%{JOB_ID}/%{TASK_ID}.stderr";
const DIRECTIVE_BYTES = 32 * 1024;
/** Options a `#HQ` directive may not set (spec §2.4). */
const NOT_IN_DIRECTIVES = ["job", "wait", "progress", "onNotify", "stdin", "directives"];
const ARRAY_SOURCES = ["array", "eachLine", "fromJson"];

export async function runSubmit(
  cliArgs: SubmitArgs,
  context: CliContext,
  given: ReadonlySet<string>,
): Promise<void> {
  let stdinBytes: Uint8Array | null = null;
  if (cliArgs.stdin) {
    writeStdout("Reading data from stdin. In the interactive mode press Ctrl-D to submit.\n");
    stdinBytes = new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
  }
  const directives = await readDirectives(cliArgs, stdinBytes);
  const args = directives
    ? mergeDirectives(cliArgs, given, directives.args, directives.given)
    : cliArgs;
  // HyperQueue applies no shebang to a script read with --stdin.
  const shebang = cliArgs.stdin ? [] : directives?.shebang ?? [];
  const command = [...shebang, ...cliArgs.commands];
  if (args.job !== undefined) {
    if (args.name !== undefined) {
      throw new HqError("Parameter --name is not allowed when submitting to an open job.");
    }
    if (args.maxFails !== undefined) {
      throw new HqError("Parameter --max-fails is not allowed when submitting to an open job.");
    }
  }
  const name = args.name ?? defaultName(command[0]);
  if (/[\n\t]/.test(name)) throw new HqError("name cannot have a newline or a tab");
  if (args.weight !== undefined && !(args.weight > 0)) {
    throw new HqError("Resource weight has to be positive number");
  }
  const submitDir = Deno.cwd();
  const { ids, entries } = await taskIdsAndEntries(args, submitDir);
  const template = buildTemplate(args, command, submitDir, stdinBytes);
  warnAboutOutputs(template, ids.count, args);
  const submit: SubmitDescription = { template, ids: ids.ranges.slice(), entries };

  // As in HyperQueue, only `--wait` listens for notifications: without it (and with
  // `--progress`) `--on-notify` is ignored.
  const notify = args.onNotify === undefined || !args.wait || args.progress
    ? null
    : notifyRunner(args.onNotify);

  await withClient(context, async (client) => {
    client.onNotify = notify?.run ?? null;
    const response = await client.request({
      type: "submit",
      jobId: args.job ?? null,
      name,
      maxFails: args.maxFails ?? null,
      submit,
      autoIdCount: args.job !== undefined && args.array === undefined ? ids.count : null,
      subscribeNotify: notify !== null,
    });
    if (response.type !== "job-created") throw new HqError("Unexpected response to submit");
    context.output.submitted(response.jobId);
    const selector: IdSelector = { type: "ids", ranges: [[response.jobId, response.jobId, 1]] };
    if (args.progress) {
      await showProgress(client, selector);
    } else if (args.wait) {
      await client.request({ type: "job-wait", selector, withoutClose: false });
    }
    await notify?.idle();
  });
}

/**
 * Runs `--on-notify`'s command once per notification, one at a time, with the message as the
 * last argument (jobs spec §2.1); failures are only logged.
 */
function notifyRunner(command: string): {
  run: (notification: TaskNotification) => void;
  idle: () => Promise<void>;
} {
  const words = splitShellWords(command) ?? [command];
  if (words.length === 0) throw new HqError("--on-notify needs a command");
  let chain = Promise.resolve();
  const runOne = async ({ jobId, taskId, workerId, message }: TaskNotification) => {
    const text = new TextDecoder().decode(message);
    try {
      const status = await new Deno.Command(words[0], {
        args: [...words.slice(1), text],
        env: {
          HQ_JOB_ID: String(jobId),
          HQ_TASK_ID: String(taskId),
          HQ_WORKER_ID: String(workerId),
        },
        stdin: "inherit",
      }).spawn().status;
      if (!status.success) {
        log.warn(`The --on-notify command failed with exit code ${status.code}`);
      }
    } catch (error) {
      log.warn(`Cannot run the --on-notify command: ${describeError(error)}`);
    }
  };
  return {
    run: (notification) => {
      chain = chain.then(() => runOne(notification));
    },
    idle: () => chain,
  };
}

function defaultName(program: string): string {
  const base = program.slice(program.lastIndexOf("/") + 1);
  return base === "" ? "job" : base;
}

function buildTemplate(
  args: SubmitArgs,
  command: string[],
  submitDir: string,
  stdin: Uint8Array | null,
): TaskTemplate {
  const cwd = args.cwd ?? "%{SUBMIT_DIR}";
  if (cwd.includes("%{CWD}")) {
    throw new HqError(
      "Working directory path cannot contain the working directory placeholder `%{CWD}`.",
    );
  }
  const env: Record<string, string> = {};
  let duplicates = false;
  for (const [key, value] of args.env) {
    if (key in env) duplicates = true;
    env[key] = value;
  }
  if (duplicates) {
    log.warn(
      "Some environment variables were ignored. Check if you haven't used duplicate keys.",
    );
  }
  const output = (spec: OutputSpec | undefined, fallback: string) =>
    spec === undefined || spec.path === undefined ? fallback : spec.path;
  return {
    args: command,
    env,
    cwd,
    stdout: output(args.stdout, DEFAULT_STDOUT),
    stderr: output(args.stderr, DEFAULT_STDERR),
    removeStdoutIfFinished: args.stdout?.removeIfFinished ?? false,
    removeStderrIfFinished: args.stderr?.removeIfFinished ?? false,
    stdin,
    // A multi-node task takes whole workers; per-resource requests play no part (resources §5.5).
    resources: (args.nodes ?? 0) > 0 ? [] : assembleTaskRequest(args.cpus, args.resource),
    weight: Math.round((args.weight ?? 1) * 10_000) / 10_000,
    nodes: args.nodes ?? 0,
    timeLimitMs: args.timeLimit ?? null,
    timeRequestMs: args.timeRequest,
    priority: args.priority,
    crashLimit: args.crashLimit,
    pin: args.pin ?? null,
    taskDir: args.taskDir,
    submitDir,
    // Spec §10.1: channels given explicitly (a path or `none`) are not streamed.
    stream: args.stream === undefined ? null : {
      dir: args.stream,
      stdout: args.stdout === undefined,
      stderr: args.stderr === undefined,
    },
  };
}

async function taskIdsAndEntries(
  args: SubmitArgs,
  submitDir: string,
): Promise<{ ids: IdRanges; entries: Array<string | Uint8Array> | null }> {
  let entries: Array<string | Uint8Array> | null = null;
  if (args.eachLine !== undefined) {
    entries = splitLines(await readFile(resolvePath(submitDir, args.eachLine)));
  } else if (args.fromJson !== undefined) {
    const path = resolvePath(submitDir, args.fromJson);
    const text = new TextDecoder().decode(await readFile(path));
    try {
      JSON.parse(text);
    } catch (error) {
      throw new HqError(`${path}: ${error instanceof Error ? error.message : error}`);
    }
    entries = jsonArrayEntries(text);
    if (entries === null) {
      throw new HqError(`${path}: The top element of the provided JSON file has to be an array`);
    }
  }
  const array = args.array ? new IdRanges(args.array) : null;
  if (entries === null) return { ids: array ?? IdRanges.sequence(0, 1), entries: null };
  if (array === null) return { ids: IdRanges.sequence(0, entries.length), entries };
  // Entries with --array: the ids select entries by index; ids past the end are dropped.
  const selected = [...array].filter((id) => id < entries!.length).sort((a, b) => a - b);
  return {
    ids: IdRanges.fromSortedIds(selected),
    entries: selected.map((id) => entries![id]),
  };
}

/**
 * The lines of `--each-line`, without their `\n`; as HyperQueue, the bytes are kept: a line that
 * is not UTF-8 stays bytes (anything else, `\r` included, is the line's own).
 */
function splitLines(bytes: Uint8Array): Array<string | Uint8Array> {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const lines: Array<string | Uint8Array> = [];
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const line = bytes.subarray(start, end);
    try {
      lines.push(strict.decode(line));
    } catch {
      lines.push(line.slice());
    }
    start = end + 1;
  }
  return lines;
}

async function readFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new HqError(`Cannot read "${path}"`, { cause: error });
  }
}

function warnAboutOutputs(template: TaskTemplate, taskCount: number, args: SubmitArgs): void {
  const channels = [["stdout", template.stdout], ["stderr", template.stderr]] as const;
  if (taskCount > 1) {
    const producing = channels.filter(([, path]) => path !== null);
    if (!template.stream && producing.length > 0 && taskCount * producing.length > 999) {
      log.warn(
        `The job will create ${taskCount * producing.length} files for ${
          producing.map(([name]) => name).join(" and ")
        }. Consider using the \`--stream\` option to stream all outputs into a single file`,
      );
    }
    for (const [name, path] of channels) {
      const explicit = args[name]?.path;
      if (
        typeof explicit === "string" && path !== null &&
        !pathAsTaskSeesIt(path, template.cwd).includes("%{TASK_ID}")
      ) {
        log.warn(
          `You have submitted an array job, but the \`${name}\` path does not contain the task ID placeholder.\nIndividual tasks might thus overwrite the file. Consider adding \`%{TASK_ID}\` to the \`--${name}\` value.`,
        );
      }
    }
  }
  const contexts = [
    ["stdout path", template.stdout],
    ["stderr path", template.stderr],
    ["working directory path", template.cwd],
    ["log path", template.stream?.dir ?? null],
  ] as const;
  for (const [context, path] of contexts) {
    if (path === null || !hasPlaceholders(path)) continue;
    const unknown = unknownPlaceholders(path);
    if (unknown.length === 1) log.warn(`Found unknown placeholder \`${unknown[0]}\` in ${context}`);
    if (unknown.length > 1) {
      log.warn(`Found unknown placeholders \`${unknown.join(", ")}\` in ${context}`);
    }
  }
}

function resourceName(request: string): string {
  return request.slice(0, request.indexOf("=")).trim();
}

/**
 * An output path as HyperQueue checks it for `%{TASK_ID}`: relative to the raw `--cwd`, with
 * `%{CWD}` standing for it, so `--cwd task-%{TASK_ID} --stdout out` is one file per task.
 */
function pathAsTaskSeesIt(path: string, cwd: string): string {
  const expanded = path.replaceAll("%{CWD}", cwd);
  return expanded.startsWith("/") ? expanded : `${cwd}/${expanded}`;
}

// ---------------------------------------------------------------------------------------------
// `#HQ` directives (spec §2.4)

interface Directives {
  args: SubmitArgs;
  given: ReadonlySet<string>;
  shebang: string[];
}

async function readDirectives(
  args: SubmitArgs,
  stdin: Uint8Array | null,
): Promise<Directives | null> {
  const first = args.commands[0];
  let bytes: Uint8Array;
  switch (args.directives) {
    case "off":
      return null;
    case "stdin":
      if (stdin === null) {
        throw new HqError("You have to use `--stdin` when you specify `--directives=stdin`.");
      }
      bytes = stdin.subarray(0, DIRECTIVE_BYTES);
      break;
    case "auto":
    case "file":
      if (args.directives === "auto" && !first.endsWith(".sh")) return null;
      try {
        const file = await Deno.open(first);
        try {
          const buffer = new Uint8Array(DIRECTIVE_BYTES);
          let length = 0;
          while (length < buffer.length) {
            const count = await file.read(buffer.subarray(length));
            if (count === null) break;
            length += count;
          }
          bytes = buffer.subarray(0, length);
        } finally {
          file.close();
        }
      } catch (error) {
        throw new HqError(
          `Could not parse directives from ${first}: ${
            error instanceof Error ? error.message : error
          }`,
        );
      }
      break;
  }
  const { words, shebang } = scanDirectives(new TextDecoder().decode(bytes));
  const directiveCommand = defineCommand({
    name: "#HQ",
    about: "",
    args: Object.fromEntries(
      Object.entries(submitArgs).filter(([key]) =>
        !NOT_IN_DIRECTIVES.includes(key) && key !== "commands"
      ),
    ),
  });
  let outcome;
  try {
    outcome = parseCommandLine(words, directiveCommand, { env: () => undefined });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new HqError(
      `You have used invalid parameter(s) after a #HQ directive.\nerror: ${error.message}`,
    );
  }
  if (outcome.type !== "run") {
    throw new HqError("You have used invalid parameter(s) after a #HQ directive.");
  }
  return {
    args: outcome.values as SubmitArgs,
    given: outcome.given,
    shebang: args.directives === "stdin" ? [] : shebang,
  };
}

/** The words of all `#HQ` lines and the shebang, scanning from the top (spec §2.4). */
export function scanDirectives(text: string): { words: string[]; shebang: string[] } {
  const words: string[] = [];
  let shebang: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (i === 0 && line.startsWith("#!")) {
      const text = line.slice(2).trim();
      shebang = splitShellWords(text) ?? text.split(/\s+/).filter((word) => word !== "");
      continue;
    }
    if (line.startsWith("#HQ ")) words.push(...splitWords(line.slice(4)));
    else if (line === "" || line.startsWith("#")) continue;
    else break;
  }
  return { words, shebang };
}

/** Splits on spaces, honouring `"…"` with `\"` escapes and `\ ` escaped spaces. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length && (text[i + 1] === '"' || text[i + 1] === " ")) {
      current += text[++i];
      inWord = true;
    } else if (c === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (/\s/.test(c) && !quoted) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/**
 * Command line wins for single values; `--env` and `--resource` combine as HyperQueue does, the
 * command line's first and the directive's after them, so the directive wins for the same key;
 * the array source goes as a group.
 */
function mergeDirectives(
  cli: SubmitArgs,
  cliGiven: ReadonlySet<string>,
  directive: SubmitArgs,
  directiveGiven: ReadonlySet<string>,
): SubmitArgs {
  const merged: Record<string, unknown> = { ...cli };
  const arrayFromCli = ARRAY_SOURCES.some((key) => cliGiven.has(key));
  for (const key of directiveGiven) {
    const value = (directive as Record<string, unknown>)[key];
    if (key === "env") {
      merged[key] = [...cli.env, ...directive.env];
    } else if (key === "resource") {
      const names = new Set(directive.resource.map(resourceName));
      merged[key] = [
        ...cli.resource.filter((request) => !names.has(resourceName(request))),
        ...directive.resource,
      ];
    } else if (key === "taskDir") {
      merged[key] = cli.taskDir || directive.taskDir;
    } else if (ARRAY_SOURCES.includes(key)) {
      if (!arrayFromCli) merged[key] = value;
    } else if (key === "weight") {
      continue; // (quirk) --weight is taken from the command line only
    } else if (!cliGiven.has(key)) {
      merged[key] = value;
    }
  }
  return merged as SubmitArgs;
}
