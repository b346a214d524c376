/**
 * AES-256-GCM for one direction of one connection. The key is derived per connection and per
 * direction (HKDF over the endpoint secret and both handshake nonces), and the nonce is a counter,
 * so a nonce is never reused under a key. The counter is implicit on the wire: a replayed,
 * dropped or reordered frame fails authentication.
 *
 * Two engines compute the same AES-GCM (ciphertext then the 16-byte tag, same key, same counter
 * IV), so they can take turns frame by frame within one connection:
 * - WebCrypto: an async op served off the main thread. Its hop costs tens of µs per call on a
 *   small frame (bench `webcrypto_cost`), four of them per request and answer.
 * - `node:crypto`'s synchronous cipher: a few µs on a small frame, but slower per byte, so it
 *   only seals and opens frames up to `SYNC_CIPHER_MAX_BYTES`. Importing it costs 40–90 ms of
 *   main thread, which a client command that sends three frames must not pay. So it is loaded in
 *   the background once the process has used `SYNC_CIPHER_AFTER_FRAMES` frames (a server, a
 *   worker, a long-lived client), or at once by `loadSyncCipher()`, and never by a short command.
 */
import { ConnectionError } from "../errors.ts";

/** A sealed frame failed authentication: tampered, replayed, reordered or under another key. */
export class FrameAuthenticationError extends ConnectionError {}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();

/**
 * Largest frame the synchronous engine handles. In `bench/webcrypto_cost.ts` the two engines cost
 * about the same at 2–5 KB, and WebCrypto is 2–3x faster per byte on large batched frames (which
 * it also computes off the main thread).
 */
export const SYNC_CIPHER_MAX_BYTES = 4096;
/** Frames through `sealSync`/`openSync` in this process before the synchronous engine is loaded. */
export const SYNC_CIPHER_AFTER_FRAMES = 64;

interface SyncAesGcm {
  seal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Throws when the tag does not match. */
  open(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array): Uint8Array;
}

let syncEngine: SyncAesGcm | null = null;
let syncEngineLoading: Promise<boolean> | null = null;
let framesUsed = 0;

/**
 * Loads the synchronous engine (once); resolves to whether it is in use. Ciphers already derived
 * switch to it at their next small frame.
 */
export function loadSyncCipher(): Promise<boolean> {
  syncEngineLoading ??= loadNodeAesGcm().then(
    (engine) => {
      syncEngine = engine;
      return true;
    },
    () => false, // WebCrypto keeps working alone.
  );
  return syncEngineLoading;
}

async function loadNodeAesGcm(): Promise<SyncAesGcm> {
  // Not a literal specifier: Deno would load a literal `import()` target with the module graph,
  // before the main module runs, in every client command (15 ms measured on an unrun one).
  const specifier = ["node", "crypto"].join(":");
  const nodeCrypto: typeof import("node:crypto") = await import(specifier);
  const view = (bytes: Uint8Array) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  return {
    seal(key, iv, plaintext) {
      const cipher = nodeCrypto.createCipheriv("aes-256-gcm", key, iv);
      const body = cipher.update(plaintext);
      const last = cipher.final();
      const sealed = new Uint8Array(body.length + last.length + TAG_BYTES);
      sealed.set(body);
      sealed.set(last, body.length);
      sealed.set(cipher.getAuthTag(), body.length + last.length);
      return sealed;
    },
    open(key, iv, sealed) {
      if (sealed.length < TAG_BYTES) throw new Error("Too short for a tag");
      const decipher = nodeCrypto.createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const body = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
      const last = decipher.final(); // Throws on a wrong tag.
      if (last.length === 0) return view(body);
      const plaintext = new Uint8Array(body.length + last.length);
      plaintext.set(body);
      plaintext.set(last, body.length);
      return plaintext;
    },
  };
}

function countFrame(): void {
  if (++framesUsed === SYNC_CIPHER_AFTER_FRAMES) void loadSyncCipher();
}

export class FrameCipher {
  #counter = 0;

  // The raw key stays in the JS heap for the synchronous engine; so does the endpoint secret it
  // was derived from, so a non-extractable CryptoKey alone would not have hidden anything more.
  private constructor(
    private readonly key: CryptoKey,
    private readonly keyBytes: Uint8Array,
  ) {}

  /** Derives one cipher per label (direction) from the endpoint secret and the session salt. */
  static async derivePair(
    secret: Uint8Array,
    salt: Uint8Array,
    labels: [string, string],
  ): Promise<[FrameCipher, FrameCipher]> {
    const base = await crypto.subtle.importKey("raw", toBuffer(secret), "HKDF", false, [
      "deriveBits",
    ]);
    const derive = async (label: string) => {
      // The same bits `deriveKey` to AES-GCM-256 would give: HKDF-SHA-256, 32 bytes.
      const keyBytes = new Uint8Array(
        await crypto.subtle.deriveBits(
          { name: "HKDF", hash: "SHA-256", salt: toBuffer(salt), info: encoder.encode(label) },
          base,
          256,
        ),
      );
      const key = await crypto.subtle.importKey("raw", keyBytes, "AES-GCM", false, [
        "encrypt",
        "decrypt",
      ]);
      return new FrameCipher(key, keyBytes);
    };
    return await Promise.all([derive(labels[0]), derive(labels[1])]) as [FrameCipher, FrameCipher];
  }

  /**
   * Encrypts the next frame at once, or returns null (no counter used) when the frame is for
   * `seal`: the synchronous engine is not loaded, or the frame is large.
   */
  sealSync(plaintext: Uint8Array): Uint8Array | null {
    countFrame();
    return this.#sealNow(plaintext);
  }

  /**
   * Decrypts the next frame at once, or returns null (no counter used) when the frame is for
   * `open`. Throws `FrameAuthenticationError` as `open` rejects with it.
   */
  openSync(sealed: Uint8Array): Uint8Array | null {
    countFrame();
    return this.#openNow(sealed);
  }

  /** Encrypts the next frame. Frames must be written in the order `seal` was called. */
  async seal(plaintext: Uint8Array): Promise<Uint8Array> {
    const now = this.#sealNow(plaintext);
    if (now !== null) return now;
    const iv = this.#nextIv();
    return new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv }, this.key, toBuffer(plaintext)),
    );
  }

  /** Decrypts the next frame; the frames must be opened in the order they were received. */
  async open(sealed: Uint8Array): Promise<Uint8Array> {
    const now = this.#openNow(sealed);
    if (now !== null) return now;
    const iv = this.#nextIv();
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt({ name: "AES-GCM", iv }, this.key, toBuffer(sealed)),
      );
    } catch {
      throw authenticationError();
    }
  }

  #sealNow(plaintext: Uint8Array): Uint8Array | null {
    if (syncEngine === null || plaintext.length > SYNC_CIPHER_MAX_BYTES) return null;
    return syncEngine.seal(this.keyBytes, this.#nextIv(), plaintext);
  }

  #openNow(sealed: Uint8Array): Uint8Array | null {
    if (syncEngine === null || sealed.length > SYNC_CIPHER_MAX_BYTES + TAG_BYTES) return null;
    const iv = this.#nextIv();
    try {
      return syncEngine.open(this.keyBytes, iv, sealed);
    } catch {
      throw authenticationError();
    }
  }

  #nextIv(): Uint8Array<ArrayBuffer> {
    const iv = new Uint8Array(IV_BYTES);
    const view = new DataView(iv.buffer);
    const counter = this.#counter++;
    view.setUint32(4, Math.floor(counter / 0x1_0000_0000));
    view.setUint32(8, counter >>> 0);
    return iv;
  }
}

function authenticationError(): FrameAuthenticationError {
  return new FrameAuthenticationError(
    "Received a frame that failed authentication (tampered, replayed or out of order)",
  );
}

/** WebCrypto wants an ArrayBuffer-backed view; copy only when the bytes live elsewhere. */
export function toBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}
