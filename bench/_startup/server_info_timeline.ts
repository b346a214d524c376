// Start-up probe: runs `hq server info --server-dir <dir>` in this process, exactly as main.ts
// does, and records when each step happened. Product code is not changed: the socket, the
// file-system calls and WebCrypto are wrapped from outside to timestamp them. Product modules are
// imported dynamically, so that their import is timed too.
//
//   deno run -A bench/_startup/server_info_timeline.ts <server-dir>
//
// stdout carries the command's own output; the timeline is one `TIMELINE {json}` line on stderr.
// Times are ms since the time origin, which Deno sets when the process starts its runtime.
const scriptStartMs = performance.now();

interface CryptoCall {
  op: string;
  startMs: number;
  endMs: number;
}
interface IoCall {
  startMs: number;
  endMs: number;
  bytes: number;
}

const serverDir = Deno.args[0];
const cryptoCalls: CryptoCall[] = [];
const writes: IoCall[] = [];
const reads: IoCall[] = [];
let firstFsCallMs = NaN;
let connectStartMs = NaN;
let connectEndMs = NaN;
/** Calls that are cheap when warm but may be slow the first time: [label, ms]. */
const firstCalls: Array<[string, number]> = [];

function timeFirstCall<F extends (...args: never[]) => unknown>(label: string, original: F): F {
  let timed = false;
  return function (this: unknown, ...args: Parameters<F>) {
    if (timed) return original.apply(this, args);
    timed = true;
    const startMs = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      firstCalls.push([label, performance.now() - startMs]);
    }
  } as F;
}

// Deno defines the timer globals as lazy getters: the first read of `setTimeout` loads the timers
// module. Wrap the getter, not the function, or this file would pay that cost itself.
const timerGetter = Object.getOwnPropertyDescriptor(globalThis, "setTimeout")?.get;
if (timerGetter) {
  Object.defineProperty(globalThis, "setTimeout", {
    configurable: true,
    get: timeFirstCall("first read of the global setTimeout (lazy timers module)", timerGetter),
  });
}
AbortSignal.timeout = timeFirstCall("first AbortSignal.timeout()", AbortSignal.timeout);

for (const op of ["importKey", "sign", "deriveKey", "encrypt", "decrypt"] as const) {
  const original = SubtleCrypto.prototype[op] as (...args: unknown[]) => Promise<unknown>;
  Object.defineProperty(SubtleCrypto.prototype, op, {
    configurable: true,
    writable: true,
    value: async function (this: SubtleCrypto, ...args: unknown[]) {
      const startMs = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        const detail = op === "importKey" ? ` ${algorithmName(args[2])}` : "";
        cryptoCalls.push({ op: `${op}${detail}`, startMs, endMs: performance.now() });
      }
    },
  });
}

for (const name of ["stat", "lstat", "realPath", "readTextFile"] as const) {
  const original = Deno[name] as (...args: unknown[]) => Promise<unknown>;
  Object.defineProperty(Deno, name, {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => {
      if (Number.isNaN(firstFsCallMs)) firstFsCallMs = performance.now();
      return original(...args);
    },
  });
}

// The client's first random bytes are the hello's nonce: a mark inside the handshake's start.
let nonceMs = NaN;
const originalRandom = Crypto.prototype.getRandomValues;
Crypto.prototype.getRandomValues = function <T extends ArrayBufferView>(this: Crypto, array: T): T {
  const result = originalRandom.call(this, array) as T;
  if (Number.isNaN(nonceMs) && !Number.isNaN(connectEndMs)) nonceMs = performance.now();
  return result;
};

const originalConnect = Deno.connect;
Object.defineProperty(Deno, "connect", {
  configurable: true,
  writable: true,
  value: async (options: Deno.ConnectOptions) => {
    connectStartMs = performance.now();
    const conn = await originalConnect(options);
    connectEndMs = performance.now();
    const read = conn.read.bind(conn);
    const write = conn.write.bind(conn);
    conn.read = async (buffer: Uint8Array) => {
      const startMs = performance.now();
      const count = await read(buffer);
      if (count) reads.push({ startMs, endMs: performance.now(), bytes: count });
      return count;
    };
    conn.write = async (bytes: Uint8Array) => {
      const startMs = performance.now();
      const count = await write(bytes);
      writes.push({ startMs, endMs: performance.now(), bytes: count });
      return count;
    };
    return conn;
  },
});

function algorithmName(algorithm: unknown): string {
  return typeof algorithm === "string"
    ? algorithm
    : String((algorithm as { name?: string } | null)?.name);
}

const { runCli } = await import("../../cli/run_cli.ts");
const cliImportedMs = performance.now();
// runCli imports this lazily after parsing; importing it first puts a number on it.
await import("../../cli/run_server_client.ts");
const clientImportedMs = performance.now();
const code = await runCli(["server", "info", "--server-dir", serverDir]);
const cliDoneMs = performance.now();

// The request is sealed by the first `encrypt`; on a plain server there is none.
const encrypt = cryptoCalls.find((call) => call.op === "encrypt");
const decrypt = cryptoCalls.find((call) => call.op === "decrypt");
// [key, what happened since the previous mark, when it ended]
const marks: Array<[string, string, number | undefined]> = [
  ["runtime-start", "runtime start, until this file's first line", scriptStartMs],
  ["import-run-cli", "import cli/run_cli.ts (parser, commands, output)", cliImportedMs],
  [
    "import-client",
    "import cli/run_server_client.ts (client, transport, msgpack)",
    clientImportedMs,
  ],
  ["parse-args", "parse arguments, build the context", firstFsCallMs],
  ["read-access-file", "find and read access.json", connectStartMs],
  ["tcp-connect", "TCP connect", connectEndMs],
  ["handshake-timer-nonce", "start the handshake: deadline timer, nonce", nonceMs],
  ["encode-hello", "encode hello", writes[0]?.startMs],
  ["write-hello", "write hello", writes[0]?.endMs],
  ["rtt-hello-challenge", "round trip 1: hello -> challenge", reads[0]?.endMs],
  ["make-proof", "check challenge, make proof (HMAC import + 2 signs)", writes[1]?.startMs],
  ["rtt-proof-accepted", "round trip 2: proof -> accepted", reads[1]?.endMs],
  [
    "derive-keys",
    "derive AES-GCM keys (HKDF import + 2 deriveKey)",
    encrypt?.startMs ?? writes[2]?.startMs,
  ],
  ["send-request", "seal and send the request", writes[2]?.endMs],
  ["rtt-request-response", "round trip 3: request -> response", reads[2]?.endMs],
  ["open-response", "open the response", decrypt?.endMs ?? reads[2]?.endMs],
  ["print-close", "format and print, close", cliDoneMs],
];
const phases: Array<[string, string, number]> = [];
let previousMs = 0;
for (const [key, label, atMs] of marks) {
  if (atMs === undefined || Number.isNaN(atMs)) continue;
  phases.push([key, label, atMs - previousMs]);
  previousMs = atMs;
}
console.error(
  `TIMELINE ${
    JSON.stringify({
      phases,
      timeOriginMs: performance.timeOrigin,
      endMs: cliDoneMs,
      firstCalls,
      crypto: cryptoCalls.map((call) => [call.op, call.endMs - call.startMs]),
    })
  }`,
);
Deno.exit(code);
