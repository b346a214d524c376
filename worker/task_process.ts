/**
 * Starts task processes and reports how they end (spec §5.1–§5.3).
 *
 * The main path calls glibc's `posix_spawnp` through FFI, with no wrapper `exec`: the child leads
 * its own process group (and its own session when the worker has a terminal, see
 * PosixSpawnLauncher), starts with an empty signal mask, default dispositions (Deno ignores
 * SIGPIPE) and no descriptor but 0–2, and has stdin/stdout/stderr opened on files by the kernel,
 * so output never passes through JavaScript. The call runs on Deno's blocking thread pool: glibc
 * returns only once the child has exec'd, and the JS thread has other work meanwhile. So
 * `spawnTask` returns at once, and the process has its pid once `started` resolves.
 *
 * Reaping: one shared reaper wakes on SIGCHLD (plus a slow fallback poll) and reaps only pids it
 * started. It never reaps another child of this process, so `Deno.Command` keeps working beside it.
 * The reverse constraint: no other code in the process may call `waitpid(-1)` or `wait()`, or it
 * would take our children's statuses (`exited` then rejects).
 *
 * Without FFI (no `--allow-ffi`, not Linux, glibc < 2.29) tasks start through `Deno.Command`
 * instead: slower (Deno forks itself to run `setsid`), and output is copied through JavaScript.
 */
import { HqError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import {
  CStringArena,
  EINVAL,
  ENOENT,
  FILE_ACTIONS_BYTES,
  type Libc,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_NOCTTY,
  O_PATH,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
  offHeapBytes,
  openLibc,
  P_ALL,
  P_PID,
  POSIX_SPAWN_SETPGROUP,
  POSIX_SPAWN_SETSID,
  POSIX_SPAWN_SETSIGDEF,
  POSIX_SPAWN_SETSIGMASK,
  SIGINFO_BYTES,
  SIGINFO_PID_OFFSET,
  SIGSET_BYTES,
  SPAWNATTR_BYTES,
  strerror,
  WEXITED,
  WNOHANG,
  WNOWAIT,
  X_OK,
} from "./_libc.ts";
import { PipeReader } from "./pipe_reader.ts";
import { startingOpenFileLimits, TaskOpenFileLimit } from "./open_file_limit.ts";
import { OutputDirectories } from "./output_files.ts";

const log = logger("worker::task_process");

export interface SpawnOptions {
  /**
   * Program and arguments. Byte strings are passed as they are (they may not contain NUL). An
   * `argv[0]` without `/` is looked up in the task's PATH (`env.PATH`; `/bin:/usr/bin` if unset).
   */
  argv: ReadonlyArray<string | Uint8Array>;
  /** The task's complete environment: nothing is inherited implicitly. */
  env: Readonly<Record<string, string>>;
  /** More variables whose values are byte strings, passed as they are (no NUL). */
  byteEnv?: Readonly<Record<string, Uint8Array>>;
  /** Working directory of the task; it must exist. */
  cwd: string;
  /**
   * Files for the standard streams; `null` (or an absent `stdin`) means `/dev/null`. stdout and
   * stderr are created or truncated with mode 0644. Relative paths are relative to the worker's
   * working directory, not to `cwd`. A `PipeSink` gets the channel through a pipe instead.
   */
  stdin?: string | null;
  stdout: string | null | PipeSink;
  stderr: string | null | PipeSink;
}

/** A channel the worker reads through a pipe (output streaming, spec §10.1). */
export interface PipeSink {
  /** Each piece the task wrote, in order; the bytes are the callee's to keep. */
  onData(data: Uint8Array): void;
}

function isPipe(target: string | null | PipeSink | undefined): target is PipeSink {
  return typeof target === "object" && target !== null;
}

export type ProcessExit =
  | { type: "exited"; code: number }
  | { type: "signaled"; signal: number; signalName: string };

export type TaskSignal = "SIGINT" | "SIGTERM" | "SIGKILL";

export interface TaskProcess {
  /** The process id (and process group id); 0 until `started` resolves. */
  readonly pid: number;
  /**
   * Resolves once the process runs the program (after its exec), with `pid` set. Rejects with a
   * `SpawnError` when it could not be started; `exited` then rejects with the same error.
   */
  readonly started: Promise<void>;
  /**
   * Settles once the process has exited and was reaped. Besides a failed start, it rejects only
   * when other code in this process reaped the child first (a `waitpid(-1)`), which is a bug.
   */
  readonly exited: Promise<ProcessExit>;
  /**
   * Resolves once every `PipeSink` channel reached end of file (every process holding it ended
   * or closed it) and got all its data; at once without pipes or when the start failed.
   */
  readonly drained: Promise<void>;
  /** Whether a `PipeSink` channel has not reached its end yet (`drained` still pending). */
  readonly pipesOpen: boolean;
  /** Stops reading the pipes (data not read yet is dropped); `drained` then resolves. */
  abandonPipes(): void;
  /**
   * Sends the signal to the task's whole process group; does nothing once the task was reaped.
   * While the process is being started, the signal is sent once its group exists.
   */
  kill(signal: TaskSignal): void;
  /**
   * The stop sequence of spec §5.3: SIGINT to the process group, wait up to `graceMs` for the task
   * to exit, then SIGKILL to the process group (also when the task exited within the grace, to
   * take down what it left behind). Calling it again returns the same promise. Called while the
   * process is being started, the signals go out once its group exists (the grace runs from the
   * call); for a process that could not be started it rejects like `exited`.
   */
  stop(graceMs?: number): Promise<ProcessExit>;
}

/** Which step of starting the task failed. */
export type SpawnStage = "stdin" | "stdout" | "stderr" | "cwd" | "exec";

export interface SpawnErrorDetail {
  stage: SpawnStage;
  errno: number;
  /** The OS text (`strerror`), e.g. `No such file or directory`. */
  osError: string;
}

/**
 * A task process could not be started. The message follows spec §5.1
 * (`Cannot execute "<argv>": <OS error>`, `Creating stream file failed: …`); a caller may add
 * hint lines below it.
 */
export class SpawnError extends HqError {
  readonly stage: SpawnStage;
  readonly errno: number;
  readonly osError: string;

  constructor(message: string, detail: SpawnErrorDetail) {
    super(message);
    this.stage = detail.stage;
    this.errno = detail.errno;
    this.osError = detail.osError;
  }
}

/** The message for a failed step, in the spec's words where it has them. */
function spawnErrorMessage(options: SpawnOptions, stage: SpawnStage, osError: string): string {
  switch (stage) {
    case "stdin":
      return `Cannot open stdin file "${options.stdin}": ${osError}`;
    case "stdout":
    case "stderr": {
      const target = options[stage];
      return isPipe(target)
        ? `Creating stream file failed: ${osError}`
        : `Creating stream file failed: cannot open "${target}": ${osError}`;
    }
    case "cwd":
      return `Cannot change to working directory "${options.cwd}": ${osError}`;
    case "exec":
      return `Cannot execute "${argvText(options.argv)}": ${osError}`;
  }
}

function spawnError(options: SpawnOptions, detail: SpawnErrorDetail): SpawnError {
  return new SpawnError(spawnErrorMessage(options, detail.stage, detail.osError), detail);
}

/**
 * Starts a task process and returns at once; it never throws. Whether the start worked is told by
 * `started`, which rejects with a `SpawnError` when it did not.
 */
export function spawnTask(options: SpawnOptions): TaskProcess {
  try {
    launcher ??= createLauncher();
    return launcher.spawn(options);
  } catch (error) {
    return new FailedTaskProcess(error instanceof Error ? error : new Error(String(error)));
  }
}

/** The spec's error text for an exit (§5.2), or null for exit code 0. */
export function describeExit(exit: ProcessExit): string | null {
  if (exit.type === "exited") {
    return exit.code === 0 ? null : `Program terminated with exit code ${exit.code}.`;
  }
  // The spec names only SIGHUP…SIGSTOP; later signals (SIGXCPU, …) are "unknown" there.
  const name = exit.signal >= 1 && exit.signal <= SIGSTOP ? exit.signalName : "unknown";
  return `Program terminated with exit code -1. Received signal ${exit.signal} (${name}).`;
}

/** Linux x86_64 signal names, indexed by number. */
const SIGNAL_NAMES = [
  "",
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];
const SIGSTOP = 19;
const SIGNAL_NUMBERS: Record<TaskSignal, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9 };

/** The signal's name (`SIGKILL`), or `unknown` outside 1–31. */
function signalName(signal: number): string {
  return SIGNAL_NAMES[signal] || "unknown";
}

function signaled(signal: number): ProcessExit {
  return { type: "signaled", signal, signalName: signalName(signal) };
}

const DEFAULT_GRACE_MS = 1_000;
/** SIGCHLD does the work; this poll only guards against a lost wakeup. */
const FALLBACK_POLL_MS = 500;
/** execvp's search path when PATH is unset (glibc's `_CS_PATH`). */
const DEFAULT_SEARCH_PATH = "/bin:/usr/bin";
const DEV_NULL = "/dev/null";
const STREAM_FLAGS = O_WRONLY | O_CREAT | O_TRUNC;
const STREAM_MODE = 0o644;
/** Spawn memory kept for reuse (64 KiB each); more concurrent spawns allocate their own. */
const MAX_IDLE_SLOTS = 4;
const RLIMIT_NOFILE = 7;
/** Output files in shared directories are opened without following a final symlink. */
const outputDirectories = new OutputDirectories();

interface Launcher {
  spawn(options: SpawnOptions): TaskProcess;
}

let launcher: Launcher | undefined;

function createLauncher(): Launcher {
  const opened = openLibc();
  if ("libc" in opened) return new PosixSpawnLauncher(opened.libc);
  log.warn(
    `Starting task processes through Deno.Command (${opened.reason}): slower, and task output ` +
      `is copied through the worker`,
  );
  return new DenoCommandLauncher();
}

// ---------------------------------------------------------------------------------------------
// Main path: posix_spawnp through FFI.

class PosixSpawnLauncher implements Launcher {
  /** Whether tasks get their own session (setsid) or only their own process group. */
  readonly newSession: boolean;
  readonly #libc: Libc;
  readonly #reaper: Reaper;
  /** For the calls made on this thread: PATH look-ups and the failure diagnosis. */
  readonly #arena = new CStringArena();
  readonly #attr = offHeapBytes(SPAWNATTR_BYTES);
  /** Memory of spawns that are not in flight, for reuse. */
  readonly #idleSlots: SpawnSlot[] = [];
  /** Reads streamed tasks' pipes; made with the first one. */
  #pipes: PipeReader | null = null;
  /** Gives tasks the open-file limit the worker started with, when Deno raised it. */
  readonly #openFiles: TaskOpenFileLimit | null = null;

  constructor(libc: Libc) {
    this.#libc = libc;
    this.#reaper = new Reaper(libc);
    // One attribute object serves every spawn, also concurrent ones: glibc only reads it.
    const emptySet = offHeapBytes(SIGSET_BYTES);
    libc.sigemptyset(emptySet);
    // Every signal back to SIG_DFL. Not sigfillset(): it leaves out glibc's internal signals 32
    // and 33, which the spawn code then sets to SIG_IGN, and exec keeps ignored signals ignored.
    const fullSet = offHeapBytes(SIGSET_BYTES).fill(0xff);
    check(libc.posix_spawnattr_init(this.#attr), "posix_spawnattr_init");
    check(libc.posix_spawnattr_setsigmask(this.#attr, emptySet), "posix_spawnattr_setsigmask");
    check(libc.posix_spawnattr_setsigdefault(this.#attr, fullSet), "posix_spawnattr_setsigdefault");
    // The spec says setsid(); what matters is the process group the task leads, which stop()
    // signals. A new session changes more only when the worker has a terminal: a task in a
    // background group of the worker's session that opens /dev/tty (ssh asking for a password)
    // is stopped by SIGTTIN and hangs, while in its own session it gets ENXIO at once. Without a
    // terminal (batch systems, nohup), setpgid(0, 0) gives the same group and is ~12% faster
    // here: setsid() also creates a scheduler autogroup per task.
    const common = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    this.newSession = hasControllingTerminal(libc, this.#arena) &&
      // glibc < 2.26 has no POSIX_SPAWN_SETSID.
      libc.posix_spawnattr_setflags(this.#attr, common | POSIX_SPAWN_SETSID) === 0;
    if (!this.newSession) {
      check(libc.posix_spawnattr_setpgroup(this.#attr, 0), "posix_spawnattr_setpgroup");
      check(
        libc.posix_spawnattr_setflags(this.#attr, common | POSIX_SPAWN_SETPGROUP),
        "posix_spawnattr_setflags",
      );
    }
    // posix_spawn cannot set a parent-death signal (spec §5.1). When the worker exits through
    // Deno.exit() or the end of its event loop, its live tasks still get the SIGTERM they would
    // have got from the kernel; for a worker killed by a signal, worker/orphan_guard.ts does it.
    globalThis.addEventListener("unload", () => this.#reaper.signalAll(SIGNAL_NUMBERS.SIGTERM));
    const starting = startingOpenFileLimits();
    if (starting !== null) {
      this.#openFiles = new TaskOpenFileLimit(
        (pid, limit) => libc.prlimit(pid, RLIMIT_NOFILE, limit, null),
        starting.soft,
        starting.own,
      );
    }
  }

  spawn(options: SpawnOptions): TaskProcess {
    const process = new FfiTaskProcess(this.#libc);
    const slot = this.#idleSlots.pop() ?? new SpawnSlot();
    const pipes: PipeEnds[] = [];
    let call: Promise<number>;
    let inherited = false;
    try {
      for (const [fd, target] of [[1, options.stdout], [2, options.stderr]] as const) {
        if (!isPipe(target)) continue;
        this.#pipes ??= new PipeReader(this.#libc);
        const [read, write] = this.#pipes.pipe();
        pipes.push({ fd, read, write, sink: target });
      }
      this.#encode(options, slot, pipes);
      // Listening before the child exists: a SIGCHLD before the listener would be lost.
      this.#reaper.prepare();
      inherited = this.#openFiles?.beforeSpawn() ?? false;
      call = this.#libc.posix_spawnp(
        slot.pidOut,
        BigInt(slot.program),
        slot.fileActions,
        this.#attr,
        BigInt(slot.argvTable),
        BigInt(slot.envTable),
      );
    } catch (error) {
      this.#openFiles?.afterSpawn(inherited, null);
      this.#closePipes(pipes, true);
      this.#release(slot);
      this.#reaper.release();
      process.failed(error instanceof Error ? error : new Error(String(error)));
      return process;
    }
    this.#reaper.starting++;
    call.then(
      (errno) => {
        this.#openFiles?.afterSpawn(inherited, errno === 0 ? slot.pidView[0] : null);
        this.#started(process, slot, errno, options, pipes);
      },
      (error) => {
        this.#openFiles?.afterSpawn(inherited, null);
        // The call itself did not happen (it does not fail that way in practice).
        this.#reaper.starting--;
        this.#closePipes(pipes, true);
        this.#release(slot);
        this.#reaper.release();
        process.failed(error instanceof Error ? error : new Error(String(error)));
      },
    );
    return process;
  }

  /**
   * Lays out the call's strings and tables in the slot and builds its file actions; throws
   * `SpawnError` for a program not found in the task's PATH or a NUL byte.
   */
  /** The parent's write ends (the child has its copies), and the read ends too on failure. */
  #closePipes(pipes: PipeEnds[], readEnds: boolean): void {
    for (const pipe of pipes) {
      this.#libc.close(pipe.write);
      if (readEnds) this.#libc.close(pipe.read);
    }
  }

  #encode(options: SpawnOptions, slot: SpawnSlot, pipes: PipeEnds[]): void {
    const { argv, env, cwd } = options;
    if (argv.length === 0) throw new RangeError("Cannot spawn a task with an empty argv");
    const libc = this.#libc;
    const arena = slot.arena;
    const searchPath = env.PATH ?? DEFAULT_SEARCH_PATH;
    // glibc's posix_spawnp searches the worker's own PATH; when the task's differs, we search.
    const program =
      hasSlash(argv[0]) || searchPath === (Deno.env.get("PATH") ?? DEFAULT_SEARCH_PATH)
        ? argv[0]
        : this.#lookUpProgram(argv[0], searchPath, cwd);
    if (program === null) throw this.#spawnError(ENOENT, options);
    let envBlock = "";
    let envCount = 0;
    for (const key in env) {
      envBlock += key + "=" + env[key] + "\0";
      envCount++;
    }
    let stdinAddress: number, stdoutAddress: number, stderrAddress: number, cwdAddress: number;
    for (;;) {
      arena.begin();
      const argvAddresses = slot.argvAddresses;
      argvAddresses.length = 0;
      for (const arg of argv) argvAddresses.push(arena.cString(arg));
      slot.argvTable = arena.pointerTable(argvAddresses);
      slot.envTable = options.byteEnv
        ? arena.pointerTable([
          ...Object.entries(env).map(([key, value]) => arena.cString(`${key}=${value}`)),
          ...Object.entries(options.byteEnv).map(([key, value]) =>
            arena.cString(concatBytes(`${key}=`, value))
          ),
        ])
        : arena.cStringTable(envBlock, envCount);
      slot.program = program === argv[0] ? argvAddresses[0] : arena.cString(program);
      stdinAddress = arena.cString(options.stdin ?? DEV_NULL);
      stdoutAddress = arena.cString(isPipe(options.stdout) ? DEV_NULL : options.stdout ?? DEV_NULL);
      stderrAddress = arena.cString(isPipe(options.stderr) ? DEV_NULL : options.stderr ?? DEV_NULL);
      cwdAddress = arena.cString(cwd);
      if (!arena.overflowed) break;
      arena.grow();
    }
    if (arena.sawNul) {
      // Rust's wording: HyperQueue passes every value through a CString.
      const osError = "nul byte found in provided data";
      throw spawnError(options, { stage: "exec", errno: EINVAL, osError });
    }

    const actions = slot.fileActions;
    check(libc.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
    try {
      // Opened before the chdir, so relative paths mean the same as for the worker itself.
      check(
        libc.posix_spawn_file_actions_addopen(actions, 0, BigInt(stdinAddress), O_RDONLY, 0),
        "posix_spawn_file_actions_addopen",
      );
      const channels = [
        [1, options.stdout, stdoutAddress],
        [2, options.stderr, stderrAddress],
      ] as const;
      for (const [fd, target, address] of channels) {
        const pipe = pipes.find((each) => each.fd === fd);
        if (pipe) {
          // dup2 clears close-on-exec on the copy, so only fd 1/2 reach the program.
          check(
            libc.posix_spawn_file_actions_adddup2(actions, pipe.write, fd),
            "posix_spawn_file_actions_adddup2",
          );
          continue;
        }
        check(
          libc.posix_spawn_file_actions_addopen(
            actions,
            fd,
            BigInt(address),
            typeof target === "string"
              ? STREAM_FLAGS | outputDirectories.openFlags(target)
              : target === null
              ? O_WRONLY
              : STREAM_FLAGS,
            STREAM_MODE,
          ),
          "posix_spawn_file_actions_addopen",
        );
      }
      check(
        libc.posix_spawn_file_actions_addchdir_np(actions, BigInt(cwdAddress)),
        "posix_spawn_file_actions_addchdir_np",
      );
      // Deno opens everything close-on-exec, but what the worker inherited (a batch system's pipe,
      // say) is not: a task holding such a pipe open could delay whoever waits for its end.
      if (libc.posix_spawn_file_actions_addclosefrom_np !== null) {
        check(
          libc.posix_spawn_file_actions_addclosefrom_np(actions, 3),
          "posix_spawn_file_actions_addclosefrom_np",
        );
      }
    } catch (error) {
      libc.posix_spawn_file_actions_destroy(actions);
      throw error;
    }
    slot.hasActions = true;
  }

  /** The spawn call returned: the slot is free again, and the process started or failed. */
  #started(
    process: FfiTaskProcess,
    slot: SpawnSlot,
    errno: number,
    options: SpawnOptions,
    pipes: PipeEnds[],
  ): void {
    const pid = slot.pidView[0];
    this.#release(slot);
    this.#reaper.starting--;
    this.#closePipes(pipes, errno !== 0);
    if (errno !== 0) {
      this.#reaper.release();
      let error: Error;
      try {
        error = this.#spawnError(errno, options);
      } catch (diagnosis) {
        error = diagnosis instanceof Error ? diagnosis : new Error(String(diagnosis));
      }
      process.failed(error);
      return;
    }
    // Signals asked for meanwhile go out now, while the group surely exists (an exited leader
    // holds its id until it is reaped below).
    if (pipes.length > 0) process.attachPipes(this.#pipes!, pipes);
    process.running(pid);
    this.#reaper.track(process);
    // The spawn returned after the child's exec; a task that ended meanwhile is reaped now rather
    // than after the SIGCHLD's trip through Deno's signal thread (one waitid when none did). Its
    // SIGCHLD may have come before it was tracked, and then found nothing to reap.
    this.#reaper.reap();
  }

  #release(slot: SpawnSlot): void {
    if (slot.hasActions) {
      this.#libc.posix_spawn_file_actions_destroy(slot.fileActions);
      slot.hasActions = false;
    }
    if (this.#idleSlots.length < MAX_IDLE_SLOTS) this.#idleSlots.push(slot);
  }

  /**
   * execvp's search, for a task whose PATH differs from the worker's: the first executable
   * `<dir>/<name>`, else the first that exists (its exec then fails with EACCES), else null
   * (ENOENT). Relative directories are relative to the task's cwd, where the exec happens.
   */
  #lookUpProgram(
    name: string | Uint8Array,
    searchPath: string,
    cwd: string,
  ): Uint8Array | null {
    const nameBytes = typeof name === "string" ? new TextEncoder().encode(name) : name;
    let fallback: Uint8Array | null = null;
    for (const dir of searchPath.split(":")) {
      const execPath = concatBytes(`${dir === "" ? "." : dir}/`, nameBytes);
      const checkPath = dir.startsWith("/") ? execPath : concatBytes(`${cwd}/`, execPath);
      const address = this.#cString(checkPath);
      if (address === 0) continue;
      if (this.#libc.access(BigInt(address), X_OK) === 0) return execPath;
      if (fallback === null && this.#libc.access(BigInt(address), 0) === 0) fallback = execPath;
    }
    return fallback;
  }

  /** The value as a C string in the launcher's own arena; 0 if it does not fit. */
  #cString(value: string | Uint8Array): number {
    this.#arena.begin();
    return this.#arena.cString(value);
  }

  #spawnError(errno: number, options: SpawnOptions): SpawnError {
    const osError = strerror(this.#libc, errno);
    return spawnError(options, { stage: this.#failedStage(options), errno, osError });
  }

  /**
   * posix_spawn returns an errno without saying which step failed, so on the (rare) failure path
   * the steps are retried here, in the child's order, without their effects.
   */
  #failedStage(options: SpawnOptions): SpawnStage {
    const opens = (path: string, flags: number) => {
      const address = this.#cString(path);
      if (address === 0) return true;
      const fd = this.#libc.open(BigInt(address), flags, STREAM_MODE);
      if (fd < 0) return false;
      this.#libc.close(fd);
      return true;
    };
    if (options.stdin && !opens(options.stdin, O_RDONLY)) return "stdin";
    for (const stage of ["stdout", "stderr"] as const) {
      const target = options[stage];
      if (
        typeof target === "string" &&
        !opens(target, O_WRONLY | O_CREAT | outputDirectories.openFlags(target))
      ) return stage;
    }
    if (!opens(options.cwd, O_PATH | O_DIRECTORY)) return "cwd";
    if (this.#libc.access(BigInt(this.#cString(options.cwd)), X_OK) !== 0) return "cwd";
    return "exec";
  }
}

/**
 * The memory of one spawn call, which the call owns until it returns: it runs on another thread,
 * so concurrent spawns each need their own. The attribute object is shared (read only).
 */
class SpawnSlot {
  readonly arena = new CStringArena();
  readonly fileActions = offHeapBytes(FILE_ACTIONS_BYTES);
  /** Whether `fileActions` was initialized and still needs destroying. */
  hasActions = false;
  readonly pidOut = offHeapBytes(8);
  readonly pidView = new Int32Array(this.pidOut.buffer, 0, 1);
  readonly argvAddresses: number[] = [];
  program = 0;
  argvTable = 0;
  envTable = 0;
}

/** A pipe made for one channel of one spawn. */
interface PipeEnds {
  fd: 1 | 2;
  read: number;
  write: number;
  sink: PipeSink;
}

const DRAINED = Promise.resolve();

class FfiTaskProcess implements TaskProcess {
  readonly started: Promise<void>;
  readonly exited: Promise<ProcessExit>;
  /** Made only when asked for while pipes are open: most tasks have none. */
  #drained: Promise<void> | null = null;
  #resolveDrained: (() => void) | null = null;
  #isDrained = false;
  /** Read ends not at end of file yet; null without pipes. */
  #openPipes: Set<number> | null = null;
  #pipeReader: PipeReader | null = null;
  /** Set by stop(): the reaper then SIGKILLs the group before it reaps the leader. */
  stopping = false;
  #pid = 0;
  #state: "starting" | "live" | "ended" = "starting";
  /** Signals asked for while starting, sent once the group exists. */
  #pendingSignals: number[] = [];
  #stopped: Promise<ProcessExit> | undefined;
  readonly #libc: Libc;
  #run!: () => void;
  #failStart!: (error: Error) => void;
  #settle!: (exit: ProcessExit) => void;
  #fail!: (error: Error) => void;

  constructor(libc: Libc) {
    this.#libc = libc;
    this.started = new Promise((resolve, reject) => {
      this.#run = resolve;
      this.#failStart = reject;
    });
    this.exited = new Promise((resolve, reject) => {
      this.#settle = resolve;
      this.#fail = reject;
    });
    // A caller may watch only one of the two: the other's rejection is not an unhandled one.
    this.started.catch(() => {});
    this.exited.catch(() => {});
  }

  get pid(): number {
    return this.#pid;
  }

  get drained(): Promise<void> {
    if (this.#isDrained) return DRAINED;
    return this.#drained ??= new Promise((resolve) => this.#resolveDrained = resolve);
  }

  #drain(): void {
    this.#isDrained = true;
    this.#resolveDrained?.();
  }

  get pipesOpen(): boolean {
    return (this.#openPipes?.size ?? 0) > 0;
  }

  attachPipes(reader: PipeReader, pipes: PipeEnds[]): void {
    this.#pipeReader = reader;
    const open = this.#openPipes = new Set();
    for (const { read, sink } of pipes) {
      open.add(read);
      reader.watch(read, sink.onData.bind(sink), () => {
        open.delete(read);
        if (open.size === 0) this.#drain();
      });
    }
  }

  abandonPipes(): void {
    // Only pipes still open: a closed one's number may already belong to another task's pipe.
    if (this.#openPipes) { for (const fd of [...this.#openPipes]) this.#pipeReader?.abandon(fd); }
  }

  kill(signal: TaskSignal): void {
    this.signalGroup(SIGNAL_NUMBERS[signal]);
  }

  /**
   * Only while the leader is unreaped: until then, even as a zombie, it holds the group id, which
   * therefore names no other group. After reaping, the id could be reused.
   */
  signalGroup(signal: number): void {
    if (this.#state === "live") this.#libc.kill(-this.#pid, signal);
    else if (this.#state === "starting") this.#pendingSignals.push(signal);
  }

  stop(graceMs = DEFAULT_GRACE_MS): Promise<ProcessExit> {
    if (this.#state === "ended") return this.exited;
    this.#stopped ??= this.#stop(graceMs);
    return this.#stopped;
  }

  async #stop(graceMs: number): Promise<ProcessExit> {
    this.stopping = true;
    this.kill("SIGINT");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The child exec'd: it has a pid, and signals asked for meanwhile go to its group. */
  running(pid: number): void {
    this.#pid = pid;
    this.#state = "live";
    this.#run();
    if (this.#pipeReader === null) this.#drain();
    const signals = this.#pendingSignals;
    this.#pendingSignals = [];
    for (const signal of signals) this.signalGroup(signal);
  }

  failed(error: Error): void {
    this.#state = "ended";
    this.#drain();
    this.#pendingSignals = [];
    this.#failStart(error);
    this.#fail(error);
  }

  reaped(exit: ProcessExit | Error): void {
    this.#state = "ended";
    // What the task printed is in its pipes: read now, no wake-up of the pipe reader needed. A
    // pipe that what the task left behind still holds open stays watched.
    if (this.#openPipes) { for (const fd of [...this.#openPipes]) this.#pipeReader?.drain(fd); }
    if (exit instanceof Error) this.#fail(exit);
    else this.#settle(exit);
  }
}

/** A task that could not be started at all (a TaskProcess, so that callers have one channel). */
class FailedTaskProcess implements TaskProcess {
  readonly pid = 0;
  readonly started: Promise<void>;
  readonly exited: Promise<ProcessExit>;
  readonly drained = Promise.resolve();
  readonly pipesOpen = false;

  constructor(error: Error) {
    this.started = Promise.reject(error);
    this.exited = Promise.reject(error);
    this.started.catch(() => {});
    this.exited.catch(() => {});
  }

  kill(): void {}

  abandonPipes(): void {}

  stop(): Promise<ProcessExit> {
    return this.exited;
  }
}

/**
 * Reaps the tasks this module started. On SIGCHLD it asks the kernel which child is waitable
 * without reaping it (`waitid(P_ALL, WNOWAIT)`) and reaps that one if it is ours, so each exit
 * costs a couple of calls however many tasks run. A waitable child that is not ours (a
 * `Deno.Command` child that Deno has not reaped yet) hides the rest of the queue; then the reaper
 * asks each of its pids with `waitpid(pid, WNOHANG)`.
 */
class Reaper {
  readonly #libc: Libc;
  readonly #byPid = new Map<number, FfiTaskProcess>();
  readonly #status = offHeapBytes(4);
  readonly #statusView = new Int32Array(this.#status.buffer);
  readonly #siginfo = offHeapBytes(SIGINFO_BYTES);
  readonly #siginfoView = new Int32Array(this.#siginfo.buffer);
  readonly #onSigchld = () => this.reap();
  readonly #onTick = () => this.#tick();
  /** Set while listening (the fallback poll runs as long as the listener is bound). */
  #fallbackTimer: ReturnType<typeof setInterval> | undefined;
  /** Listening with no task left: the timer is unref'd. */
  #idle = false;
  /** Spawn calls in flight: their children may exit before they are tracked. */
  starting = 0;

  constructor(libc: Libc) {
    this.#libc = libc;
  }

  /** Starts listening for SIGCHLD, if not already; call before spawning. */
  prepare(): void {
    if (this.#idle) {
      this.#idle = false;
      Deno.refTimer(this.#fallbackTimer!);
    }
    if (this.#fallbackTimer !== undefined) return;
    Deno.addSignalListener("SIGCHLD", this.#onSigchld);
    // The signal listener does not keep Deno alive; this timer does, while tasks run.
    this.#fallbackTimer = setInterval(this.#onTick, FALLBACK_POLL_MS);
  }

  /**
   * Once no task is left, lets Deno exit without us; listening stops at the next tick. The code
   * that awaited the last `exited` often starts the next task at once: binding the listener
   * again would cost that task ~30 µs (and a setTimeout ~25 µs), an unref costs 0.2 µs.
   */
  release(): void {
    if (this.#idle || this.#fallbackTimer === undefined) return;
    if (this.#byPid.size > 0 || this.starting > 0) return;
    this.#idle = true;
    Deno.unrefTimer(this.#fallbackTimer);
  }

  #tick(): void {
    this.reap();
    if (!this.#idle) return;
    Deno.removeSignalListener("SIGCHLD", this.#onSigchld);
    clearInterval(this.#fallbackTimer);
    this.#fallbackTimer = undefined;
    this.#idle = false;
  }

  track(process: FfiTaskProcess): void {
    this.#byPid.set(process.pid, process);
  }

  reap(): void {
    while (this.#byPid.size > 0) {
      const pid = this.#peek(P_ALL, 0);
      if (pid <= 0) break;
      const process = this.#byPid.get(pid);
      if (process === undefined) {
        for (const each of this.#byPid.values()) this.#collect(each, false);
        break;
      }
      if (!this.#collect(process, true)) break;
    }
    this.release();
  }

  signalAll(signal: number): void {
    for (const process of this.#byPid.values()) process.signalGroup(signal);
  }

  /** A waitable child's pid without reaping it; 0 if none is waitable, -1 if there is none. */
  #peek(idType: number, id: number): number {
    this.#siginfoView[SIGINFO_PID_OFFSET / 4] = 0;
    const result = this.#libc.waitid(idType, id, this.#siginfo, WEXITED | WNOHANG | WNOWAIT);
    return result === 0 ? this.#siginfoView[SIGINFO_PID_OFFSET / 4] : -1;
  }

  /** Reaps the process if it has exited; returns whether it did. */
  #collect(process: FfiTaskProcess, knownExited: boolean): boolean {
    const pid = process.pid;
    if (process.stopping) {
      const waitable = knownExited ? pid : this.#peek(P_PID, pid);
      if (waitable === 0) return false;
      // Spec §5.3 ends with SIGKILL to the group: sent while the zombie still holds the id.
      if (waitable === pid) process.signalGroup(SIGNAL_NUMBERS.SIGKILL);
    }
    const result = this.#libc.waitpid(pid, this.#status, WNOHANG);
    if (result === 0) return false;
    this.#byPid.delete(pid);
    process.reaped(
      result === pid ? decodeWaitStatus(this.#statusView[0]) : new Error(
        `Task process ${pid} was reaped by other code in this process (a waitpid(-1) elsewhere?)`,
      ),
    );
    return true;
  }
}

function hasControllingTerminal(libc: Libc, arena: CStringArena): boolean {
  arena.begin();
  const fd = libc.open(BigInt(arena.cString("/dev/tty")), O_RDONLY | O_NOCTTY | O_CLOEXEC, 0);
  if (fd < 0) return false; // ENXIO: no controlling terminal
  libc.close(fd);
  return true;
}

function decodeWaitStatus(status: number): ProcessExit {
  const signal = status & 0x7f;
  return signal === 0 ? { type: "exited", code: (status >> 8) & 0xff } : signaled(signal);
}

function check(result: number, call: string): void {
  if (result !== 0) throw new Error(`${call} failed with error ${result}`);
}

function hasSlash(arg: string | Uint8Array): boolean {
  return typeof arg === "string" ? arg.includes("/") : arg.includes(0x2f);
}

function concatBytes(prefix: string, suffix: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(prefix);
  const bytes = new Uint8Array(head.length + suffix.length);
  bytes.set(head);
  bytes.set(suffix, head.length);
  return bytes;
}

function decodeValues(values: Readonly<Record<string, Uint8Array>>): Record<string, string> {
  const decoder = new TextDecoder();
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [key, decoder.decode(value)]),
  );
}

function argvText(argv: ReadonlyArray<string | Uint8Array>): string {
  const decoder = new TextDecoder();
  return argv.map((arg) => typeof arg === "string" ? arg : decoder.decode(arg)).join(" ");
}

// ---------------------------------------------------------------------------------------------
// Fallback without FFI: Deno.Command.

class DenoCommandLauncher implements Launcher {
  spawn(options: SpawnOptions): TaskProcess {
    const { argv } = options;
    if (argv.length === 0) throw new RangeError("Cannot spawn a task with an empty argv");
    const decoder = new TextDecoder();
    const [program, ...args] = argv.map((arg) =>
      typeof arg === "string" ? arg : decoder.decode(arg)
    );
    const files: Deno.FsFile[] = [];
    const open = (
      stage: SpawnStage,
      path: string | null | PipeSink | undefined,
      write: boolean,
    ) => {
      if (!path || isPipe(path)) return null;
      // Deno.open has no O_NOFOLLOW: a link is refused before (a race remains on this path only).
      if (write && outputDirectories.isShared(path) && isSymlink(path)) {
        for (const file of files) file.close();
        throw spawnError(options, {
          stage,
          errno: 40,
          osError: "Too many levels of symbolic links",
        });
      }
      try {
        const file = Deno.openSync(
          path,
          write ? { write, create: true, truncate: true, mode: STREAM_MODE } : { read: true },
        );
        files.push(file);
        return file;
      } catch (error) {
        for (const file of files) file.close();
        throw spawnError(options, { stage, ...osErrorOf(error) });
      }
    };
    const stdin = open("stdin", options.stdin, false);
    const stdout = open("stdout", options.stdout, true);
    const stderr = open("stderr", options.stderr, true);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program, {
        args,
        // Deno.Command takes strings only: byte values are decoded (lossy for non-UTF-8).
        env: options.byteEnv ? { ...options.env, ...decodeValues(options.byteEnv) } : options.env,
        clearEnv: true,
        cwd: options.cwd,
        stdin: stdin ? "piped" : "null",
        stdout: stdout || isPipe(options.stdout) ? "piped" : "null",
        stderr: stderr || isPipe(options.stderr) ? "piped" : "null",
        // setsid() in the child: its own session and process group.
        detached: true,
      }).spawn();
    } catch (error) {
      for (const file of files) file.close();
      const stage = error instanceof Deno.errors.NotFound && !isDirectory(options.cwd)
        ? "cwd"
        : "exec";
      throw spawnError(options, { stage, ...osErrorOf(error) });
    }
    const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
    const toSink = (readable: ReadableStream<Uint8Array>, sink: PipeSink) => {
      const reader = readable.getReader();
      readers.push(reader);
      return (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          sink.onData(value);
        }
      })().catch(() => {});
    };
    const pipes = [
      isPipe(options.stdout) ? toSink(child.stdout, options.stdout) : null,
      isPipe(options.stderr) ? toSink(child.stderr, options.stderr) : null,
    ];
    return new CommandTaskProcess(child, [
      stdin ? stdin.readable.pipeTo(child.stdin).catch(() => {}) : null,
      stdout ? child.stdout.pipeTo(stdout.writable) : null,
      stderr ? child.stderr.pipeTo(stderr.writable) : null,
    ], {
      drained: Promise.all(pipes).then(() => {}),
      abandon: () => readers.forEach((reader) => reader.cancel().catch(() => {})),
    });
  }
}

class CommandTaskProcess implements TaskProcess {
  readonly pid: number;
  readonly started: Promise<void> = Promise.resolve();
  readonly exited: Promise<ProcessExit>;
  readonly drained: Promise<void>;
  readonly abandonPipes: () => void;
  pipesOpen = true;
  #live = true;
  #stopped: Promise<ProcessExit> | undefined;

  constructor(
    child: Deno.ChildProcess,
    copies: Array<Promise<void> | null>,
    pipes: { drained: Promise<void>; abandon: () => void },
  ) {
    this.pid = child.pid;
    this.drained = pipes.drained.then(() => {
      this.pipesOpen = false;
    });
    this.abandonPipes = pipes.abandon;
    this.exited = (async () => {
      const status = await child.status;
      this.#live = false;
      await Promise.allSettled(copies);
      return status.signal === null
        ? { type: "exited", code: status.code } as const
        : signaled(SIGNAL_NAMES.indexOf(status.signal));
    })();
  }

  kill(signal: TaskSignal): void {
    if (!this.#live) return;
    try {
      Deno.kill(-this.pid, signal);
    } catch { /* the group is already gone */ }
  }

  stop(graceMs = DEFAULT_GRACE_MS): Promise<ProcessExit> {
    if (!this.#live) return this.exited;
    this.#stopped ??= (async () => {
      this.kill("SIGINT");
      const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
      // Deno has reaped the leader already, so the group id may (rarely) be reused by now.
      try {
        Deno.kill(-this.pid, "SIGKILL");
      } catch { /* no process left in the group */ }
      return this.exited;
    })();
    return this.#stopped;
  }
}

/** glibc's texts for the errors a spawn or an open can meet; Deno's messages vary by call. */
const OS_ERRORS: Record<string, [number, string]> = {
  E2BIG: [7, "Argument list too long"],
  EACCES: [13, "Permission denied"],
  EAGAIN: [11, "Resource temporarily unavailable"],
  EISDIR: [21, "Is a directory"],
  ELOOP: [40, "Too many levels of symbolic links"],
  EMFILE: [24, "Too many open files"],
  ENAMETOOLONG: [36, "File name too long"],
  ENOENT: [2, "No such file or directory"],
  ENOEXEC: [8, "Exec format error"],
  ENOMEM: [12, "Cannot allocate memory"],
  ENOSPC: [28, "No space left on device"],
  ENOTDIR: [20, "Not a directory"],
  EROFS: [30, "Read-only file system"],
  ETXTBSY: [26, "Text file busy"],
};

function osErrorOf(error: unknown): { errno: number; osError: string } {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code in OS_ERRORS) {
    const [errno, osError] = OS_ERRORS[code];
    return { errno, osError };
  }
  const message = error instanceof Error ? error.message : String(error);
  const match = /(?:^|: )([^:]*?) \(os error (\d+)\)/.exec(message);
  return match ? { errno: Number(match[2]), osError: match[1] } : { errno: 0, osError: message };
}

function isSymlink(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSymlink;
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
