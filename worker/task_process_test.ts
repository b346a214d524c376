import assert from "node:assert/strict";
import {
  describeExit,
  type ProcessExit,
  SpawnError,
  type SpawnOptions,
  spawnTask,
  type TaskProcess,
} from "./task_process.ts";

const ENV = Deno.env.toObject();

/** The SpawnError that `started` rejects with; `exited` and `stop()` reject with it too. */
async function spawnError(spawnOptions: SpawnOptions): Promise<SpawnError> {
  const task = spawnTask(spawnOptions);
  try {
    await task.started;
  } catch (error) {
    assert.ok(error instanceof SpawnError, `expected a SpawnError, got ${error}`);
    await assert.rejects(task.exited, (rejected) => rejected === error);
    await assert.rejects(task.stop(), (rejected) => rejected === error);
    assert.equal(task.pid, 0);
    return error;
  }
  await task.stop(0);
  throw new assert.AssertionError({ message: "the task started" });
}

/** Defaults for a task: the worker's environment, cwd /tmp, all streams on /dev/null. */
function options(argv: SpawnOptions["argv"], extra: Partial<SpawnOptions> = {}): SpawnOptions {
  return { argv, env: ENV, cwd: "/tmp", stdout: null, stderr: null, ...extra };
}

async function withTempDir(body: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hq-task-process-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Stops the process whatever happened in the test, so no test leaves a process behind. */
async function withProcess(
  process: TaskProcess,
  body: (process: TaskProcess) => void | Promise<void>,
): Promise<void> {
  try {
    await body(process);
  } finally {
    await process.stop(0);
  }
}

interface ProcStat {
  pid: number;
  state: string;
  pgrp: number;
  session: number;
}

function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself contain spaces or parentheses.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state: fields[0], pgrp: Number(fields[2]), session: Number(fields[3]) };
}

/** Processes of the group that are still alive (not zombies waiting for init). */
function liveMembers(pgrp: number): ProcStat[] {
  const members: ProcStat[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = procStat(Number(entry.name));
    if (stat !== null && stat.pgrp === pgrp && stat.state !== "Z") members.push(stat);
  }
  return members;
}

function hasControllingTerminal(): boolean {
  try {
    Deno.openSync("/dev/tty").close();
    return true;
  } catch {
    return false;
  }
}

async function pollUntil(condition: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("spawnTask reports the exit code of the program", async () => {
  for (const code of [0, 1, 3, 255]) {
    const exit = await spawnTask(options(["sh", "-c", `exit ${code}`])).exited;
    assert.deepEqual(exit, { type: "exited", code });
  }
});

Deno.test("spawnTask writes stdout and stderr into files the child holds itself", async () => {
  await withTempDir(async (dir) => {
    const stdout = `${dir}/out.txt`;
    const stderr = `${dir}/err.txt`;
    await Deno.writeTextFile(stdout, "old content that must be truncated\n".repeat(10));
    // Captured first: dash applies a command's redirections to the shell itself.
    const script =
      'links=$(readlink /proc/$$/fd/1 /proc/$$/fd/2); echo out; echo err >&2; echo "$links" >&2';
    const exit = await spawnTask(options(["sh", "-c", script], { stdout, stderr })).exited;
    assert.deepEqual(exit, { type: "exited", code: 0 });
    assert.deepEqual(await Deno.readTextFile(stdout), "out\n");
    // The child's descriptors are the files, not pipes to the worker.
    assert.deepEqual(await Deno.readTextFile(stderr), `err\n${stdout}\n${stderr}\n`);
    // Created by the child (stdout existed already), with mode 0644 less the umask.
    assert.equal((await Deno.stat(stderr)).mode! & 0o777, 0o644 & ~Deno.umask());
  });
});

Deno.test("spawnTask puts streams without a file on /dev/null", async () => {
  await withTempDir(async (dir) => {
    const report = `${dir}/fds.txt`;
    const script =
      'links=$(readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2); echo "$links" > "$1"';
    const exit = await spawnTask(options(["sh", "-c", script, "sh", report])).exited;
    assert.deepEqual(exit, { type: "exited", code: 0 });
    assert.deepEqual(await Deno.readTextFile(report), "/dev/null\n/dev/null\n/dev/null\n");
  });
});

Deno.test("spawnTask reads stdin from the given file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "line 1\nline 2\n");
    const exit = await spawnTask(
      options(["cat"], { stdin: `${dir}/in.txt`, stdout: `${dir}/out.txt` }),
    ).exited;
    assert.deepEqual(exit, { type: "exited", code: 0 });
    assert.deepEqual(await Deno.readTextFile(`${dir}/out.txt`), "line 1\nline 2\n");
  });
});

Deno.test("spawnTask passes no other descriptor of the worker to the task", async () => {
  await withTempDir(async (dir) => {
    // Descriptors the worker inherited without close-on-exec (a batch system's pipes, say) stay
    // out of the task too. ls itself opens the directory as descriptor 3.
    await spawnTask(options(["ls", "/proc/self/fd"], { stdout: `${dir}/fds.txt` })).exited;
    assert.deepEqual(await Deno.readTextFile(`${dir}/fds.txt`), "0\n1\n2\n3\n");
  });
});

Deno.test("spawnTask applies the working directory and exactly the given environment", async () => {
  await withTempDir(async (dir) => {
    const env = { PATH: ENV.PATH, HQ_TASK_ID: "7", ODD: "a b=c" };
    const script = 'pwd; echo "$HQ_TASK_ID|$ODD|${HOME-unset}"';
    const exit = await spawnTask(
      options(["sh", "-c", script], { env, cwd: dir, stdout: `${dir}/out.txt` }),
    ).exited;
    assert.deepEqual(exit, { type: "exited", code: 0 });
    assert.deepEqual(await Deno.readTextFile(`${dir}/out.txt`), `${dir}\n7|a b=c|unset\n`);
  });
});

Deno.test("spawnTask passes arguments as bytes, not as text", async () => {
  await withTempDir(async (dir) => {
    const arg = new Uint8Array([0x66, 0xff, 0xfe, 0x80, 0x20, 0x24, 0x78]); // not UTF-8
    const exit = await spawnTask(
      options(["sh", "-c", 'printf %s "$1" > "$2"', "sh", arg, `${dir}/arg.bin`]),
    ).exited;
    assert.deepEqual(exit, { type: "exited", code: 0 });
    assert.deepEqual(await Deno.readFile(`${dir}/arg.bin`), arg);
  });
});

Deno.test("spawnTask looks a program without a slash up in PATH", async () => {
  assert.deepEqual(await spawnTask(options(["true"])).exited, { type: "exited", code: 0 });
  assert.deepEqual(await spawnTask(options(["sh", "-c", "exit 4"])).exited, {
    type: "exited",
    code: 4,
  });
});

Deno.test("spawnTask looks programs up in the task's PATH when it differs from the worker's", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(`${dir}/bin/hq-test-tool`, "#!/bin/sh\necho found $1\n", {
      mode: 0o755,
    });
    await Deno.writeTextFile(`${dir}/bin/hq-not-executable`, "#!/bin/sh\n", { mode: 0o644 });
    const env = { ...ENV, PATH: `/nonexistent:${dir}/bin:${ENV.PATH}` };
    const exit = await spawnTask(
      options(["hq-test-tool", "it"], { env, stdout: `${dir}/out.txt` }),
    ).exited;
    assert.deepEqual(exit, { type: "exited", code: 0 });
    assert.deepEqual(await Deno.readTextFile(`${dir}/out.txt`), "found it\n");
    const error = await spawnError(options(["hq-not-executable"], { env }));
    assert.deepEqual(error.osError, "Permission denied");
    // Found in the worker's PATH, but not in the task's.
    const notInTaskPath = await spawnError(options(["true"], { env: { PATH: `${dir}/bin` } }));
    assert.deepEqual(notInTaskPath.osError, "No such file or directory");
  });
});

Deno.test("spawnTask rejects with SpawnError with the OS text for a missing program", async () => {
  const error = await spawnError(options(["hq-no-such-program", "a", "b"]));
  assert.deepEqual(error.stage, "exec");
  assert.deepEqual(error.osError, "No such file or directory");
  assert.deepEqual(
    error.message,
    'Cannot execute "hq-no-such-program a b": No such file or directory',
  );
  const absolute = await spawnError(options(["/nonexistent/prog"]));
  assert.deepEqual(absolute.osError, "No such file or directory");
});

Deno.test("spawnTask tells which step failed when a stream or the directory cannot be used", async () => {
  await withTempDir(async (dir) => {
    const stdout = await spawnError(options(["true"], { stdout: `${dir}/missing/out.txt` }));
    assert.deepEqual(stdout.stage, "stdout");
    assert.deepEqual(
      stdout.message,
      `Creating stream file failed: cannot open "${dir}/missing/out.txt": No such file or directory`,
    );
    const stderr = await spawnError(options(["true"], { stdout: `${dir}/ok.txt`, stderr: dir }));
    assert.deepEqual([stderr.stage, stderr.osError], ["stderr", "Is a directory"]);
    const stdin = await spawnError(options(["true"], { stdin: `${dir}/missing.txt` }));
    assert.deepEqual(stdin.stage, "stdin");
    const cwd = await spawnError(options(["true"], { cwd: `${dir}/missing` }));
    assert.deepEqual(cwd.stage, "cwd");
    assert.match(
      cwd.message,
      /^Cannot change to working directory ".*": No such file or directory$/,
    );
  });
});

Deno.test("spawnTask refuses a NUL byte like HyperQueue does", async () => {
  const inArg = await spawnError(options(["echo", "a\0b"]));
  assert.deepEqual(inArg.osError, "nul byte found in provided data");
  const inBytes = await spawnError(options(["echo", new Uint8Array([0x61, 0, 0x62])]));
  assert.deepEqual(inBytes.message, 'Cannot execute "echo a\0b": nul byte found in provided data');
  const inEnv = await spawnError(options(["true"], { env: { ...ENV, HQ_ENTRY: "x\0y" } }));
  assert.deepEqual(inEnv.stage, "exec");
});

Deno.test("spawnTask makes the task the leader of its own process group", async () => {
  await withProcess(spawnTask(options(["sleep", "1000"])), async (task) => {
    assert.equal(task.pid, 0, "the pid is known once started resolves");
    await task.started;
    const stat = procStat(task.pid)!;
    assert.equal(stat.pgrp, task.pid);
    // Its own session too when the worker has a terminal to detach from.
    assert.equal(stat.session, hasControllingTerminal() ? task.pid : procStat(Deno.pid)!.session);
  });
});

Deno.test("spawnTask starts the task with default signal dispositions and no blocked signal", async () => {
  // Deno ignores SIGPIPE; a task that inherited that would not die of it.
  const exit = await spawnTask(options(["sh", "-c", "kill -PIPE $$"])).exited;
  assert.deepEqual(exit, { type: "signaled", signal: 13, signalName: "SIGPIPE" });
  await withTempDir(async (dir) => {
    await spawnTask(options(["grep", "^Sig[BI]", "/proc/self/status"], { stdout: `${dir}/s` }))
      .exited;
    assert.deepEqual(
      await Deno.readTextFile(`${dir}/s`),
      "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
    );
  });
});

Deno.test("TaskProcess reports the terminating signal with its name", async () => {
  const term = await spawnTask(options(["sh", "-c", "kill -TERM $$"])).exited;
  assert.deepEqual(term, { type: "signaled", signal: 15, signalName: "SIGTERM" });
  assert.deepEqual(
    describeExit(term),
    "Program terminated with exit code -1. Received signal 15 (SIGTERM).",
  );
  // Asked for while the spawn is in flight: sent once the process exists.
  const task = spawnTask(options(["sleep", "1000"]));
  task.kill("SIGKILL");
  assert.deepEqual(await task.exited, { type: "signaled", signal: 9, signalName: "SIGKILL" });
  task.kill("SIGKILL"); // after reaping: does nothing
});

Deno.test("TaskProcess.stop kills the whole process tree", async () => {
  // In a non-interactive shell, background jobs ignore SIGINT: only the SIGKILL that follows
  // the shell's exit takes them down.
  const task = spawnTask(options(["sh", "-c", "sleep 1000 & sleep 1000 & wait"]));
  await withProcess(task, async () => {
    await task.started;
    await pollUntil(() => liveMembers(task.pid).length === 3, "the shell and two sleeps");
    const exit = await task.stop();
    assert.deepEqual(exit, { type: "signaled", signal: 2, signalName: "SIGINT" });
    await pollUntil(() => liveMembers(task.pid).length === 0, "no process left in the group");
  });
});

Deno.test("TaskProcess.stop sends SIGKILL after the grace when SIGINT is ignored", async () => {
  const task = spawnTask(options(["sh", "-c", "trap '' INT; sleep 1000"]));
  await withProcess(task, async () => {
    await task.started;
    await pollUntil(() => liveMembers(task.pid).length === 2, "the shell and its sleep");
    const started = performance.now();
    const exit = await task.stop(300);
    const elapsedMs = performance.now() - started;
    assert.deepEqual(exit, { type: "signaled", signal: 9, signalName: "SIGKILL" });
    assert.ok(elapsedMs >= 250, `stopped after ${elapsedMs} ms, before the grace`);
    await pollUntil(() => liveMembers(task.pid).length === 0, "no process left in the group");
  });
});

Deno.test("TaskProcess.stop returns the same result when called again or after the exit", async () => {
  const task = spawnTask(options(["sleep", "1000"]));
  const first = task.stop();
  assert.ok(task.stop() === first);
  assert.deepEqual(await first, { type: "signaled", signal: 2, signalName: "SIGINT" });
  assert.deepEqual(await task.stop(), await first);
  const done = spawnTask(options(["true"]));
  await done.exited;
  assert.deepEqual(await done.stop(), { type: "exited", code: 0 });
});

Deno.test("spawnTask completes 200 tasks with 2 in flight without losing an exit", async () => {
  const started = performance.now();
  const exits: ProcessExit[] = [];
  let next = 0;
  await Promise.all([0, 1].map(async () => {
    while (next < 200) {
      next++;
      exits.push(await spawnTask(options(["/bin/true"])).exited);
    }
  }));
  assert.deepEqual(exits.length, 200);
  assert.ok(exits.every((exit) => exit.type === "exited" && exit.code === 0));
  // Woken by SIGCHLD, not by the 500 ms fallback poll, which would need about 50 s.
  const elapsedMs = performance.now() - started;
  assert.ok(elapsedMs < 15_000, `200 tasks took ${elapsedMs} ms`);
});

Deno.test("TaskProcess.stop while the spawn is in flight takes the group down once it exists", async () => {
  const task = spawnTask(options(["sh", "-c", "sleep 1000 & sleep 1000 & wait"]));
  assert.equal(task.pid, 0);
  const stopping = task.stop(300);
  assert.ok(task.stop() === stopping);
  await task.started;
  const pid = task.pid;
  assert.ok(pid > 0);
  await withProcess(task, async () => {
    assert.deepEqual(await stopping, { type: "signaled", signal: 2, signalName: "SIGINT" });
    await pollUntil(() => liveMembers(pid).length === 0, "no process left in the group");
  });
});

Deno.test("spawnTask does not throw: an empty argv rejects started and exited", async () => {
  const task = spawnTask(options([]));
  await assert.rejects(task.started, RangeError);
  await assert.rejects(task.exited, RangeError);
});

Deno.test("Concurrent spawns each get their own arguments, environment and files", async () => {
  await withTempDir(async (dir) => {
    const tasks = Array.from(
      { length: 24 },
      (_, i) =>
        spawnTask(options(["sh", "-c", 'echo "$1 $HQ_TASK_ID $(pwd)"', "sh", `arg${i}`], {
          env: { ...ENV, HQ_TASK_ID: `env${i}` },
          cwd: i % 2 ? dir : "/tmp",
          stdout: `${dir}/${i}.out`,
        })),
    );
    const exits = await Promise.all(tasks.map((task) => task.exited));
    assert.ok(exits.every((exit) => exit.type === "exited" && exit.code === 0));
    for (let i = 0; i < tasks.length; i++) {
      assert.deepEqual(
        await Deno.readTextFile(`${dir}/${i}.out`),
        `arg${i} env${i} ${i % 2 ? dir : "/tmp"}\n`,
      );
    }
  });
});

Deno.test("A task that ends before its spawn call is back in JavaScript is reaped at once", async () => {
  let waitedMs = 0;
  for (let i = 0; i < 5; i++) {
    const task = spawnTask(options(["true"]));
    // The JS thread is busy while the child execs and exits: its SIGCHLD comes before the task
    // is tracked, and finds nothing to reap.
    const busyUntil = performance.now() + 100;
    while (performance.now() < busyUntil) { /* busy */ }
    const waitFrom = performance.now();
    assert.deepEqual(await task.exited, { type: "exited", code: 0 });
    waitedMs += performance.now() - waitFrom;
  }
  // The 500 ms fallback poll would take ~1.2 s over the 5 tasks on average.
  assert.ok(waitedMs < 400, `waited ${waitedMs} ms for 5 exits`);
});

Deno.test("spawnTask and Deno.Command reap only their own children", async () => {
  const tasks = Array.from({ length: 20 }, (_, i) => spawnTask(options(["sh", "-c", `exit ${i}`])));
  const commands = Array.from(
    { length: 20 },
    (_, i) => new Deno.Command("sh", { args: ["-c", `exit ${i}`] }).output(),
  );
  const [taskExits, commandOutputs] = await Promise.all([
    Promise.all(tasks.map((task) => task.exited)),
    Promise.all(commands),
  ]);
  assert.deepEqual(taskExits.map((exit) => exit.type === "exited" && exit.code), [
    ...Array(20).keys(),
  ]);
  assert.deepEqual(commandOutputs.map((output) => output.code), [...Array(20).keys()]);
});

Deno.test("describeExit gives the spec's texts", () => {
  assert.deepEqual(describeExit({ type: "exited", code: 0 }), null);
  assert.deepEqual(
    describeExit({ type: "exited", code: 3 }),
    "Program terminated with exit code 3.",
  );
  assert.deepEqual(
    describeExit({ type: "signaled", signal: 9, signalName: "SIGKILL" }),
    "Program terminated with exit code -1. Received signal 9 (SIGKILL).",
  );
  assert.deepEqual(
    describeExit({ type: "signaled", signal: 19, signalName: "SIGSTOP" }),
    "Program terminated with exit code -1. Received signal 19 (SIGSTOP).",
  );
  // Outside SIGHUP…SIGSTOP the spec's table has no name.
  assert.deepEqual(
    describeExit({ type: "signaled", signal: 24, signalName: "SIGXCPU" }),
    "Program terminated with exit code -1. Received signal 24 (unknown).",
  );
});

Deno.test("spawnTask falls back to Deno.Command without FFI permission", async () => {
  await withTempDir(async (dir) => {
    const script = `${dir}/fallback.ts`;
    await Deno.writeTextFile(
      script,
      `import { spawnTask, SpawnError } from ${
        JSON.stringify(import.meta.resolve("./task_process.ts"))
      };
const env = Deno.env.toObject();
const base = { env, cwd: ${JSON.stringify(dir)}, stdout: null, stderr: null };
const result: Record<string, unknown> = {};
const out = spawnTask({ ...base, argv: ["sh", "-c", "echo out; echo err >&2; pwd; exit 3"],
  stdout: "${dir}/out.txt", stderr: "${dir}/err.txt" });
result.exit = await out.exited;
// Reading /proc needs --allow-all in Deno, which --deny-ffi rules out: ask pgrep instead.
const group = async (pgrp: number) => {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["--pgroup", String(pgrp), "--runstates", "D,R,S,T"],
  }).output();
  return new TextDecoder().decode(stdout).split("\\n").filter(Boolean);
};
const tree = spawnTask({ ...base, argv: ["sh", "-c", "sleep 1000 & wait"] });
await tree.started;
for (let i = 0; i < 250 && (await group(tree.pid)).length < 2; i++) {
  await new Promise((r) => setTimeout(r, 20));
}
result.groupBeforeStop = (await group(tree.pid)).length;
result.stopped = await tree.stop(200);
for (let i = 0; i < 250 && (await group(tree.pid)).length > 0; i++) {
  await new Promise((r) => setTimeout(r, 20));
}
result.groupAfterStop = (await group(tree.pid)).length;
try { await spawnTask({ ...base, argv: ["hq-no-such-program"] }).started; } catch (error) {
  result.error = error instanceof SpawnError ? [error.stage, error.osError] : String(error);
}
console.log(JSON.stringify(result));
`,
    );
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--deny-ffi", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const warning = new TextDecoder().decode(stderr);
    assert.deepEqual(code, 0, warning);
    assert.match(warning, /WARN Starting task processes through Deno.Command \(no FFI permission/);
    const result = JSON.parse(new TextDecoder().decode(stdout));
    assert.deepEqual(result.exit, { type: "exited", code: 3 });
    assert.deepEqual(await Deno.readTextFile(`${dir}/out.txt`), `out\n${dir}\n`);
    assert.deepEqual(await Deno.readTextFile(`${dir}/err.txt`), "err\n");
    // The shell leads its own group, and stop() took the group down with it.
    assert.equal(result.groupBeforeStop, 2);
    assert.equal(result.stopped.type, "signaled");
    assert.equal(result.groupAfterStop, 0);
    assert.deepEqual(result.error, ["exec", "No such file or directory"]);
  });
});

Deno.test("A running task keeps Deno alive, and a finished one does not", async () => {
  await withTempDir(async (dir) => {
    const script = `${dir}/not_awaiting.ts`;
    await Deno.writeTextFile(
      script,
      `import { spawnTask } from ${JSON.stringify(import.meta.resolve("./task_process.ts"))};
spawnTask({ argv: ["sleep", "0.3"], env: Deno.env.toObject(), cwd: "/tmp", stdout: null,
  stderr: null }).exited.then((exit) => console.log(JSON.stringify(exit)));
`,
    );
    const started = performance.now();
    const { code, stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script],
      stdout: "piped",
    }).output();
    const elapsedMs = performance.now() - started;
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(stdout)), { type: "exited", code: 0 });
    // Nothing of ours holds the process once the task is done (a generous bound for a loaded
    // machine: startup and the task take ~0.4 s).
    assert.ok(elapsedMs < 3_000, `took ${elapsedMs} ms`);
  });
});

Deno.test("spawnTask sends SIGTERM to running tasks when the worker exits", async () => {
  await withTempDir(async (dir) => {
    const script = `${dir}/exiting_worker.ts`;
    await Deno.writeTextFile(
      script,
      `import { spawnTask } from ${JSON.stringify(import.meta.resolve("./task_process.ts"))};
const task = spawnTask({ argv: ["sleep", "1000"], env: Deno.env.toObject(), cwd: "/tmp",
  stdout: null, stderr: null });
await task.started;
console.log(task.pid);
Deno.exit(0);
`,
    );
    const { code, stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script],
      stdout: "piped",
    }).output();
    assert.equal(code, 0);
    const pid = Number(new TextDecoder().decode(stdout));
    try {
      await pollUntil(() => liveMembers(pid).length === 0, "the orphaned task to end");
    } finally {
      if (liveMembers(pid).length > 0) Deno.kill(pid, "SIGKILL");
    }
  });
});

Deno.test("SpawnError is an HqError a user can read", async () => {
  const error = await spawnError(options(["hq-no-such-program"]));
  assert.ok(error instanceof Error);
  assert.deepEqual(error.name, "SpawnError");
});
