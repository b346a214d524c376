import assert from "node:assert/strict";
import { AuthenticationError, ConnectionError, ProtocolMismatchError } from "../errors.ts";
import { decodeMsgpack, encodeMsgpack } from "../msgpack.ts";
import { HANDSHAKE_MAGIC, PROTOCOL_VERSION, type Role } from "../protocol.ts";
import {
  acceptSession,
  type ByteStream,
  connectSession,
  FrameAuthenticationError,
  FrameCipher,
  FrameError,
  FrameReader,
  HandshakeRejectedError,
  MAX_HANDSHAKE_FRAME_BYTES,
  MessageConnection,
  writeFrame,
} from "./mod.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An in-memory stream that hands out the given chunks, one per read, then EOF. */
class ChunkedStream implements ByteStream {
  reads = 0;
  readonly written: Uint8Array[] = [];
  closed = false;
  #chunks: Uint8Array[];

  constructor(chunks: Uint8Array[]) {
    this.#chunks = chunks.map((chunk) => chunk.slice());
  }

  get remainingChunks(): number {
    return this.#chunks.length;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.reads++;
    const chunk = this.#chunks.shift();
    if (chunk === undefined) return Promise.resolve(null);
    const count = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, count));
    if (count < chunk.length) this.#chunks.unshift(chunk.subarray(count));
    return Promise.resolve(count);
  }

  write(bytes: Uint8Array): Promise<number> {
    this.written.push(bytes.slice());
    return Promise.resolve(bytes.length);
  }

  close(): void {
    this.closed = true;
  }
}

function frameBytes(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, 4);
  return frame;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function bytesOf(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

/** A connected pair of real loopback sockets. */
async function socketPair(): Promise<[Deno.Conn, Deno.Conn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port }),
      listener.accept(),
    ]);
    return [client, server];
  } finally {
    listener.close();
  }
}

type Message = { n: number; text?: string };
const isMessage = (value: unknown): value is Message =>
  typeof value === "object" && value !== null && typeof (value as Message).n === "number";

type Connection = MessageConnection<Message, Message>;

interface EndpointConfig {
  role: Role;
  secretKey: Uint8Array | null;
  handshakeTimeoutMs?: number;
  maxFrameBytes?: number;
}

const KEY = crypto.getRandomValues(new Uint8Array(32));
const OTHER_KEY = crypto.getRandomValues(new Uint8Array(32));

/**
 * Runs both sides of the handshake over a real socket; returns each side's outcome. Every
 * connection that was established is closed when `body` finishes.
 */
async function handshakePair(
  acceptor: EndpointConfig,
  connector: EndpointConfig,
  body: (
    accepted: PromiseSettledResult<Connection>,
    connected: PromiseSettledResult<Connection>,
  ) => Promise<void> | void,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const [accepted, connected] = await Promise.allSettled([
    listener.accept().then((conn) =>
      acceptSession<Message, Message>(conn, { ...acceptor, isMessage })
    ),
    connectSession<Message, Message>({ host: "127.0.0.1", port, ...connector, isMessage }),
  ]);
  listener.close();
  try {
    await body(accepted, connected);
  } finally {
    if (accepted.status === "fulfilled") accepted.value.close();
    if (connected.status === "fulfilled") connected.value.close();
  }
}

function fulfilled<T>(result: PromiseSettledResult<T>): T {
  if (result.status === "rejected") throw result.reason;
  return result.value;
}

function rejectedWith<E extends Error>(
  result: PromiseSettledResult<unknown>,
  errorClass: abstract new (...args: never[]) => E,
): E {
  assert.equal(result.status, "rejected", "expected the handshake to fail");
  const reason = (result as PromiseRejectedResult).reason;
  assert.ok(reason instanceof errorClass, `expected ${errorClass.name}, got ${reason}`);
  return reason;
}

/** Collects frames (batches) until `count` messages arrived. */
async function receive(connection: Connection, count: number): Promise<Message[][]> {
  const frames: Message[][] = [];
  let received = 0;
  for await (const batch of connection.batches()) {
    frames.push(batch);
    received += batch.length;
    if (received >= count) break;
  }
  return frames;
}

async function cipherPair(
  secret = KEY,
  salt = bytesOf(64),
): Promise<{ sealer: FrameCipher; opener: FrameCipher; reverse: FrameCipher }> {
  const labels: [string, string] = ["a->b", "b->a"];
  const [sealer] = await FrameCipher.derivePair(secret, salt, labels);
  const [opener, reverse] = await FrameCipher.derivePair(secret, salt, labels);
  return { sealer, opener, reverse };
}

// ---------------------------------------------------------------------------------------------
// Frames

Deno.test("FrameReader reads many frames that arrive in one read", async () => {
  const payloads = [encoder.encode("one"), encoder.encode("two"), new Uint8Array(), bytesOf(300)];
  const stream = new ChunkedStream([concat(...payloads.map(frameBytes))]);
  const reader = new FrameReader(stream);
  for (const payload of payloads) assert.deepEqual(await reader.read(1024), payload);
  assert.equal(stream.reads, 1);
  assert.equal(await reader.read(1024), null);
});

Deno.test("FrameReader reassembles a frame split over many reads", async () => {
  const payload = bytesOf(100);
  const bytes = frameBytes(payload);
  const chunks = Array.from(bytes, (byte) => Uint8Array.of(byte));
  const stream = new ChunkedStream(chunks);
  const reader = new FrameReader(stream);
  assert.deepEqual(await reader.read(1024), payload);
  assert.equal(stream.reads, bytes.length);
  assert.equal(await reader.read(1024), null);
});

Deno.test("FrameReader reads frames whose boundaries fall inside reads", async () => {
  const payloads = [bytesOf(10, 1), bytesOf(5000, 2), bytesOf(3, 3), bytesOf(20_000, 4)];
  const all = concat(...payloads.map(frameBytes));
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < all.length; offset += 777) {
    chunks.push(all.subarray(offset, offset + 777));
  }
  const reader = new FrameReader(new ChunkedStream(chunks));
  for (const payload of payloads) assert.deepEqual(await reader.read(1 << 20), payload);
  assert.equal(await reader.read(1 << 20), null);
});

Deno.test("FrameReader grows for a frame larger than its buffer and shrinks back when idle", async () => {
  const big = bytesOf(1_000_000);
  const small = encoder.encode("after");
  const reader = new FrameReader(new ChunkedStream([frameBytes(big), frameBytes(small)]));
  assert.deepEqual(await reader.read(2_000_000), big);
  assert.deepEqual(await reader.read(2_000_000), small);
  assert.equal(await reader.read(2_000_000), null);
});

Deno.test("FrameReader rejects an oversize length before reading the body", async () => {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 0x4000_0000);
  const stream = new ChunkedStream([header, bytesOf(1000), bytesOf(1000)]);
  const reader = new FrameReader(stream);
  await assert.rejects(reader.read(1024), (error: unknown) => {
    assert.ok(error instanceof FrameError);
    assert.equal(error.message, "Frame of 1073741824 bytes exceeds the limit of 1024 bytes");
    return true;
  });
  assert.equal(stream.reads, 1);
  assert.equal(stream.remainingChunks, 2);
});

Deno.test("FrameReader accepts a frame of exactly the limit", async () => {
  const payload = bytesOf(1024);
  const reader = new FrameReader(new ChunkedStream([frameBytes(payload)]));
  assert.deepEqual(await reader.read(1024), payload);
});

Deno.test("FrameReader reports a connection closed inside the header", async () => {
  const reader = new FrameReader(new ChunkedStream([Uint8Array.of(0, 0)]));
  await assert.rejects(reader.read(1024), (error: unknown) => {
    assert.ok(error instanceof FrameError);
    assert.equal(error.message, "Connection closed in the middle of a frame header");
    return true;
  });
});

Deno.test("FrameReader reports a connection closed inside the body", async () => {
  const truncated = frameBytes(bytesOf(10)).subarray(0, 8);
  const reader = new FrameReader(new ChunkedStream([truncated]));
  await assert.rejects(reader.read(1024), (error: unknown) => {
    assert.ok(error instanceof FrameError);
    assert.equal(
      error.message,
      "Connection closed in the middle of a frame (4 of 10 bytes received)",
    );
    return true;
  });
});

Deno.test("FrameReader returns null on a clean end of stream", async () => {
  assert.equal(await new FrameReader(new ChunkedStream([])).read(1024), null);
});

Deno.test("writeFrame prefixes the payload with its big-endian length", async () => {
  const stream = new ChunkedStream([]);
  await writeFrame(stream, encoder.encode("hi"));
  assert.deepEqual(concat(...stream.written), Uint8Array.of(0, 0, 0, 2, 0x68, 0x69));
});

Deno.test("writeFrame keeps writing until a short write has sent everything", async () => {
  const written: Uint8Array[] = [];
  const stream: ByteStream = {
    read: () => Promise.resolve(null),
    write: (bytes) => {
      const count = Math.min(3, bytes.length);
      written.push(bytes.slice(0, count));
      return Promise.resolve(count);
    },
    close: () => {},
  };
  const payload = bytesOf(20);
  await writeFrame(stream, payload);
  assert.deepEqual(concat(...written), frameBytes(payload));
});

Deno.test("writeFrame and FrameReader carry frames over a real socket", async () => {
  const [a, b] = await socketPair();
  try {
    const payloads = [encoder.encode("first"), bytesOf(3_000_000), new Uint8Array(), bytesOf(7)];
    const reader = new FrameReader(b);
    const reading = (async () => {
      const got: Uint8Array[] = [];
      for (let i = 0; i < payloads.length; i++) got.push((await reader.read(4_000_000))!.slice());
      return got;
    })();
    for (const payload of payloads) await writeFrame(a, payload);
    assert.deepEqual(await reading, payloads);
    a.close();
    assert.equal(await reader.read(4_000_000), null);
  } finally {
    b.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Frame cipher

Deno.test("FrameCipher opens what the matching cipher sealed, in order", async () => {
  const { sealer, opener } = await cipherPair();
  const plaintexts = [encoder.encode("one"), new Uint8Array(), bytesOf(100_000)];
  const sealed = [];
  for (const plaintext of plaintexts) sealed.push(await sealer.seal(plaintext));
  for (let i = 0; i < plaintexts.length; i++) {
    assert.deepEqual(await opener.open(sealed[i]), plaintexts[i]);
  }
});

Deno.test("FrameCipher never produces the same ciphertext for the same plaintext", async () => {
  const { sealer } = await cipherPair();
  const plaintext = encoder.encode("same every time");
  const first = await sealer.seal(plaintext);
  const second = await sealer.seal(plaintext);
  assert.notDeepEqual(first, second);
  assert.ok(!decoder.decode(first).includes("same every time"), "the frame is encrypted");
});

Deno.test("FrameCipher rejects a replayed frame", async () => {
  const { sealer, opener } = await cipherPair();
  const frame = await sealer.seal(encoder.encode("pay 100"));
  await opener.open(frame);
  await assert.rejects(opener.open(frame), FrameAuthenticationError);
});

Deno.test("FrameCipher rejects frames in another order", async () => {
  const { sealer, opener } = await cipherPair();
  const first = await sealer.seal(encoder.encode("first"));
  const second = await sealer.seal(encoder.encode("second"));
  await assert.rejects(opener.open(second), (error: unknown) => {
    assert.ok(error instanceof FrameAuthenticationError);
    assert.equal(
      error.message,
      "Received a frame that failed authentication (tampered, replayed or out of order)",
    );
    return true;
  });
  void first;
});

Deno.test("FrameCipher rejects a tampered frame", async () => {
  const { sealer, opener } = await cipherPair();
  const frame = await sealer.seal(encoder.encode("hello"));
  frame[0] ^= 0x01;
  await assert.rejects(opener.open(frame), FrameAuthenticationError);
});

Deno.test("FrameCipher rejects a truncated frame", async () => {
  const { sealer, opener } = await cipherPair();
  const frame = await sealer.seal(encoder.encode("hello"));
  await assert.rejects(opener.open(frame.subarray(0, frame.length - 1)), FrameAuthenticationError);
  await assert.rejects(opener.open(new Uint8Array()), FrameAuthenticationError);
});

Deno.test("FrameCipher keys differ per direction, secret and salt", async () => {
  const { sealer, reverse } = await cipherPair();
  await assert.rejects(
    reverse.open(await sealer.seal(encoder.encode("x"))),
    FrameAuthenticationError,
  );
  const other = await cipherPair(OTHER_KEY);
  const mine = await cipherPair();
  await assert.rejects(
    other.opener.open(await mine.sealer.seal(encoder.encode("x"))),
    FrameAuthenticationError,
  );
  const otherSalt = await cipherPair(KEY, bytesOf(64, 9));
  const sameSalt = await cipherPair();
  await assert.rejects(
    otherSalt.opener.open(await sameSalt.sealer.seal(encoder.encode("x"))),
    FrameAuthenticationError,
  );
});

// ---------------------------------------------------------------------------------------------
// Handshake

Deno.test("connectSession and acceptSession with the right key exchange messages both ways", async () => {
  await handshakePair(
    { role: "client", secretKey: KEY },
    { role: "client", secretKey: KEY },
    async (accepted, connected) => {
      const server = fulfilled(accepted);
      const client = fulfilled(connected);
      client.send({ n: 1 });
      client.send({ n: 2, text: "zwei" });
      client.send({ n: 3 });
      assert.deepEqual((await receive(server, 3)).flat(), [{ n: 1 }, { n: 2, text: "zwei" }, {
        n: 3,
      }]);
      server.send({ n: 10 });
      server.send({ n: 11 });
      assert.deepEqual((await receive(client, 2)).flat(), [{ n: 10 }, { n: 11 }]);
    },
  );
});

Deno.test("connectSession works on the worker endpoint with its own key", async () => {
  await handshakePair(
    { role: "worker", secretKey: OTHER_KEY },
    { role: "worker", secretKey: OTHER_KEY },
    async (accepted, connected) => {
      fulfilled(connected).send({ n: 42 });
      assert.deepEqual((await receive(fulfilled(accepted), 1)).flat(), [{ n: 42 }]);
    },
  );
});

Deno.test("connectSession without keys on both sides works unauthenticated", async () => {
  await handshakePair(
    { role: "client", secretKey: null },
    { role: "client", secretKey: null },
    async (accepted, connected) => {
      fulfilled(connected).send({ n: 7 });
      assert.deepEqual((await receive(fulfilled(accepted), 1)).flat(), [{ n: 7 }]);
    },
  );
});

Deno.test("connectSession with a wrong key fails on both sides", async () => {
  await handshakePair(
    { role: "client", secretKey: KEY },
    { role: "client", secretKey: OTHER_KEY },
    (accepted, connected) => {
      const clientError = rejectedWith(connected, AuthenticationError);
      assert.match(clientError.message, /^Authentication failed: /);
      // The connecting side checks the server's proof first and hangs up, so the acceptor only
      // sees the connection end before a proof arrived.
      rejectedWith(accepted, ConnectionError);
    },
  );
});

Deno.test("acceptSession rejects a connector whose proof is wrong", async () => {
  // A connector that skips checking the server and sends a made-up proof.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const raw = await Deno.connect({ hostname: "127.0.0.1", port });
  const serverConn = await listener.accept();
  listener.close();
  try {
    const accepting = acceptSession<Message, Message>(serverConn, {
      role: "client",
      secretKey: KEY,
      isMessage,
    });
    const reader = new FrameReader(raw);
    await writeFrame(
      raw,
      encodeMsgpack({
        type: "hello",
        magic: HANDSHAKE_MAGIC,
        protocol: PROTOCOL_VERSION,
        role: "client",
        auth: true,
        nonce: bytesOf(32),
      }),
    );
    const challenge = decodeMsgpack((await reader.read(1024))!) as { type: string };
    assert.equal(challenge.type, "challenge");
    await writeFrame(raw, encodeMsgpack({ type: "proof", proof: bytesOf(32) }));
    await assert.rejects(accepting, (error: unknown) => {
      assert.ok(error instanceof HandshakeRejectedError);
      assert.equal(
        error.message,
        "Authentication failed: the peer could not prove that it holds the access key",
      );
      return true;
    });
    const verdict = decodeMsgpack((await reader.read(1024))!);
    assert.deepEqual(verdict, {
      type: "rejected",
      reason: "auth",
      message: "the peer could not prove that it holds the access key",
    });
    assert.equal(await reader.read(1024), null, "the acceptor closed the connection");
  } finally {
    raw.close();
  }
});

Deno.test("acceptSession on the client endpoint rejects a worker connection", async () => {
  await handshakePair(
    { role: "client", secretKey: KEY },
    { role: "worker", secretKey: KEY },
    (accepted, connected) => {
      const detail = "this is the client endpoint of the server, but a worker connected to it";
      assert.equal(
        rejectedWith(accepted, HandshakeRejectedError).message,
        `Authentication failed: ${detail}`,
      );
      assert.equal(
        rejectedWith(connected, HandshakeRejectedError).message,
        `Received authentication error: ${detail}`,
      );
    },
  );
});

Deno.test("an endpoint without authentication rejects a peer that has a key", async () => {
  await handshakePair(
    { role: "client", secretKey: null },
    { role: "client", secretKey: KEY },
    (accepted, connected) => {
      const detail =
        "the server's client endpoint runs without authentication, but the peer expects it";
      assert.equal(
        rejectedWith(accepted, AuthenticationError).message,
        `Authentication failed: ${detail}`,
      );
      assert.equal(
        rejectedWith(connected, AuthenticationError).message,
        `Received authentication error: ${detail}`,
      );
    },
  );
});

Deno.test("an endpoint with a key rejects a peer without one", async () => {
  await handshakePair(
    { role: "worker", secretKey: KEY },
    { role: "worker", secretKey: null },
    (accepted, connected) => {
      const detail =
        "the server's worker endpoint requires authentication, but the peer has no key";
      assert.equal(
        rejectedWith(accepted, AuthenticationError).message,
        `Authentication failed: ${detail}`,
      );
      assert.equal(
        rejectedWith(connected, AuthenticationError).message,
        `Received authentication error: ${detail}`,
      );
    },
  );
});

Deno.test("connectSession reports a protocol mismatch as ProtocolMismatchError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const fakeServer = (async () => {
    const conn = await listener.accept();
    try {
      const hello = decodeMsgpack((await new FrameReader(conn).read(1024))!) as { type: string };
      assert.equal(hello.type, "hello");
      await writeFrame(
        conn,
        encodeMsgpack({ type: "rejected", reason: "protocol", message: "protocol 99 needed" }),
      );
    } finally {
      conn.close();
    }
  })();
  try {
    await assert.rejects(
      connectSession({ host: "127.0.0.1", port, role: "client", secretKey: KEY, isMessage }),
      (error: unknown) => {
        assert.ok(error instanceof ProtocolMismatchError);
        assert.equal(error.message, "Received authentication error: protocol 99 needed");
        return true;
      },
    );
    await fakeServer;
  } finally {
    listener.close();
  }
});

Deno.test("acceptSession rejects a peer of another protocol version", async () => {
  const [raw, serverConn] = await socketPair();
  try {
    const accepting = acceptSession(serverConn, { role: "client", secretKey: KEY, isMessage });
    await writeFrame(
      raw,
      encodeMsgpack({
        type: "hello",
        magic: HANDSHAKE_MAGIC,
        protocol: PROTOCOL_VERSION + 1,
        role: "client",
        auth: true,
        nonce: bytesOf(32),
      }),
    );
    await assert.rejects(accepting, HandshakeRejectedError);
    const verdict = decodeMsgpack((await new FrameReader(raw).read(1024))!) as {
      reason: string;
    };
    assert.equal(verdict.reason, "protocol");
  } finally {
    raw.close();
  }
});

Deno.test("acceptSession rejects a garbage first frame with FrameError", async () => {
  const [raw, serverConn] = await socketPair();
  try {
    const accepting = acceptSession(serverConn, { role: "client", secretKey: KEY, isMessage });
    await writeFrame(raw, encoder.encode("this is not msgpack at all"));
    await assert.rejects(accepting, (error: unknown) => {
      assert.ok(error instanceof FrameError);
      assert.equal(error.message, "Malformed handshake frame from the peer");
      return true;
    });
    assert.equal(await new FrameReader(raw).read(1024), null, "the acceptor closed the connection");
  } finally {
    raw.close();
  }
});

Deno.test("acceptSession rejects a hello without our magic", async () => {
  const [raw, serverConn] = await socketPair();
  try {
    const accepting = acceptSession(serverConn, { role: "client", secretKey: KEY, isMessage });
    await writeFrame(
      raw,
      encodeMsgpack({
        type: "hello",
        magic: "other",
        protocol: PROTOCOL_VERSION,
        role: "client",
        auth: true,
        nonce: bytesOf(32),
      }),
    );
    await assert.rejects(accepting, FrameError);
  } finally {
    raw.close();
  }
});

Deno.test("acceptSession refuses a stray HTTP request by its huge frame length", async () => {
  const [raw, serverConn] = await socketPair();
  try {
    const accepting = acceptSession(serverConn, { role: "client", secretKey: KEY, isMessage });
    await raw.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await assert.rejects(accepting, (error: unknown) => {
      assert.ok(error instanceof FrameError);
      assert.match(error.message, new RegExp(`exceeds the limit of ${MAX_HANDSHAKE_FRAME_BYTES}`));
      return true;
    });
  } finally {
    raw.close();
  }
});

Deno.test("acceptSession gives up and closes when the peer stays silent", async () => {
  const [raw, serverConn] = await socketPair();
  try {
    const started = Date.now();
    await assert.rejects(
      acceptSession(serverConn, {
        role: "client",
        secretKey: KEY,
        isMessage,
        handshakeTimeoutMs: 100,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ConnectionError);
        assert.equal(error.message, "The handshake did not finish within 100 ms");
        return true;
      },
    );
    assert.ok(Date.now() - started < 900);
    assert.equal(await new FrameReader(raw).read(1024), null, "the acceptor closed the connection");
  } finally {
    raw.close();
  }
});

Deno.test("connectSession gives up when the server never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const silent = listener.accept();
  try {
    await assert.rejects(
      connectSession({
        host: "127.0.0.1",
        port,
        role: "worker",
        secretKey: KEY,
        isMessage,
        handshakeTimeoutMs: 100,
      }),
      (error: unknown) => {
        assert.ok(error instanceof ConnectionError);
        assert.equal(error.message, "The handshake did not finish within 100 ms");
        return true;
      },
    );
  } finally {
    const conn = await silent;
    // The silent server got the hello, then the connector hung up.
    const reader = new FrameReader(conn);
    assert.ok(await reader.read(1024));
    assert.equal(await reader.read(1024), null);
    conn.close();
    listener.close();
  }
});

Deno.test("connectSession reports a server that hangs up during the handshake", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const hangUp = listener.accept().then((conn) => conn.close());
  try {
    await assert.rejects(
      connectSession({ host: "127.0.0.1", port, role: "client", secretKey: KEY, isMessage }),
      ConnectionError,
    );
    await hangUp;
  } finally {
    listener.close();
  }
});

Deno.test("connectSession keeps the OS error class when nobody listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    connectSession({ host: "127.0.0.1", port, role: "client", secretKey: KEY, isMessage }),
    Deno.errors.ConnectionRefused,
  );
});

// ---------------------------------------------------------------------------------------------
// Message connection

Deno.test("MessageConnection batches 1,000 sends of one tick into few frames, in order", async () => {
  await handshakePair(
    { role: "worker", secretKey: KEY },
    { role: "worker", secretKey: KEY },
    async (accepted, connected) => {
      const sender = fulfilled(connected);
      for (let n = 0; n < 1000; n++) sender.send({ n });
      const frames = await receive(fulfilled(accepted), 1000);
      assert.ok(frames.length <= 2, `expected at most 2 frames, got ${frames.length}`);
      assert.deepEqual(frames.flat().map((message) => message.n), [...Array(1000).keys()]);
    },
  );
});

Deno.test("MessageConnection splits a very large burst into several frames, in order", async () => {
  await handshakePair(
    { role: "client", secretKey: KEY },
    { role: "client", secretKey: KEY },
    async (accepted, connected) => {
      const sender = fulfilled(connected);
      for (let n = 0; n < 10_000; n++) sender.send({ n });
      const frames = await receive(fulfilled(accepted), 10_000);
      assert.ok(frames.length >= 3 && frames.length <= 6, `got ${frames.length} frames`);
      assert.deepEqual(frames.flat().map((message) => message.n), [...Array(10_000).keys()]);
    },
  );
});

Deno.test("MessageConnection.flush resolves once queued messages are written", async () => {
  await handshakePair(
    { role: "client", secretKey: KEY },
    { role: "client", secretKey: KEY },
    async (accepted, connected) => {
      const sender = fulfilled(connected);
      await sender.flush();
      sender.send({ n: 1 });
      await sender.flush();
      // Closing right after flush must not lose the message: it is already on the wire.
      sender.close();
      const received: Message[] = [];
      for await (const batch of fulfilled(accepted).batches()) received.push(...batch);
      assert.deepEqual(received, [{ n: 1 }]);
    },
  );
});

Deno.test("MessageConnection drops sends after close and its flush still resolves", async () => {
  await handshakePair(
    { role: "client", secretKey: null },
    { role: "client", secretKey: null },
    async (accepted, connected) => {
      const sender = fulfilled(connected);
      sender.close();
      assert.equal(sender.closed, true);
      sender.send({ n: 1 });
      await sender.flush();
      const received: Message[] = [];
      for await (const batch of fulfilled(accepted).batches()) received.push(...batch);
      assert.deepEqual(received, []);
    },
  );
});

Deno.test("MessageConnection rejects a message of unknown shape", async () => {
  await handshakePair(
    { role: "client", secretKey: KEY },
    { role: "client", secretKey: KEY },
    async (accepted, connected) => {
      const sender = fulfilled(connected) as unknown as MessageConnection<Message, unknown>;
      sender.send({ n: 1 });
      sender.send({ wrong: true });
      await assert.rejects(receive(fulfilled(accepted), 2), (error: unknown) => {
        assert.ok(error instanceof FrameError);
        assert.equal(error.message, "Received a message of unknown shape");
        return true;
      });
    },
  );
});

Deno.test("MessageConnection rejects a frame above its size limit", async () => {
  await handshakePair(
    { role: "client", secretKey: KEY, maxFrameBytes: 1000 },
    { role: "client", secretKey: KEY },
    async (accepted, connected) => {
      fulfilled(connected).send({ n: 1, text: "x".repeat(2000) });
      await assert.rejects(receive(fulfilled(accepted), 1), FrameError);
    },
  );
});

Deno.test("MessageConnection.batches ends when the peer closes", async () => {
  await handshakePair(
    { role: "worker", secretKey: KEY },
    { role: "worker", secretKey: KEY },
    async (accepted, connected) => {
      fulfilled(connected).close();
      const frames: Message[][] = [];
      for await (const batch of fulfilled(accepted).batches()) frames.push(batch);
      assert.deepEqual(frames, []);
    },
  );
});

Deno.test("MessageConnection writes one frame for the sends of one tick", async () => {
  const stream = new ChunkedStream([]);
  const plain = { sendCipher: null, receiveCipher: null };
  const connection = new MessageConnection<Message, Message>(
    stream,
    new FrameReader(stream),
    plain,
    { isMessage },
  );
  for (let n = 0; n < 1000; n++) connection.send({ n });
  assert.equal(stream.written.length, 0, "nothing is written before the tick ends");
  await connection.flush();
  assert.equal(stream.written.length, 1);
  const reader = new FrameReader(new ChunkedStream(stream.written));
  const batch = decodeMsgpack((await reader.read(1 << 20))!) as Message[];
  assert.deepEqual(batch.map((message) => message.n), [...Array(1000).keys()]);
  connection.close();
});

Deno.test("MessageConnection.flush rejects and closes when the write fails", async () => {
  const stream: ByteStream = {
    read: () => Promise.resolve(null),
    write: () => Promise.reject(new Deno.errors.BrokenPipe("broken pipe")),
    close: () => {},
  };
  const connection = new MessageConnection<Message, Message>(
    stream,
    new FrameReader(stream),
    { sendCipher: null, receiveCipher: null },
    { isMessage },
  );
  connection.send({ n: 1 });
  await assert.rejects(connection.flush(), (error: unknown) => {
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.message, "Cannot send to the peer");
    assert.ok(error.cause instanceof Deno.errors.BrokenPipe);
    return true;
  });
  assert.equal(connection.closed, true);
  await assert.rejects(connection.flush(), ConnectionError);
});

/** Seals `messages` as one frame through a sending MessageConnection; returns the wire bytes. */
async function sealedFrame(cipher: FrameCipher, messages: Message[]): Promise<Uint8Array> {
  const stream = new ChunkedStream([]);
  const sender = new MessageConnection<Message, Message>(
    stream,
    new FrameReader(stream),
    { sendCipher: cipher, receiveCipher: null },
    { isMessage },
  );
  for (const message of messages) sender.send(message);
  await sender.flush();
  sender.close();
  return concat(...stream.written);
}

function receiver(cipher: FrameCipher, wire: Uint8Array[]): Connection {
  const stream = new ChunkedStream(wire);
  return new MessageConnection<Message, Message>(
    stream,
    new FrameReader(stream),
    { sendCipher: null, receiveCipher: cipher },
    { isMessage },
  );
}

Deno.test("MessageConnection decrypts sealed frames from its peer", async () => {
  const { sealer, opener } = await cipherPair();
  const first = await sealedFrame(sealer, [{ n: 1 }, { n: 2 }]);
  const second = await sealedFrame(sealer, [{ n: 3 }]);
  const frames: Message[][] = [];
  for await (const batch of receiver(opener, [first, second]).batches()) frames.push(batch);
  assert.deepEqual(frames, [[{ n: 1 }, { n: 2 }], [{ n: 3 }]]);
});

Deno.test("MessageConnection rejects a tampered sealed frame", async () => {
  const { sealer, opener } = await cipherPair();
  const wire = await sealedFrame(sealer, [{ n: 1 }]);
  wire[wire.length - 1] ^= 0x80;
  await assert.rejects(receive(receiver(opener, [wire]), 1), FrameAuthenticationError);
});

Deno.test("MessageConnection rejects a replayed sealed frame", async () => {
  const { sealer, opener } = await cipherPair();
  const wire = await sealedFrame(sealer, [{ n: 1 }]);
  const connection = receiver(opener, [wire, wire]);
  const received: Message[] = [];
  await assert.rejects(async () => {
    for await (const batch of connection.batches()) received.push(...batch);
  }, FrameAuthenticationError);
  assert.deepEqual(received, [{ n: 1 }]);
});

Deno.test("MessageConnection without encryption keeps binary values of earlier frames intact", async () => {
  const first = bytesOf(64, 1);
  const second = bytesOf(64, 2);
  const wire = [first, second].map((bytes, n) => frameBytes(encodeMsgpack([{ n, bytes }])));
  const stream = new ChunkedStream(wire);
  const connection = new MessageConnection<Message, Message>(
    stream,
    new FrameReader(stream),
    { sendCipher: null, receiveCipher: null },
    { isMessage },
  );
  const received: Message[] = [];
  for await (const batch of connection.batches()) received.push(...batch);
  // The first value was a view into the reader's buffer, which the second frame overwrote.
  assert.deepEqual(received, [{ n: 0, bytes: first }, { n: 1, bytes: second }]);
});
