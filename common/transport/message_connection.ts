/**
 * A connection carrying typed messages after the handshake. Messages sent in the same turn of the
 * event loop, or while the previous frame is still being written, travel together in one frame:
 * one msgpack encode, one AES-GCM call and one write for many messages.
 */
import { ConnectionError } from "../errors.ts";
import { decodeMsgpack, encodeMsgpack } from "../msgpack.ts";
import type { Session } from "./handshake.ts";
import { type ByteStream, FrameError, type FrameReader, writeFrame } from "./frames.ts";

/** Largest frame an authenticated peer may send: room for big submissions, not for abuse. */
export const MAX_FRAME_BYTES = 128 * 1024 * 1024;
/** Messages per frame; keeps frames (and the receiver's buffers) to a sensible size. */
const MAX_BATCH_MESSAGES = 4096;

export interface MessageConnectionOptions<In> {
  /** Checks each received message; a failed check closes the connection. */
  isMessage: (value: unknown) => value is In;
  /** Largest accepted frame. @default {MAX_FRAME_BYTES} */
  maxFrameBytes?: number;
}

export class MessageConnection<In, Out> {
  #queue: Out[] = [];
  #writing = false;
  #closed = false;
  #error: Error | null = null;
  #drained: Array<() => void> = [];

  constructor(
    private readonly stream: ByteStream,
    private readonly reader: FrameReader,
    private readonly session: Session,
    private readonly options: MessageConnectionOptions<In>,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues a message; it leaves in the next frame. Messages to a closed connection are dropped. */
  send(message: Out): void {
    if (this.#closed) return;
    this.#queue.push(message);
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#drain());
    }
  }

  /** Resolves once everything queued so far has been written; rejects if the connection broke. */
  flush(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (!this.#writing) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#drained.push(() => (this.#error ? reject(this.#error) : resolve()));
    });
  }

  /**
   * Received messages, a frame's worth at a time. Ends when the peer closes cleanly; throws on a
   * broken, malformed or unauthenticated frame (the caller then closes the connection).
   */
  async *batches(): AsyncGenerator<In[]> {
    const maxBytes = this.options.maxFrameBytes ?? MAX_FRAME_BYTES;
    while (!this.#closed) {
      let frame: Uint8Array | null;
      try {
        frame = await this.reader.read(maxBytes);
      } catch (error) {
        if (this.#closed) return;
        throw error;
      }
      if (frame === null) return;
      const cipher = this.session.receiveCipher;
      // Decoded binary values are views into the bytes decoded, and an unencrypted frame is a
      // view into the reader's buffer, which the next frame overwrites: decode a copy.
      const plaintext = cipher ? cipher.openSync(frame) ?? await cipher.open(frame) : frame.slice();
      let batch: unknown;
      try {
        batch = decodeMsgpack(plaintext);
      } catch {
        throw new FrameError("Received a frame that is not valid msgpack");
      }
      if (!Array.isArray(batch) || !batch.every(this.options.isMessage)) {
        throw new FrameError("Received a message of unknown shape");
      }
      yield batch;
    }
  }

  /** Closes the socket; pending sends are dropped. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    try {
      this.stream.close();
    } catch {
      // Already closed by the peer or the runtime.
    }
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const pending = this.#queue;
        this.#queue = [];
        for (let i = 0; i < pending.length && !this.#closed; i += MAX_BATCH_MESSAGES) {
          const batch = pending.length <= MAX_BATCH_MESSAGES
            ? pending
            : pending.slice(i, i + MAX_BATCH_MESSAGES);
          const encoded = encodeMsgpack(batch);
          const cipher = this.session.sendCipher;
          const sealed = cipher ? cipher.sealSync(encoded) ?? await cipher.seal(encoded) : encoded;
          await writeFrame(this.stream, sealed);
        }
      }
    } catch (error) {
      this.#error = error instanceof ConnectionError
        ? error
        : new ConnectionError("Cannot send to the peer", { cause: error });
      this.close();
    } finally {
      this.#writing = false;
      const waiting = this.#drained;
      this.#drained = [];
      for (const notify of waiting) notify();
    }
  }
}
