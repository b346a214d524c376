/**
 * Reads the pipes of streamed tasks (spec §10.1) with one epoll set: a single `epoll_wait` runs on
 * Deno's blocking thread pool at a time, whatever the number of pipes, and each readable pipe is
 * then read synchronously (level-triggered, so a read never blocks). A thread per pipe would
 * exhaust the pool that posix_spawnp also runs on.
 */
import {
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_EVENT_BYTES,
  EPOLLIN,
  type Libc,
  O_CLOEXEC,
  offHeapBytes,
} from "./_libc.ts";

const READ_BYTES = 64 * 1024;
const MAX_EVENTS = 64;
/** How long an idle wait lasts: the loop ends this long after the last pipe closed. */
const WAIT_TIMEOUT_MS = 250;

interface Watched {
  onData: (data: Uint8Array) => void;
  onEnd: () => void;
}

export class PipeReader {
  readonly #libc: Libc;
  readonly #epoll: number;
  readonly #byFd = new Map<number, Watched>();
  readonly #events = offHeapBytes(MAX_EVENTS * EPOLL_EVENT_BYTES);
  readonly #eventsView = new DataView(this.#events.buffer);
  readonly #event = offHeapBytes(EPOLL_EVENT_BYTES);
  readonly #buffer = offHeapBytes(READ_BYTES);
  readonly #fds = offHeapBytes(8);
  #looping = false;

  constructor(libc: Libc) {
    this.#libc = libc;
    this.#epoll = libc.epoll_create1(O_CLOEXEC);
    if (this.#epoll < 0) throw new Error("epoll_create1 failed");
  }

  /** A new pipe, both ends close-on-exec: `[readEnd, writeEnd]`. */
  pipe(): [number, number] {
    if (this.#libc.pipe2(this.#fds, O_CLOEXEC) !== 0) throw new Error("pipe2 failed");
    const view = new Int32Array(this.#fds.buffer);
    return [view[0], view[1]];
  }

  close(fd: number): void {
    this.#libc.close(fd);
  }

  /**
   * Reads `fd` until end of file, passing each piece to `onData` (a copy the callee keeps), then
   * closes it and calls `onEnd`.
   */
  watch(fd: number, onData: (data: Uint8Array) => void, onEnd: () => void): void {
    const view = new DataView(this.#event.buffer);
    view.setUint32(0, EPOLLIN, true);
    view.setUint32(4, fd, true);
    view.setUint32(8, 0, true);
    if (this.#libc.epoll_ctl(this.#epoll, EPOLL_CTL_ADD, fd, this.#event) !== 0) {
      this.#libc.close(fd);
      throw new Error("epoll_ctl failed");
    }
    this.#byFd.set(fd, { onData, onEnd });
    if (!this.#looping) this.#loop();
  }

  /** Stops reading `fd` (what it still holds is dropped), closes it and calls its `onEnd`. */
  abandon(fd: number): void {
    const watched = this.#byFd.get(fd);
    if (watched) this.#end(fd, watched);
  }

  async #loop(): Promise<void> {
    this.#looping = true;
    try {
      while (this.#byFd.size > 0) {
        const count = await this.#libc.epoll_wait(
          this.#epoll,
          this.#events,
          MAX_EVENTS,
          WAIT_TIMEOUT_MS,
        );
        for (let i = 0; i < count; i++) {
          const fd = this.#eventsView.getUint32(i * EPOLL_EVENT_BYTES + 4, true);
          const watched = this.#byFd.get(fd);
          if (watched) this.#readOnce(fd, watched);
        }
      }
    } finally {
      this.#looping = false;
    }
  }

  #readOnce(fd: number, watched: Watched): void {
    const count = Number(this.#libc.read(fd, this.#buffer, BigInt(READ_BYTES)));
    if (count > 0) {
      watched.onData(this.#buffer.slice(0, count));
    } else {
      // 0 = every writer closed it; an error (EIO, say) ends the stream the same way.
      this.#end(fd, watched);
    }
  }

  #end(fd: number, watched: Watched): void {
    this.#byFd.delete(fd);
    this.#libc.epoll_ctl(this.#epoll, EPOLL_CTL_DEL, fd, this.#event);
    this.#libc.close(fd);
    watched.onEnd();
  }
}
