/**
 * The transport's security promises (spec §9), each checked against a real `hq server start`:
 * garbage never keeps a connection or memory, keys are not interchangeable, replayed frames and
 * sessions are refused, oversized frames are refused before they are buffered, and the
 * unauthenticated and pre-generated access-file modes behave as documented.
 */
import assert from "node:assert/strict";
import { decodeMsgpack, encodeMsgpack } from "../common/msgpack.ts";
import {
  type ClientMessage,
  HANDSHAKE_MAGIC,
  isServerToClientMessage,
  PROTOCOL_VERSION,
  type Role,
  type ServerToClientMessage,
} from "../common/protocol.ts";
import {
  type ByteStream,
  connectSession,
  FrameReader,
  type MessageConnection,
} from "../common/transport/mod.ts";
import { hq, hqOk, tempDir, TestServer } from "./harness.ts";

// ---------------------------------------------------------------------------------------------
// Access files

interface EndpointJson {
  host: string;
  port: number;
  secret_key: string | null;
}

interface AccessJson {
  version: string;
  server_uid?: string;
  client?: EndpointJson;
  worker?: EndpointJson;
}

async function readAccess(serverDir: string): Promise<AccessJson> {
  return JSON.parse(await Deno.readTextFile(`${serverDir}/hq-current/access.json`));
}

/** Writes `record` as `<dir>/access.json`, the way a user copies an access file around. */
async function writeAccessCopy(dir: string, record: AccessJson): Promise<void> {
  await Deno.writeTextFile(`${dir}/access.json`, JSON.stringify(record, null, 2));
}

function randomHexKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!, (pair) => parseInt(pair, 16));
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

// ---------------------------------------------------------------------------------------------
// The server process, seen from /proc

function rssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]);
}

function openSockets(pid: number): number {
  let count = 0;
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`).startsWith("socket:")) count++;
    } catch {
      // Closed while we looked.
    }
  }
  return count;
}

async function waitForSockets(pid: number, atMost: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = openSockets(pid);
    if (count <= atMost || Date.now() > deadline) return count;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// Raw sockets

function connectRaw(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

interface CloseResult {
  /** The server ended the connection (EOF or reset) before the deadline. */
  closed: boolean;
  /** Bytes the server sent before it closed, e.g. a `rejected` handshake frame. */
  bytesReceived: number;
}

/** Reads until the server closes the connection; gives up (and closes it) after `timeoutMs`. */
async function waitForServerClose(conn: Deno.Conn, timeoutMs: number): Promise<CloseResult> {
  let timedOut = false;
  let bytesReceived = 0;
  const timer = setTimeout(() => {
    timedOut = true;
    closeQuietly(conn);
  }, timeoutMs);
  const buffer = new Uint8Array(4096);
  try {
    for (;;) {
      const count = await conn.read(buffer);
      if (count === null) break;
      bytesReceived += count;
    }
  } catch {
    // A reset is a close as well.
  } finally {
    clearTimeout(timer);
  }
  closeQuietly(conn);
  return { closed: !timedOut, bytesReceived };
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

async function writeIgnoringReset(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  try {
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
  } catch {
    // The server may close on the first bad byte; what counts is that it closes.
  }
}

function frame(payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + payload.length);
  new DataView(bytes.buffer).setUint32(0, payload.length);
  bytes.set(payload, 4);
  return bytes;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Garbage

/**
 * How the test ends its side. `keep-open`: the bytes alone must make the server close.
 * `close-write`: the frame is incomplete, so the test sends EOF and the server must not wait on.
 * `close-all`: the test vanishes; only the server's socket count can tell whether it let go.
 */
type Ending = "keep-open" | "close-write" | "close-all";

interface Garbage {
  kind: string;
  bytes: Uint8Array;
  ending: Ending;
}

const HANDSHAKE_LIMIT = 1024;

function randomInt(below: number): number {
  return Math.floor(Math.random() * below);
}

function randomBytes(count: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(count));
}

function hello(fields: Record<string, unknown> = {}): Uint8Array {
  return encodeMsgpack({
    type: "hello",
    magic: HANDSHAKE_MAGIC,
    protocol: PROTOCOL_VERSION,
    role: "client",
    auth: true,
    nonce: randomBytes(32),
    ...fields,
  });
}

/** Whether a handshake reader must see EOF before it can give up on these bytes. */
function isIncompleteFrame(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return true;
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
  return length <= HANDSHAKE_LIMIT && bytes.length < 4 + length;
}

const GARBAGE_HELLOS: Array<(role: Role) => Uint8Array> = [
  () => hello({ magic: "hq-rs" }),
  () => hello({ protocol: 999 }),
  () => hello({ protocol: "1" }),
  () => hello({ role: "admin" }),
  (role) => hello({ role: role === "client" ? "worker" : "client" }),
  () => hello({ auth: false }),
  () => hello({ auth: "yes" }),
  () => hello({ nonce: randomBytes(5) }),
  () => hello({ nonce: "not bytes" }),
  () => encodeMsgpack({ type: "proof", proof: randomBytes(32) }),
  () => encodeMsgpack({ type: "accepted" }),
  () => encodeMsgpack([1, 2, 3]),
  () => encodeMsgpack({ type: "hello" }),
];

function makeGarbage(role: Role): Garbage {
  const pick = randomInt(100);
  if (pick < 25) {
    const bytes = randomBytes(1 + randomInt(200));
    return {
      kind: "random bytes",
      bytes,
      ending: isIncompleteFrame(bytes) ? "close-write" : "keep-open",
    };
  }
  if (pick < 45) {
    return {
      kind: "length prefix with a random body",
      bytes: frame(randomBytes(randomInt(HANDSHAKE_LIMIT + 1))),
      ending: "keep-open",
    };
  }
  if (pick < 55) {
    return {
      kind: "truncated header",
      bytes: randomBytes(1 + randomInt(3)),
      ending: "close-write",
    };
  }
  if (pick < 75) {
    const variant = GARBAGE_HELLOS[randomInt(GARBAGE_HELLOS.length)];
    return { kind: "hello with garbage fields", bytes: frame(variant(role)), ending: "keep-open" };
  }
  if (pick < 85) {
    // A well-formed hello, then a proof that cannot be right.
    const proof = randomInt(2) === 0
      ? encodeMsgpack({ type: "proof", proof: randomBytes(32) })
      : randomBytes(randomInt(64));
    return {
      kind: "hello then a forged proof",
      bytes: concatBytes([frame(hello({ role })), frame(proof)]),
      ending: "keep-open",
    };
  }
  const whole = frame(hello({ role }));
  const cut = whole.subarray(0, 1 + randomInt(whole.length - 1));
  return {
    kind: "frame cut mid-way",
    bytes: cut,
    ending: pick < 93 ? "close-write" : "close-all",
  };
}

interface GarbageReport {
  sent: number;
  notClosed: string[];
}

/**
 * Sends `count` garbage connections, `concurrency` at a time; every fifth to the worker port.
 * Stops early once 20 connections stayed open: the verdict is clear, and each costs a timeout.
 */
async function sendGarbage(
  ports: { client: number; worker: number },
  options: { count: number; concurrency: number; closeTimeoutMs: number },
): Promise<GarbageReport> {
  const report: GarbageReport = { sent: 0, notClosed: [] };
  let next = 0;
  const lane = async () => {
    while (next < options.count && report.notClosed.length < 20) {
      const index = next++;
      const role: Role = index % 5 === 4 ? "worker" : "client";
      const garbage = makeGarbage(role);
      const conn = await connectRaw(ports[role]);
      report.sent++;
      await writeIgnoringReset(conn, garbage.bytes);
      if (garbage.ending === "close-all") {
        closeQuietly(conn);
        continue;
      }
      if (garbage.ending === "close-write") await conn.closeWrite().catch(() => {});
      const { closed } = await waitForServerClose(conn, options.closeTimeoutMs);
      if (!closed) report.notClosed.push(`${garbage.kind} to the ${role} port`);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));
  return report;
}

// ---------------------------------------------------------------------------------------------
// An in-process client that records what it writes

/** A socket that keeps a copy of every byte written through it. */
class RecordingConn implements ByteStream {
  readonly written: Uint8Array[] = [];

  constructor(readonly conn: Deno.TcpConn) {}

  read(buffer: Uint8Array): Promise<number | null> {
    return this.conn.read(buffer);
  }

  async write(bytes: Uint8Array): Promise<number> {
    const count = await this.conn.write(bytes);
    this.written.push(bytes.slice(0, count));
    return count;
  }

  close(): void {
    closeQuietly(this.conn);
  }

  setNoDelay(noDelay?: boolean): void {
    this.conn.setNoDelay(noDelay);
  }
}

type TestClient = MessageConnection<ServerToClientMessage, ClientMessage>;

/** Runs the real `connectSession`, with the socket it opens wrapped in a `RecordingConn`. */
async function connectRecorded(
  port: number,
  options: { role: Role; secretKey: Uint8Array | null },
): Promise<{ connection: TestClient; recorder: RecordingConn }> {
  const realConnect = Deno.connect;
  let recorder: RecordingConn | undefined;
  // connectSession opens its own socket, so it gets a recording one for the length of this call.
  Deno.connect = (async (connectOptions: Deno.ConnectOptions) => {
    recorder = new RecordingConn(await realConnect(connectOptions));
    return recorder;
  }) as unknown as typeof Deno.connect;
  try {
    const connection = await connectSession<ServerToClientMessage, ClientMessage>({
      host: "127.0.0.1",
      port,
      role: options.role,
      secretKey: options.secretKey,
      isMessage: isServerToClientMessage,
      connectTimeoutMs: 10_000,
      handshakeTimeoutMs: 10_000,
    });
    return { connection, recorder: recorder! };
  } finally {
    Deno.connect = realConnect;
  }
}

async function requestServerInfo(
  connection: TestClient,
): Promise<Extract<ServerToClientMessage, { type: "response" }>> {
  connection.send({ type: "request", requestId: 1, request: { type: "server-info" } });
  for await (const batch of connection.batches()) {
    const [reply] = batch;
    if (reply.type === "response") return reply;
  }
  throw new Error("The server closed the connection instead of answering");
}

async function readHandshakeMessage(reader: FrameReader): Promise<Record<string, unknown> | null> {
  const payload = await reader.read(HANDSHAKE_LIMIT);
  return payload === null ? null : decodeMsgpack(payload) as Record<string, unknown>;
}

async function assertServerAnswers(server: TestServer): Promise<void> {
  const started = performance.now();
  const result = await server.hq(["server", "info"]);
  const elapsedMs = performance.now() - started;
  assert.equal(result.code, 0, result.stderr);
  assert.ok(elapsedMs < 5_000, `server info took ${elapsedMs.toFixed(0)} ms`);
}

function assertAllClosed(report: GarbageReport): void {
  assert.equal(
    report.notClosed.length,
    0,
    `the server kept ${report.notClosed.length} of ${report.sent} connections open, e.g. ${
      report.notClosed.slice(0, 5).join("; ")
    }`,
  );
}

const AUTH_ERROR = /^(Received authentication error:|Authentication failed:)/;

// ---------------------------------------------------------------------------------------------

Deno.test("garbage frames get every connection closed and cost the server no memory", async () => {
  // Under this allocation rate V8 grows its young generation by ~35 MB on its own, which would
  // drown a leak in noise; a 1 MB semi-space keeps RSS close to what the server really retains.
  await using server = await TestServer.start({
    env: { DENO_V8_FLAGS: "--max-semi-space-size=1" },
  });
  const access = await readAccess(server.dir);
  const ports = { client: access.client!.port, worker: access.worker!.port };
  const pid = server.process.pid;
  const idleSockets = openSockets(pid);
  const options = { concurrency: 50, closeTimeoutMs: 8_000 };

  const warmUp = await sendGarbage(ports, { count: 3_000, ...options });
  assertAllClosed(warmUp);
  assert.ok((await waitForSockets(pid, idleSockets, 15_000)) <= idleSockets);
  const rssBeforeKb = rssKb(pid);

  const started = performance.now();
  const report = await sendGarbage(ports, { count: 10_000, ...options });
  const elapsedMs = performance.now() - started;
  assertAllClosed(report);
  assert.equal(report.sent, 10_000);
  // Senders that vanished mid-frame could only be checked here: the server must let go of them.
  const socketsAfter = await waitForSockets(pid, idleSockets, 15_000);
  assert.ok(
    socketsAfter <= idleSockets,
    `the server holds ${socketsAfter} sockets, ${idleSockets} when idle`,
  );
  const rssAfterKb = rssKb(pid);
  console.log(
    `10,000 garbage connections in ${(elapsedMs / 1000).toFixed(1)} s; server VmRSS ${
      (rssBeforeKb / 1024).toFixed(1)
    } MB -> ${(rssAfterKb / 1024).toFixed(1)} MB`,
  );
  assert.ok(
    rssAfterKb - rssBeforeKb < 30 * 1024,
    `VmRSS grew from ${rssBeforeKb} kB to ${rssAfterKb} kB`,
  );
  await assertServerAnswers(server);
});

Deno.test("a wrong client key, a missing key and the worker key are all refused quickly", async () => {
  await using server = await TestServer.start();
  const access = await readAccess(server.dir);
  const variants: Record<string, string | null> = {
    "a random key": randomHexKey(),
    "the worker key": access.worker!.secret_key,
    "no key": null,
  };
  for (const [name, secretKey] of Object.entries(variants)) {
    await using copy = await tempDir();
    await writeAccessCopy(copy.path, {
      ...access,
      client: { ...access.client!, secret_key: secretKey },
    });
    const started = performance.now();
    const result = await hq(["server", "info", "--server-dir", copy.path]);
    const elapsedMs = performance.now() - started;
    assert.equal(result.code, 1, `${name}: ${result.stderr}`);
    assert.match(result.stderr, AUTH_ERROR, name);
    assert.equal(result.stdout, "", name);
    assert.ok(elapsedMs < 5_000, `${name}: took ${elapsedMs.toFixed(0)} ms`);
  }
  await assertServerAnswers(server);
});

Deno.test("each endpoint accepts only its own role with its own key", async () => {
  await using server = await TestServer.start();
  const access = await readAccess(server.dir);
  const clientKey = hexToBytes(access.client!.secret_key!);
  const workerKey = hexToBytes(access.worker!.secret_key!);
  const attempts: Array<{ name: string; port: number; role: Role; secretKey: Uint8Array }> = [
    {
      name: "a worker on the client port",
      port: access.client!.port,
      role: "worker",
      secretKey: workerKey,
    },
    {
      name: "a worker with the client key",
      port: access.client!.port,
      role: "worker",
      secretKey: clientKey,
    },
    {
      name: "a client on the worker port",
      port: access.worker!.port,
      role: "client",
      secretKey: workerKey,
    },
    {
      name: "a worker with the client key on the worker port",
      port: access.worker!.port,
      role: "worker",
      secretKey: clientKey,
    },
  ];
  for (const attempt of attempts) {
    await assert.rejects(
      connectSession({
        host: "127.0.0.1",
        port: attempt.port,
        role: attempt.role,
        secretKey: attempt.secretKey,
        isMessage: isServerToClientMessage,
      }),
      (error: Error) => {
        assert.match(error.message, AUTH_ERROR, attempt.name);
        return true;
      },
      attempt.name,
    );
  }
  await assertServerAnswers(server);
});

Deno.test("a replayed frame closes the connection and a replayed session is refused", async () => {
  await using server = await TestServer.start();
  const access = await readAccess(server.dir);
  const port = access.client!.port;
  const secretKey = hexToBytes(access.client!.secret_key!);

  const { connection, recorder } = await connectRecorded(port, { role: "client", secretKey });
  const handshakeWrites = recorder.written.length;
  const reply = await requestServerInfo(connection);
  assert.equal(reply.response.type, "server-info");
  const requestFrame = concatBytes(recorder.written.slice(handshakeWrites));
  assert.ok(requestFrame.length > 4, "the request frame was recorded");

  await writeIgnoringReset(recorder.conn, requestFrame);
  const sameSocket = await waitForServerClose(recorder.conn, 5_000);
  assert.ok(sameSocket.closed, "the server kept the connection after a replayed frame");
  assert.equal(sameSocket.bytesReceived, 0, "the server answered a replayed request");

  // The whole recorded session on a new connection: the server's fresh nonce voids the old proof.
  const [helloFrame, proofFrame] = recorder.written.slice(0, handshakeWrites);
  const fresh = await connectRaw(port);
  const reader = new FrameReader(fresh);
  await writeIgnoringReset(fresh, helloFrame);
  const challenge = await readHandshakeMessage(reader);
  assert.equal(challenge?.type, "challenge");
  await writeIgnoringReset(fresh, proofFrame);
  const verdict = await readHandshakeMessage(reader);
  assert.equal(verdict?.type, "rejected", "the replayed proof was not rejected");
  assert.equal(verdict?.reason, "auth");
  await writeIgnoringReset(fresh, requestFrame);
  const freshSocket = await waitForServerClose(fresh, 5_000);
  assert.ok(freshSocket.closed, "the server kept the replayed session open");
  assert.equal(freshSocket.bytesReceived, 0, "the server answered the replayed request");

  await assertServerAnswers(server);
});

Deno.test("a 1 GiB length prefix is refused at once, before and after the handshake", async () => {
  await using server = await TestServer.start();
  const access = await readAccess(server.dir);
  const gib = new Uint8Array([0x40, 0x00, 0x00, 0x00]);
  const rssBeforeKb = rssKb(server.process.pid);

  for (const port of [access.client!.port, access.worker!.port]) {
    const conn = await connectRaw(port);
    await writeIgnoringReset(conn, gib);
    const result = await waitForServerClose(conn, 3_000);
    assert.ok(result.closed, `port ${port} kept a connection announcing 1 GiB`);
  }

  const { connection, recorder } = await connectRecorded(access.client!.port, {
    role: "client",
    secretKey: hexToBytes(access.client!.secret_key!),
  });
  assert.equal((await requestServerInfo(connection)).response.type, "server-info");
  await writeIgnoringReset(recorder.conn, gib);
  const authenticated = await waitForServerClose(recorder.conn, 3_000);
  assert.ok(authenticated.closed, "an authenticated connection announcing 1 GiB was kept");
  assert.equal(authenticated.bytesReceived, 0);

  const rssAfterKb = rssKb(server.process.pid);
  assert.ok(rssAfterKb - rssBeforeKb < 64 * 1024, `VmRSS ${rssBeforeKb} kB -> ${rssAfterKb} kB`);
  await assertServerAnswers(server);
});

Deno.test("an unauthenticated client endpoint says so and refuses clients holding a key", async () => {
  await using server = await TestServer.start({
    args: ["--disable-client-authentication-and-encryption"],
  });
  const access = await readAccess(server.dir);
  assert.equal(access.client!.secret_key, null);
  assert.match(access.worker!.secret_key!, /^[0-9a-f]{64}$/);
  assert.match(
    server.process.stderr(),
    /^\S+Z WARN .*CLIENT AUTHENTICATION AND ENCRYPTION IS DISABLED/m,
  );
  assert.doesNotMatch(server.process.stderr(), /WORKER AUTHENTICATION AND ENCRYPTION IS DISABLED/);
  await hqOk(["server", "info", "--server-dir", server.dir]);

  await using copy = await tempDir();
  await writeAccessCopy(copy.path, {
    ...access,
    client: { ...access.client!, secret_key: randomHexKey() },
  });
  const result = await hq(["server", "info", "--server-dir", copy.path]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, AUTH_ERROR);
  assert.match(result.stderr, /without authentication/);
});

Deno.test("an unauthenticated worker endpoint writes a null worker key and warns", async () => {
  await using server = await TestServer.start({
    args: ["--disable-worker-authentication-and-encryption"],
  });
  const access = await readAccess(server.dir);
  assert.equal(access.worker!.secret_key, null);
  assert.match(access.client!.secret_key!, /^[0-9a-f]{64}$/);
  assert.match(
    server.process.stderr(),
    /^\S+Z WARN .*WORKER AUTHENTICATION AND ENCRYPTION IS DISABLED/m,
  );
  assert.doesNotMatch(server.process.stderr(), /CLIENT AUTHENTICATION AND ENCRYPTION IS DISABLED/);
});

Deno.test("generate-access writes three 0400 files that a server and a client then share", async () => {
  await using dir = await tempDir();
  const [clientPort, workerPort] = [freePort(), freePort()];
  const full = `${dir.path}/f.json`;
  const clientFile = `${dir.path}/c.json`;
  const workerFile = `${dir.path}/w.json`;
  const generate = [
    "server",
    "generate-access",
    full,
    "--client-port",
    String(clientPort),
    "--worker-port",
    String(workerPort),
    "--host",
    "127.0.0.1",
    "--client-file",
    clientFile,
    "--worker-file",
    workerFile,
  ];
  assert.equal(await hqOk(generate), "");
  for (const path of [full, clientFile, workerFile]) {
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o400, path);
  }
  const record: AccessJson = JSON.parse(await Deno.readTextFile(full));
  assert.deepEqual(Object.keys(record), ["version", "server_uid", "client", "worker"]);
  assert.equal(record.client!.port, clientPort);
  assert.equal(record.worker!.port, workerPort);
  const clientOnly: AccessJson = JSON.parse(await Deno.readTextFile(clientFile));
  assert.deepEqual(clientOnly, { version: record.version, client: record.client });
  const workerOnly: AccessJson = JSON.parse(await Deno.readTextFile(workerFile));
  assert.deepEqual(workerOnly, { version: record.version, worker: record.worker });

  const again = await hq([
    "server",
    "generate-access",
    full,
    "--client-port",
    String(clientPort),
    "--worker-port",
    String(workerPort),
  ]);
  assert.equal(again.code, 1, again.stderr);
  assert.match(again.stderr, /already exists/);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(full)), record, "the file is untouched");

  await using server = await TestServer.start({ args: ["--access-file", full] });
  const live = await readAccess(server.dir);
  assert.deepEqual(live, record);

  await using clientDir = await tempDir();
  await Deno.copyFile(clientFile, `${clientDir.path}/access.json`);
  const info = JSON.parse(
    await hqOk(["server", "info", "--output-mode", "json", "--server-dir", clientDir.path]),
  );
  assert.equal(info.client_port, clientPort);
  assert.equal(info.worker_port, workerPort);
  assert.equal(info.server_uid, record.server_uid);
  assert.equal(info.pid, server.process.pid);

  // The worker half of the pre-generated keys opens the pre-generated worker port.
  const worker = await connectSession({
    host: "127.0.0.1",
    port: workerPort,
    role: "worker",
    secretKey: hexToBytes(workerOnly.worker!.secret_key!),
    isMessage: (_value: unknown): _value is never => false,
  });
  worker.close();
});
