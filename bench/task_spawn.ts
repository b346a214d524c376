/**
 * Task start rate: `/bin/true` with 2 in flight through `spawnTask` (posix_spawn through FFI, own
 * process group, signals reset, stdin/stdout/stderr opened by the kernel), against a minimal C
 * `posix_spawn` loop (the floor, no attributes), the same C loop with spawnTask's attributes and
 * file actions, and plain `Deno.Command` (no own group, no files). Ratios are medians of per-round
 * ratios; configurations run in rotating order in each round. The C program is written to a
 * temporary directory and compiled with `cc` in each run; no binary is committed.
 *
 *   deno run -A bench/task_spawn.ts [--tasks 20000] [--rounds 4]
 */
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { median } from "./_stats.ts";
import { spawnTask } from "../worker/task_process.ts";

export interface TaskSpawnOptions {
  /** Tasks per configuration, split evenly over the rounds. @default {5000} */
  tasks?: number;
  /** Rounds; each runs every configuration once, in rotating order. @default {4} */
  rounds?: number;
}

const IN_FLIGHT = 2;
const PROGRAM = "/bin/true";
const WARMUP_TASKS = 200;

// Argument 3 selects what each spawn carries: "plain" (the floor: no attributes or file actions),
// "same" (what spawnTask asks for, with /dev/null streams) or a directory for per-task files.
const C_SOURCE = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;

static posix_spawnattr_t attr;
static const char *mode, *dir;

static pid_t start(long index) {
  static char *args[] = {"${PROGRAM}", NULL};
  posix_spawn_file_actions_t actions, *used = NULL;
  char out[4096], err[4096];
  if (strcmp(mode, "plain") != 0) {
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (dir) {
      snprintf(out, sizeof out, "%s/%ld.stdout", dir, index);
      snprintf(err, sizeof err, "%s/%ld.stderr", dir, index);
      posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    } else {
      posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    }
    posix_spawn_file_actions_addchdir_np(&actions, "/tmp");
#if __GLIBC_PREREQ(2, 34)
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    used = &actions;
  }
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], used, strcmp(mode, "plain") ? &attr : NULL, args, environ);
  if (used) posix_spawn_file_actions_destroy(used);
  if (rc != 0) { fprintf(stderr, "posix_spawn: %s\n", strerror(rc)); exit(2); }
  return pid;
}

int main(int argc, char **argv) {
  long total = atol(argv[1]), inflight = atol(argv[2]), started = 0, done = 0;
  mode = argv[3];
  dir = strcmp(mode, "plain") && strcmp(mode, "same") ? mode : NULL;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  /* Like spawnTask: a new session only when there is a terminal, else a new process group. */
  int tty = open("/dev/tty", O_RDONLY | O_NOCTTY);
  short group = POSIX_SPAWN_SETSID;
  if (tty >= 0) close(tty);
  else { group = POSIX_SPAWN_SETPGROUP; posix_spawnattr_setpgroup(&attr, 0); }
  posix_spawnattr_setflags(&attr, group | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (; started < inflight && started < total; started++) start(started);
  while (done < total) {
    int status;
    if (waitpid(-1, &status, 0) < 0) { perror("waitpid"); return 3; }
    done++;
    if (started < total) start(started++);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%.9f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  return 0;
}
`;

type Runner = (tasks: number) => Promise<number>;

export async function benchTaskSpawn(options: TaskSpawnOptions = {}): Promise<BenchRow[]> {
  const totalTasks = options.tasks ?? 5_000;
  const rounds = options.rounds ?? 4;
  const perRound = Math.max(IN_FLIGHT, Math.round(totalTasks / rounds));
  const dir = await Deno.makeTempDir({ prefix: "hq-bench-task-spawn-" });
  try {
    const loop = await compileLoop(dir);
    const outputDir = `${dir}/out`;
    await Deno.mkdir(outputDir);
    const env = Deno.env.toObject();
    // Each file-writing run gets a fresh directory, made before its clock starts: files are
    // created, as for new tasks, not truncated.
    const inFreshDir = async (run: (runDir: string) => Promise<number>) => {
      const runDir = await Deno.makeTempDir({ dir: outputDir });
      try {
        return await run(runDir);
      } finally {
        await Deno.remove(runDir, { recursive: true });
      }
    };
    const runners: Record<string, Runner> = {
      "c-plain": (tasks) => runC(loop, tasks, "plain"),
      "c-same": (tasks) => runC(loop, tasks, "same"),
      "c-files": (tasks) => inFreshDir((runDir) => runC(loop, tasks, runDir)),
      "spawnTask-devnull": (tasks) =>
        runJs(
          tasks,
          () => spawnTask({ argv: [PROGRAM], env, cwd: "/tmp", stdout: null, stderr: null }).exited,
        ),
      "spawnTask-files": (tasks) =>
        inFreshDir((runDir) =>
          runJs(tasks, (index) =>
            spawnTask({
              argv: [PROGRAM],
              env,
              cwd: "/tmp",
              stdout: `${runDir}/${index}.stdout`,
              stderr: `${runDir}/${index}.stderr`,
            }).exited)
        ),
      "Deno.Command": (tasks) =>
        runJs(
          tasks,
          () =>
            new Deno.Command(PROGRAM, { stdin: "null", stdout: "null", stderr: "null" }).spawn()
              .status,
        ),
    };
    const names = Object.keys(runners);
    for (const name of names) await runners[name](WARMUP_TASKS);
    const rates: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      // Rotating order, so that outside load and file-system state hit every configuration alike.
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length];
        const seconds = await runners[name](perRound);
        rates[name].push(perRound / seconds);
      }
    }
    const ratio = (name: string, reference: string) =>
      median(rates[name].map((rate, round) => rate / rates[reference][round]));
    const row = (
      label: string,
      name: string,
      reference: string,
      referenceLabel: string,
      target = "",
    ): BenchRow => ({
      name: `task_spawn/${label}`,
      figure: median(rates[name]),
      unit: "tasks/s",
      reference: median(rates[reference]),
      referenceLabel,
      ratio: ratio(name, reference),
      target,
    });
    return [
      row("spawnTask-devnull", "spawnTask-devnull", "c-plain", "C posix_spawn", ">= 0.7x"),
      row("spawnTask-files", "spawnTask-files", "c-plain", "C posix_spawn"),
      row("Deno.Command", "Deno.Command", "c-plain", "C posix_spawn"),
      // The same work on both sides: what the JavaScript side costs on its own.
      row("spawnTask-devnull-vs-c-same", "spawnTask-devnull", "c-same", "C, same attrs"),
      row("spawnTask-files-vs-c-files", "spawnTask-files", "c-files", "C, same files"),
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export async function compileLoop(dir: string): Promise<string> {
  const source = `${dir}/spawn_loop.c`;
  const binary = `${dir}/spawn_loop`;
  await Deno.writeTextFile(source, C_SOURCE);
  const { success, stderr } = await new Deno.Command("cc", {
    args: ["-O2", "-o", binary, source],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`cc failed: ${new TextDecoder().decode(stderr)}`);
  return binary;
}

/** The C loop's own wall time for the tasks, without its process start. */
export async function runC(binary: string, tasks: number, mode: string): Promise<number> {
  const { success, stdout, stderr } = await new Deno.Command(binary, {
    args: [String(tasks), String(IN_FLIGHT), mode],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`C spawn loop failed: ${new TextDecoder().decode(stderr)}`);
  return Number(new TextDecoder().decode(stdout));
}

/** Seconds for `tasks` starts, IN_FLIGHT at a time; each slot starts the next when one ends. */
async function runJs(tasks: number, start: (index: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < tasks) await start(next++);
    }),
  );
  return (performance.now() - began) / 1000;
}

function numberArg(args: string[], flag: string): number | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? Number(args[index + 1]) : undefined;
}

if (import.meta.main) {
  const rows = await benchTaskSpawn({
    tasks: numberArg(Deno.args, "--tasks") ?? 20_000,
    rounds: numberArg(Deno.args, "--rounds"),
  });
  console.log(formatTable(rows));
}
