// The security properties of transport_test.ts, again with the synchronous engine (node:crypto)
// loaded, and frames passing between the two engines within one connection.
import assert from "node:assert/strict";
import {
  FrameAuthenticationError,
  FrameCipher,
  loadSyncCipher,
  SYNC_CIPHER_MAX_BYTES,
} from "./mod.ts";

const encoder = new TextEncoder();
const SECRET = crypto.getRandomValues(new Uint8Array(32));
const LABELS: [string, string] = ["a->b", "b->a"];

async function pair(secret = SECRET, salt = crypto.getRandomValues(new Uint8Array(64))) {
  const [sealer] = await FrameCipher.derivePair(secret, salt, LABELS);
  const [opener, reverse] = await FrameCipher.derivePair(secret, salt, LABELS);
  return { sealer, opener, reverse };
}

function bytes(length: number, seed = 7): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

Deno.test("FrameCipher frames sealed by WebCrypto open with node:crypto and back, in one stream", async () => {
  const { sealer, opener } = await pair();
  const early = await sealer.seal(encoder.encode("before node:crypto is loaded"));
  assert.equal(sealer.sealSync(encoder.encode("x")), null, "no synchronous engine yet");
  assert.equal(await loadSyncCipher(), true);
  const small = bytes(100);
  const large = bytes(SYNC_CIPHER_MAX_BYTES * 3);
  const sealed = [
    early,
    sealer.sealSync(small)!,
    await sealer.seal(large),
    sealer.sealSync(small)!,
  ];
  assert.equal(sealer.sealSync(large), null, "a large frame is left to WebCrypto");
  assert.deepEqual(
    new TextDecoder().decode(opener.openSync(sealed[0])!),
    "before node:crypto is loaded",
  );
  assert.deepEqual(await opener.open(sealed[1]), small);
  assert.deepEqual(await opener.open(sealed[2]), large);
  assert.deepEqual(opener.openSync(sealed[3]), small);
});

Deno.test("FrameCipher with node:crypto: the same plaintext never gives the same ciphertext", async () => {
  await loadSyncCipher();
  const { sealer } = await pair();
  const plaintext = encoder.encode("same");
  assert.notDeepEqual(sealer.sealSync(plaintext), sealer.sealSync(plaintext));
});

Deno.test("FrameCipher with node:crypto rejects a replayed frame", async () => {
  await loadSyncCipher();
  const { sealer, opener } = await pair();
  const frame = sealer.sealSync(encoder.encode("pay 100"))!;
  opener.openSync(frame);
  assert.throws(() => opener.openSync(frame), FrameAuthenticationError);
  await assert.rejects(opener.open(frame), FrameAuthenticationError);
});

Deno.test("FrameCipher with node:crypto rejects frames in another order", async () => {
  await loadSyncCipher();
  const { sealer, opener } = await pair();
  sealer.sealSync(encoder.encode("first"));
  const second = sealer.sealSync(encoder.encode("second"))!;
  assert.throws(() => opener.openSync(second), FrameAuthenticationError);
});

Deno.test("FrameCipher with node:crypto rejects a tampered or truncated frame", async () => {
  await loadSyncCipher();
  for (
    const damage of [
      (frame: Uint8Array) => (frame[0] ^= 1, frame),
      (frame: Uint8Array) => (frame[frame.length - 1] ^= 0x80, frame),
      (frame: Uint8Array) => frame.subarray(0, frame.length - 1),
      () => new Uint8Array(),
    ]
  ) {
    const { sealer, opener } = await pair();
    const frame = damage(sealer.sealSync(encoder.encode("hello"))!);
    assert.throws(() => opener.openSync(frame), FrameAuthenticationError);
  }
});

Deno.test("FrameCipher with node:crypto: keys differ per direction, secret and salt", async () => {
  await loadSyncCipher();
  const { sealer, reverse } = await pair();
  assert.throws(
    () => reverse.openSync(sealer.sealSync(encoder.encode("x"))!),
    FrameAuthenticationError,
  );
  const salt = crypto.getRandomValues(new Uint8Array(64));
  const mine = await pair(SECRET, salt);
  const otherSecret = await pair(crypto.getRandomValues(new Uint8Array(32)), salt);
  assert.throws(
    () => otherSecret.opener.openSync(mine.sealer.sealSync(encoder.encode("x"))!),
    FrameAuthenticationError,
  );
  const otherSalt = await pair(SECRET);
  assert.throws(
    () => otherSalt.opener.openSync(mine.sealer.sealSync(encoder.encode("x"))!),
    FrameAuthenticationError,
  );
});
