/**
 * The few glibc calls the task launcher makes through FFI (Linux x86_64, glibc >= 2.29 for
 * `posix_spawn_file_actions_addchdir_np`), and an arena that lays out C strings and pointer tables
 * in memory that never moves.
 */

export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_CREAT = 0o100;
export const O_TRUNC = 0o1000;
export const O_DIRECTORY = 0o200000;
export const O_PATH = 0o10000000;
export const O_NOCTTY = 0o400;
export const O_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;
export const F_SETFL = 4;

export const POSIX_SPAWN_SETPGROUP = 0x02;
export const POSIX_SPAWN_SETSIGDEF = 0x04;
export const POSIX_SPAWN_SETSIGMASK = 0x08;
/** glibc >= 2.26: the child calls setsid(), so it leads a new session and process group. */
export const POSIX_SPAWN_SETSID = 0x80;

export const P_ALL = 0;
export const P_PID = 1;
export const WNOHANG = 1;
export const WEXITED = 4;
export const WNOWAIT = 0x1000000;

export const X_OK = 1;

export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 0x001;
/** `struct epoll_event` is packed on x86_64: u32 events, then u64 data. */
export const EPOLL_EVENT_BYTES = 12;

export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const EINVAL = 22;

/** glibc x86_64 sizes, rounded up: posix_spawnattr_t 336, file actions 80, sigset_t 128. */
export const SPAWNATTR_BYTES = 512;
export const FILE_ACTIONS_BYTES = 128;
export const SIGSET_BYTES = 128;
/** siginfo_t is 128 bytes; `si_pid` is the int at byte 16. */
export const SIGINFO_BYTES = 128;
export const SIGINFO_PID_OFFSET = 16;

// Pointers into the arena go as "usize" integers: no pointer object per string and call.
const SYMBOLS = {
  // Nonblocking: it runs on Deno's blocking thread pool and returns a Promise. The parent side of
  // posix_spawn waits until the child has exec'd (~0.4 ms), which the JS thread spends on other
  // work meanwhile. Everything it points at must stay put and untouched until the promise settles.
  // Its PATH search reads the environment on that thread: nothing in the worker changes it.
  posix_spawnp: {
    parameters: ["buffer", "usize", "buffer", "buffer", "usize", "usize"],
    result: "i32",
    nonblocking: true,
  },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setpgroup: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "usize", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "usize"], result: "i32" },
  // glibc >= 2.34; without it, descriptors the worker inherited without FD_CLOEXEC reach tasks.
  posix_spawn_file_actions_addclosefrom_np: {
    parameters: ["buffer", "i32"],
    result: "i32",
    optional: true,
  },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  waitid: { parameters: ["i32", "u32", "buffer", "i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  access: { parameters: ["usize", "i32"], result: "i32" },
  // open(2) is variadic; on x86_64 the mode is passed like a fixed third argument.
  open: { parameters: ["usize", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // Pipes of streamed tasks (spec §10.1), read by worker/pipe_reader.ts.
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // fcntl(2) is variadic; on x86_64 an int argument is passed like a fixed third argument.
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // errno of the calling thread (the synchronous calls all run on the JS thread).
  __errno_location: { parameters: [], result: "pointer" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  // Nonblocking: waits on Deno's blocking thread pool (one thread for all pipes of the worker).
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32", nonblocking: true },
  strerror: { parameters: ["i32"], result: "pointer" },
  // A task's open-file limit back to the worker's starting one (worker/open_file_limit.ts).
  prlimit: { parameters: ["i32", "i32", "buffer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * Opens libc, or returns why it cannot: no FFI permission, not Linux, or a glibc without
 * `posix_spawn_file_actions_addchdir_np`.
 */
export function openLibc(): { libc: Libc } | { reason: string } {
  if (Deno.build.os !== "linux") {
    return { reason: `FFI launcher needs Linux, not ${Deno.build.os}` };
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return { reason: "no FFI permission (--allow-ffi)" };
  }
  try {
    return { libc: Deno.dlopen("libc.so.6", SYMBOLS).symbols };
  } catch (error) {
    return { reason: `cannot load libc.so.6: ${error instanceof Error ? error.message : error}` };
  }
}

/** A zeroed buffer outside the V8 heap: small typed arrays may live on the heap and move. */
export function offHeapBytes(length: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(length));
}

export function strerror(libc: Libc, errno: number): string {
  const pointer = libc.strerror(errno);
  return pointer === null ? `Unknown error ${errno}` : Deno.UnsafePointerView.getCString(pointer);
}

const encoder = new TextEncoder();
const POINTER_BYTES = 8;
const TWO_POW_32 = 2 ** 32;

/**
 * NUL-terminated strings and NULL-terminated pointer tables for one libc call, in one reusable
 * off-heap buffer whose address is read once. `begin()` starts over; if anything did not fit,
 * `overflowed` is set, and the caller calls `grow()` and encodes everything again (growing moves
 * the buffer, so addresses from before are void). One call's strings at a time: a call that runs
 * on another thread (a nonblocking symbol) owns its arena until it returns.
 */
export class CStringArena {
  #bytes: Uint8Array<ArrayBuffer>;
  #words: Uint32Array;
  #base: number;
  #used = 0;
  readonly #scratch: number[] = [];
  overflowed = false;
  sawNul = false;

  constructor(initialBytes = 64 * 1024) {
    this.#bytes = offHeapBytes(initialBytes);
    this.#words = new Uint32Array(this.#bytes.buffer);
    this.#base = addressOf(this.#bytes);
  }

  begin(): void {
    this.#used = 0;
    this.overflowed = false;
    this.sawNul = false;
  }

  grow(): void {
    this.#bytes = offHeapBytes(this.#bytes.length * 2);
    this.#words = new Uint32Array(this.#bytes.buffer);
    this.#base = addressOf(this.#bytes);
  }

  /**
   * Copies the string (UTF-8) or bytes and a NUL; returns its address (0 after an overflow). A NUL
   * inside the value sets `sawNul`: C would see the value cut short there.
   */
  cString(value: string | Uint8Array): number {
    const start = this.#used;
    const room = this.#bytes.length - start - 1;
    if (room < value.length) return this.#overflow();
    let written: number;
    if (typeof value === "string") {
      const result = encoder.encodeInto(value, this.#bytes.subarray(start, start + room));
      if (result.read < value.length) return this.#overflow();
      if (value.includes("\0")) this.sawNul = true;
      written = result.written;
    } else {
      if (value.includes(0)) this.sawNul = true;
      this.#bytes.set(value, start);
      written = value.length;
    }
    this.#bytes[start + written] = 0;
    this.#used = start + written + 1;
    return this.#base + start;
  }

  /**
   * Copies `count` strings given as one string, each followed by a NUL, and returns the address of
   * a pointer table to them. One encodeInto() of a flat string is several times faster than one
   * per entry, which would flatten each concatenated entry separately.
   */
  cStringTable(terminated: string, count: number): number {
    const start = this.#used;
    const room = this.#bytes.length - start;
    if (room < terminated.length) return this.#overflow();
    const bytes = this.#bytes;
    const result = encoder.encodeInto(terminated, bytes.subarray(start, start + room));
    if (result.read < terminated.length) return this.#overflow();
    const end = start + result.written;
    this.#used = end;
    const addresses = this.#scratch;
    addresses.length = 0;
    // A plain loop: Uint8Array.prototype.indexOf costs ~90 ns a call here.
    let entry = start;
    for (let i = start; i < end; i++) {
      if (bytes[i] === 0) {
        addresses.push(this.#base + entry);
        entry = i + 1;
      }
    }
    // More NULs than entries: one was inside a value.
    if (addresses.length !== count) this.sawNul = true;
    return this.pointerTable(addresses);
  }

  /** Writes the addresses and a NULL pointer, 8-byte aligned; returns the table's address. */
  pointerTable(addresses: number[]): number {
    const start = Math.ceil(this.#used / POINTER_BYTES) * POINTER_BYTES;
    const end = start + (addresses.length + 1) * POINTER_BYTES;
    if (end > this.#bytes.length) return this.#overflow();
    let word = start / 4;
    for (const address of addresses) {
      // x86_64 user addresses are below 2^47, so a double holds them exactly.
      const low = address >>> 0;
      this.#words[word++] = low;
      this.#words[word++] = (address - low) / TWO_POW_32;
    }
    this.#words[word++] = 0;
    this.#words[word] = 0;
    this.#used = end;
    return this.#base + start;
  }

  #overflow(): number {
    this.overflowed = true;
    return 0;
  }
}

function addressOf(bytes: Uint8Array<ArrayBuffer>): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}
