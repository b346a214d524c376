/**
 * Reads the pipes of streamed tasks (spec §10.1). A short task's pipe is never waited on: the
 * launcher reads it to its end when it reaps the task (`drain`; the read end is non-blocking), so
 * its output costs a few `read` calls and no wake-up of its own. A pipe still open one tick
 * (`AGE_TICK_MS`) after its task started joins one epoll set, so that a task printing more than
 * the pipe holds never waits longer than that: a single `epoll_wait` runs on Deno's blocking
 * thread pool at a time, whatever the number of pipes, and each readable pipe is then read
 * synchronously. A thread per pipe would exhaust the pool that posix_spawnp also runs on.
 */
import {
  EAGAIN,
  EINTR,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_EVENT_BYTES,
  EPOLLIN,
  F_SETFL,
  type Libc,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  offHeapBytes,
} from "./_libc.ts";

const READ_BYTES = 64 * 1024;
const MAX_EVENTS = 64;
/** How long an idle wait lasts: the loop ends this long after the last pipe closed. */
const WAIT_TIMEOUT_MS = 250;
/**
 * A pipe joins the epoll set once it was open at two ticks in a row, so after 10–20 ms: a task
 * that fills its pipe (64 KiB) sooner waits at most that long, once.
 */
const AGE_TICK_MS = 10;
/** Pieces a reaped task's pipe is read in at most (4 MiB) before the rest waits for epoll. */
const DRAIN_READS = 64;

interface Watched {
  fd: number;
  /** The epoll event's data: never reused, so an event of a closed pipe finds nothing. */
  token: number;
  inEpoll: boolean;
  onData: (data: Uint8Array) => void;
  onEnd: () => void;
}

export class PipeReader {
  readonly #libc: Libc;
  readonly #epoll: number;
  readonly #byFd = new Map<number, Watched>();
  readonly #byToken = new Map<number, Watched>();
  readonly #events = offHeapBytes(MAX_EVENTS * EPOLL_EVENT_BYTES);
  readonly #eventsView = new DataView(this.#events.buffer);
  readonly #event = offHeapBytes(EPOLL_EVENT_BYTES);
  readonly #eventView = new DataView(this.#event.buffer);
  readonly #buffer = offHeapBytes(READ_BYTES);
  readonly #fds = offHeapBytes(8);
  readonly #fdsView = new Int32Array(this.#fds.buffer);
  readonly #errno: Deno.UnsafePointerView;
  #nextToken = 1;
  #looping = false;
  /** Pipes watched since the last tick, and those already watched then. */
  #fresh: Watched[] = [];
  #aging: Watched[] = [];
  #ticker: ReturnType<typeof setInterval> | undefined;

  constructor(libc: Libc) {
    this.#libc = libc;
    this.#epoll = libc.epoll_create1(O_CLOEXEC);
    if (this.#epoll < 0) throw new Error("epoll_create1 failed");
    // errno of this thread, where the synchronous calls run.
    this.#errno = new Deno.UnsafePointerView(libc.__errno_location()!);
  }

  /** A new pipe, both ends close-on-exec, the read end non-blocking: `[readEnd, writeEnd]`. */
  pipe(): [number, number] {
    if (this.#libc.pipe2(this.#fds, O_CLOEXEC) !== 0) throw new Error("pipe2 failed");
    const read = this.#fdsView[0];
    const write = this.#fdsView[1];
    // Only the read end: the task's end stays blocking, as a program expects of its stdout. A
    // new read end's status flags are O_RDONLY alone (close-on-exec is a descriptor flag).
    if (this.#libc.fcntl(read, F_SETFL, O_RDONLY | O_NONBLOCK) !== 0) {
      this.#libc.close(read);
      this.#libc.close(write);
      throw new Error("fcntl O_NONBLOCK failed");
    }
    return [read, write];
  }

  close(fd: number): void {
    this.#libc.close(fd);
  }

  /**
   * Reads `fd` until end of file, passing each piece to `onData` (a copy the callee keeps), then
   * closes it and calls `onEnd`.
   */
  watch(fd: number, onData: (data: Uint8Array) => void, onEnd: () => void): void {
    const watched: Watched = { fd, token: 0, inEpoll: false, onData, onEnd };
    this.#byFd.set(fd, watched);
    this.#fresh.push(watched);
    this.#ticker ??= setInterval(() => this.#tick(), AGE_TICK_MS);
  }

  /**
   * Reads what `fd` holds now (its task was reaped); returns whether it reached end of file and
   * ended. A pipe that stays open (held by what the task left behind) is then waited on.
   */
  drain(fd: number): boolean {
    const watched = this.#byFd.get(fd);
    if (!watched) return true;
    if (this.#readAvailable(watched, DRAIN_READS)) return true;
    this.#addToEpoll(watched);
    return false;
  }

  /** Stops reading `fd` (what it still holds is dropped), closes it and calls its `onEnd`. */
  abandon(fd: number): void {
    const watched = this.#byFd.get(fd);
    if (watched) this.#end(watched);
  }

  #tick(): void {
    for (const watched of this.#aging) {
      if (this.#byFd.get(watched.fd) === watched && !watched.inEpoll) this.#addToEpoll(watched);
    }
    this.#aging = this.#fresh;
    this.#fresh = [];
    if (this.#aging.length === 0) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
  }

  #addToEpoll(watched: Watched): void {
    watched.token = this.#nextToken++;
    const view = this.#eventView;
    view.setUint32(0, EPOLLIN, true);
    view.setUint32(4, watched.token >>> 0, true);
    view.setUint32(8, Math.floor(watched.token / 2 ** 32), true);
    if (this.#libc.epoll_ctl(this.#epoll, EPOLL_CTL_ADD, watched.fd, this.#event) !== 0) {
      // Cannot wait for it: what it holds now is read, the rest dropped.
      this.#end(watched);
      return;
    }
    watched.inEpoll = true;
    this.#byToken.set(watched.token, watched);
    if (!this.#looping) this.#loop();
  }

  async #loop(): Promise<void> {
    this.#looping = true;
    try {
      while (this.#byToken.size > 0) {
        const count = await this.#libc.epoll_wait(
          this.#epoll,
          this.#events,
          MAX_EVENTS,
          WAIT_TIMEOUT_MS,
        );
        for (let i = 0; i < count; i++) {
          const at = i * EPOLL_EVENT_BYTES + 4;
          const token = this.#eventsView.getUint32(at, true) +
            this.#eventsView.getUint32(at + 4, true) * 2 ** 32;
          const watched = this.#byToken.get(token);
          // One read: a pipe that a busy writer keeps full must not hold up the event loop.
          if (watched) this.#readAvailable(watched, 1);
        }
      }
    } finally {
      this.#looping = false;
    }
  }

  /**
   * Reads until the pipe is empty or at its end (then ends it), at most `reads` pieces; returns
   * whether it ended.
   */
  #readAvailable(watched: Watched, reads: number): boolean {
    for (let left = reads; left > 0;) {
      const count = Number(this.#libc.read(watched.fd, this.#buffer, BigInt(READ_BYTES)));
      if (count > 0) {
        watched.onData(this.#buffer.slice(0, count));
        left--;
        continue;
      }
      if (count < 0) {
        const errno = this.#errno.getInt32();
        if (errno === EAGAIN) return false;
        if (errno === EINTR) continue;
      }
      // 0 = every writer closed it; an error (EIO, say) ends the stream the same way.
      this.#end(watched);
      return true;
    }
    return false;
  }

  #end(watched: Watched): void {
    this.#byFd.delete(watched.fd);
    if (watched.inEpoll) {
      this.#byToken.delete(watched.token);
      this.#libc.epoll_ctl(this.#epoll, EPOLL_CTL_DEL, watched.fd, this.#event);
      watched.inEpoll = false;
    }
    this.#libc.close(watched.fd);
    watched.onEnd();
  }
}
