/**
 * AES-256-GCM for one direction of one connection. The key is derived per connection and per
 * direction (HKDF over the endpoint secret and both handshake nonces), and the nonce is a counter,
 * so a nonce is never reused under a key. The counter is implicit on the wire: a replayed,
 * dropped or reordered frame fails authentication.
 */
import { ConnectionError } from "../errors.ts";

/** A sealed frame failed authentication: tampered, replayed, reordered or under another key. */
export class FrameAuthenticationError extends ConnectionError {}

const IV_BYTES = 12;
const encoder = new TextEncoder();

export class FrameCipher {
  #counter = 0;

  private constructor(private readonly key: CryptoKey) {}

  /** Derives one cipher per label (direction) from the endpoint secret and the session salt. */
  static async derivePair(
    secret: Uint8Array,
    salt: Uint8Array,
    labels: [string, string],
  ): Promise<[FrameCipher, FrameCipher]> {
    const base = await crypto.subtle.importKey("raw", toBuffer(secret), "HKDF", false, [
      "deriveKey",
    ]);
    const derive = async (label: string) =>
      new FrameCipher(
        await crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: toBuffer(salt), info: encoder.encode(label) },
          base,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    return await Promise.all([derive(labels[0]), derive(labels[1])]) as [FrameCipher, FrameCipher];
  }

  /** Encrypts the next frame. Frames must be written in the order `seal` was called. */
  async seal(plaintext: Uint8Array): Promise<Uint8Array> {
    const iv = this.#nextIv();
    return new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv }, this.key, toBuffer(plaintext)),
    );
  }

  /** Decrypts the next frame; the frames must be opened in the order they were received. */
  async open(sealed: Uint8Array): Promise<Uint8Array> {
    const iv = this.#nextIv();
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt({ name: "AES-GCM", iv }, this.key, toBuffer(sealed)),
      );
    } catch {
      throw new FrameAuthenticationError(
        "Received a frame that failed authentication (tampered, replayed or out of order)",
      );
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

/** WebCrypto wants an ArrayBuffer-backed view; copy only when the bytes live elsewhere. */
export function toBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}
