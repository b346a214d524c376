/**
 * Length-prefixed frames: a 4-byte big-endian payload length, then the payload. The reader
 * enforces a maximum size before it allocates anything, so a hostile length prefix costs nothing.
 */
import { ConnectionError } from "../errors.ts";

/** What a frame reader and writer need from a socket (`Deno.Conn` fits). */
export interface ByteStream {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

/** The peer broke framing: truncated, oversized or otherwise unusable frames. */
export class FrameError extends ConnectionError {}

const HEADER_BYTES = 4;
const MIN_CAPACITY = 1024;
const MAX_IDLE_CAPACITY = 256 * 1024;

export class FrameReader {
  #buffer = new Uint8Array(MIN_CAPACITY);
  #start = 0;
  #end = 0;

  constructor(private readonly stream: ByteStream) {}

  /**
   * The next frame's payload, or `null` when the stream ended cleanly between frames. The returned
   * bytes are a view into the reader's buffer, valid until the next call.
   */
  async read(maxBytes: number): Promise<Uint8Array | null> {
    if (this.#start === this.#end) this.#shrinkIfIdle();
    while (this.#end - this.#start < HEADER_BYTES) {
      if (!(await this.#fill(HEADER_BYTES))) {
        if (this.#start === this.#end) return null;
        throw new FrameError("Connection closed in the middle of a frame header");
      }
    }
    const view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset + this.#start);
    const length = view.getUint32(0);
    if (length > maxBytes) {
      throw new FrameError(`Frame of ${length} bytes exceeds the limit of ${maxBytes} bytes`);
    }
    const total = HEADER_BYTES + length;
    while (this.#end - this.#start < total) {
      if (!(await this.#fill(total))) {
        throw new FrameError(
          `Connection closed in the middle of a frame (${
            this.#end - this.#start - HEADER_BYTES
          } of ${length} bytes received)`,
        );
      }
    }
    const payload = this.#buffer.subarray(this.#start + HEADER_BYTES, this.#start + total);
    this.#start += total;
    return payload;
  }

  /** Reads more bytes so that at least `needed` bytes can sit in the buffer; false at EOF. */
  async #fill(needed: number): Promise<boolean> {
    if (this.#start > 0 && this.#buffer.length - this.#start < needed) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#buffer.length < needed || this.#end === this.#buffer.length) {
      let capacity = this.#buffer.length * 2;
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.#buffer.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buffer = grown;
    }
    const count = await this.stream.read(this.#buffer.subarray(this.#end));
    if (count === null) return false;
    this.#end += count;
    return true;
  }

  // Thousands of idle worker connections must not each keep a large buffer alive.
  #shrinkIfIdle(): void {
    this.#start = this.#end = 0;
    if (this.#buffer.length > MAX_IDLE_CAPACITY) this.#buffer = new Uint8Array(MIN_CAPACITY);
  }
}

/** Frames larger than this are written without copying them behind their header. */
const LARGE_PAYLOAD_BYTES = 1 << 20;

/** Writes one frame with a single write call where the OS allows it (small frames). */
export async function writeFrame(stream: ByteStream, payload: Uint8Array): Promise<void> {
  if (payload.length > LARGE_PAYLOAD_BYTES) {
    // Two writes rather than a copy of tens of MB (a `job info` of a million tasks).
    const header = new Uint8Array(HEADER_BYTES);
    new DataView(header.buffer).setUint32(0, payload.length);
    for (const part of [header, payload]) {
      let offset = 0;
      while (offset < part.length) offset += await stream.write(part.subarray(offset));
    }
    return;
  }
  const frame = new Uint8Array(HEADER_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, HEADER_BYTES);
  let offset = 0;
  while (offset < frame.length) offset += await stream.write(frame.subarray(offset));
}
