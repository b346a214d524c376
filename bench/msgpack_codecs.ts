// Benchmark of the two msgpack candidates on hq's wire-message shapes.
//
//   deno run -A bench/msgpack_codecs.ts            throughput table + garbage check + start-up cost
//   deno run -A bench/msgpack_codecs.ts --quick    throughput table only
//
// Codecs (plain standard msgpack, no records/structures extension, reused instances):
//   @msgpack         new Encoder() / new Decoder() from "@msgpack/msgpack" (dist.esm build)
//   msgpackr         new Packr({useRecords: false}) / new Unpackr({useRecords: false}) from the
//                    "msgpackr/pack" and "msgpackr/unpack" subpaths. Under Deno's "node" export
//                    condition both subpaths resolve to msgpackr's index.js (pure JS pack+unpack).
//   msgpackr+native  the same Packr/Unpackr after `import("msgpackr")` (the package root,
//                    node-index.js), which loads the msgpackr-extract N-API addon and switches the
//                    shared unpack module to native string extraction. Encoding is unchanged by it,
//                    so only its decode is measured. The switch is process-wide and irreversible,
//                    hence it is measured after the pure-JS rows.
//
// benchMsgpackCodecs() returns one entry per shape x figure with figure = msgpackr,
// reference = @msgpack and ratio = msgpackr / @msgpack (ops/s: > 1 means msgpackr is faster;
// bytes: > 1 means msgpackr's frame is bigger). For ops/s the ratio is the median of the
// per-round ratios of interleaved rounds, which is steadier on a noisy machine than, and so not
// exactly equal to, figure / reference (each the median of its own rounds).

import { Decoder, Encoder } from "@msgpack/msgpack";
import { Packr } from "msgpackr/pack";
import * as msgpackrUnpack from "msgpackr/unpack";

const { Unpackr } = msgpackrUnpack;

export interface BenchResult {
  name: string;
  figure: number;
  unit: string;
  reference: number;
  ratio: number;
}

// ---------------------------------------------------------------------------------------------
// Message shapes

function nonce(): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 73 + 41) & 0xff;
  return bytes;
}

export const SHAPES: ReadonlyArray<{ name: string; value: unknown }> = [
  {
    name: "small-request",
    value: { type: "request", id: 17, request: { type: "server-info" } },
  },
  {
    name: "server-info-response",
    value: {
      type: "response",
      id: 17,
      response: {
        type: "server-info",
        serverUid: "Xq7mB2",
        clientHost: "login1",
        clientPort: 36417,
        workerHost: "login1",
        workerPort: 43109,
        version: "v0.26.2",
        pid: 81234,
        startDateMs: 1741083175101,
        journalPath: null,
      },
    },
  },
  {
    name: "1000x-task-finished",
    value: Array.from({ length: 1000 }, (_, i) => ({
      type: "task-finished",
      jobId: 3,
      taskId: i,
      instanceId: 0,
      durationMs: 12.5,
    })),
  },
  {
    name: "500x-assign",
    value: Array.from({ length: 500 }, (_, i) => ({
      type: "assign",
      jobId: 3,
      taskId: i,
      instanceId: 0,
      cpus: [i % 128],
      entry: null,
    })),
  },
  {
    name: "job-submit",
    value: {
      type: "submit",
      name: "my-job",
      array: { ranges: [[1, 1000000, 1]] },
      program: {
        args: ["/bin/bash", "-c", "echo $HQ_TASK_ID"],
        env: { A: "1", B: "two" },
        cwd: "/home/alice/work",
        stdout: "%{CWD}/job-%{JOB_ID}/%{TASK_ID}.stdout",
        stderr: "%{CWD}/job-%{JOB_ID}/%{TASK_ID}.stderr",
      },
      resources: [{ name: "cpus", amount: 10000, policy: "compact" }],
      priority: 0,
      crashLimit: 5,
      timeLimitMs: null,
    },
  },
  {
    name: "hello-with-nonce",
    value: { type: "hello", protocol: 1, role: "client", auth: true, nonce: nonce() },
  },
];

// ---------------------------------------------------------------------------------------------
// Codecs

interface Codec {
  name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

function makeMsgpack(): Codec {
  const encoder = new Encoder();
  const decoder = new Decoder();
  return {
    name: "@msgpack",
    encode: (value) => encoder.encode(value),
    decode: (bytes) => decoder.decode(bytes),
  };
}

function makeMsgpackr(name = "msgpackr"): Codec {
  const packr = new Packr({ useRecords: false });
  const unpackr = new Unpackr({ useRecords: false });
  return {
    name,
    encode: (value) => packr.pack(value),
    decode: (bytes) => unpackr.unpack(bytes),
  };
}

function nativeEnabled(): boolean {
  // Live binding exported by msgpackr's unpack.js (not declared in the subpath's .d.ts).
  return (msgpackrUnpack as Record<string, unknown>).isNativeAccelerationEnabled === true;
}

// ---------------------------------------------------------------------------------------------
// Timing

let sink: unknown = undefined;
let sinkBytes = 0;

/** Runs fn in batches for about `ms` milliseconds; returns calls per second. */
function rate(fn: () => void, ms: number): number {
  // Calibrate a batch size that takes ~2 ms so timer overhead is negligible.
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    if (performance.now() - t0 >= 2 || batch >= 1 << 20) break;
    batch *= 2;
  }
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    now = performance.now();
  }
  return calls / ((now - start) / 1000);
}

const ROUNDS = 10;
const ROUND_MS = 30; // 10 x 30 ms = 300 ms measured per shape x codec x operation
const WARMUP_CYCLES = 3;
const WARMUP_MS = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Measures a reference and a candidate function in ROUNDS interleaved rounds (ABBA order) so that
 * drift of the machine hits both alike. Returns the median rate of each and the median of the
 * per-round ratios candidate / reference (steadier than the ratio of the medians on a noisy VM).
 */
function measurePair(
  ref: () => void,
  cand: () => void,
): { ref: number; cand: number; ratio: number } {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      a.push(rate(ref, ROUND_MS));
      b.push(rate(cand, ROUND_MS));
    } else {
      b.push(rate(cand, ROUND_MS));
      a.push(rate(ref, ROUND_MS));
    }
  }
  return { ref: median(a), cand: median(b), ratio: median(a.map((x, i) => b[i] / x)) };
}

/**
 * Brings every codec to its steady, shape-polymorphic JIT state before anything is measured
 * (a server encodes and decodes all message shapes through the same instances), so the order
 * in which shapes are measured does not decide the figures.
 */
function warmUp(codecs: Codec[]): void {
  for (let cycle = 0; cycle < WARMUP_CYCLES; cycle++) {
    for (const shape of SHAPES) {
      for (const c of codecs) {
        const input = new Uint8Array(c.encode(shape.value));
        rate(() => {
          sinkBytes += c.encode(shape.value).length;
        }, WARMUP_MS);
        rate(() => {
          sink = c.decode(input);
        }, WARMUP_MS);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Correctness checks

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b) && !Array.isArray(a)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(rb, k) && deepEqual(ra[k], rb[k]));
}

/** Describes the first difference between a (expected) and b, for notes. */
function firstDifference(a: unknown, b: unknown, path = "$"): string | null {
  if (deepEqual(a, b)) return null;
  if (
    typeof a === "object" && typeof b === "object" && a !== null && b !== null &&
    !(a instanceof Uint8Array)
  ) {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    for (const k of Object.keys(ra)) {
      const d = firstDifference(ra[k], rb[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  const show = (v: unknown) =>
    typeof v === "bigint"
      ? `${v}n (bigint)`
      : v instanceof Uint8Array
      ? `${v.constructor.name}(${v.length})`
      : typeof v === "object" && v !== null
      ? (v.constructor?.name ?? "object")
      : JSON.stringify(v);
  return `${path}: expected ${show(a)}, got ${show(b)}`;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface CheckReport {
  notes: string[];
  failures: string[];
}

/** Round-trip, cross-decode and Uint8Array checks on every shape. */
export function checkCodecs(codecs: Codec[]): CheckReport {
  const notes: string[] = [];
  const failures: string[] = [];
  for (const shape of SHAPES) {
    const encoded = codecs.map((c) => c.encode(shape.value));
    for (let i = 0; i < codecs.length; i++) {
      // Own round-trip, on the encoder's output as returned and on a plain Uint8Array copy
      // (what a Deno socket read hands us).
      for (
        const [label, input] of [["as returned", encoded[i]], [
          "plain copy",
          new Uint8Array(encoded[i]),
        ]] as const
      ) {
        const out = codecs[i].decode(input);
        const d = firstDifference(shape.value, out);
        if (d) failures.push(`${shape.name}: ${codecs[i].name} round-trip (${label}) ${d}`);
      }
      // Cross-decode: bytes from every other codec.
      for (let j = 0; j < codecs.length; j++) {
        if (i === j) continue;
        const out = codecs[i].decode(new Uint8Array(encoded[j]));
        const d = firstDifference(shape.value, out);
        if (d) {
          notes.push(
            `${shape.name}: ${codecs[i].name} decoding ${codecs[j].name}'s bytes: ${d}`,
          );
        }
      }
    }
    if (encoded.length >= 2 && hex(encoded[0]) !== hex(encoded[1])) {
      notes.push(
        `${shape.name}: encodings differ (${codecs[0].name} ${encoded[0].length} B, ` +
          `${codecs[1].name} ${encoded[1].length} B)`,
      );
    }
    // Binary type check.
    const v = shape.value as Record<string, unknown>;
    if (v && v.nonce instanceof Uint8Array) {
      for (let i = 0; i < codecs.length; i++) {
        const encOut = encoded[i].constructor.name;
        const asReturned = (codecs[i].decode(encoded[i]) as Record<string, unknown>).nonce;
        const fromPlain =
          (codecs[i].decode(new Uint8Array(encoded[i])) as Record<string, unknown>).nonce;
        const name = (x: unknown) => (x as object)?.constructor?.name ?? typeof x;
        notes.push(
          `${shape.name}: ${codecs[i].name} encode() returns ${encOut}; nonce decodes as ` +
            `${name(fromPlain)} from a plain Uint8Array, ${
              name(asReturned)
            } from its own output; ` +
            `instanceof Uint8Array: ${fromPlain instanceof Uint8Array}`,
        );
      }
    }
  }
  // Edge semantics that matter for a framed protocol.
  const edges: Array<[string, number[]]> = [
    ["never-used byte 0xc1", [0xc1]],
    ["trailing byte after a value", [0x01, 0x02]],
    ["uint64 1741083175101", [0xcf, 0, 0, 0x01, 0x95, 0x60, 0xa4, 0xe8, 0xbd]],
  ];
  for (const [label, bytes] of edges) {
    const outcome = codecs.map((c) => {
      try {
        const v = c.decode(new Uint8Array(bytes));
        const t = typeof v === "object" && v !== null ? v.constructor?.name : typeof v;
        return `${c.name} returns ${t} ${String(v)}`;
      } catch (err) {
        return `${c.name} throws ${(err as Error).constructor.name}`;
      }
    });
    notes.push(`${label}: ${outcome.join("; ")}`);
  }
  return { notes, failures };
}

// ---------------------------------------------------------------------------------------------
// Throughput

interface Row {
  shape: string;
  codec: string;
  encodeOps: number | null;
  decodeOps: number;
  bytes: number;
  /** candidate / @msgpack, median of per-round ratios; null for the reference row. */
  encodeRatio: number | null;
  decodeRatio: number | null;
  bytesRatio: number | null;
}

/**
 * Measures `cand` against the reference `ref` on every shape. Decode input is a plain Uint8Array
 * copy of the codec's own encoding, as read from a socket.
 */
function benchShapes(ref: Codec, cand: Codec, encode: boolean): { ref: Row[]; cand: Row[] } {
  warmUp([ref, cand]);
  const refRows: Row[] = [];
  const candRows: Row[] = [];
  for (const shape of SHAPES) {
    const value = shape.value;
    const refIn = new Uint8Array(ref.encode(value));
    const candIn = new Uint8Array(cand.encode(value));
    const enc = encode
      ? measurePair(() => {
        sinkBytes += ref.encode(value).length;
      }, () => {
        sinkBytes += cand.encode(value).length;
      })
      : null;
    const dec = measurePair(() => {
      sink = ref.decode(refIn);
    }, () => {
      sink = cand.decode(candIn);
    });
    refRows.push({
      shape: shape.name,
      codec: ref.name,
      encodeOps: enc ? enc.ref : null,
      decodeOps: dec.ref,
      bytes: refIn.length,
      encodeRatio: null,
      decodeRatio: null,
      bytesRatio: null,
    });
    candRows.push({
      shape: shape.name,
      codec: cand.name,
      encodeOps: enc ? enc.cand : null,
      decodeOps: dec.cand,
      bytes: candIn.length,
      encodeRatio: enc ? enc.ratio : null,
      decodeRatio: dec.ratio,
      bytesRatio: candIn.length / refIn.length,
    });
  }
  return { ref: refRows, cand: candRows };
}

let lastRows: Row[] = [];
let lastChecks: CheckReport = { notes: [], failures: [] };

/**
 * Throughput + size of msgpackr (figure) against @msgpack/msgpack (reference) per shape.
 * Phase 1: pure-JS msgpackr vs @msgpack. Phase 2 (only if it loads and was not already on):
 * import the msgpackr root, which enables the native string extractor process-wide, and measure
 * decode again against a fresh @msgpack reference measured in the same rounds.
 */
export async function benchMsgpackCodecs(): Promise<BenchResult[]> {
  const wasNative = nativeEnabled();
  const pure = makeMsgpackr(wasNative ? "msgpackr(native on)" : "msgpackr");
  const reference = makeMsgpack();
  lastChecks = checkCodecs([reference, pure]);
  const phase1 = benchShapes(reference, pure, true);

  let nativeRows: Row[] = [];
  try {
    const root = await import("msgpackr");
    if (root.isNativeAccelerationEnabled && !wasNative) {
      const native = makeMsgpackr("msgpackr+native");
      const nativeCheck = checkCodecs([makeMsgpack(), native]);
      lastChecks.failures.push(...nativeCheck.failures);
      nativeRows = benchShapes(makeMsgpack(), native, false).cand;
    } else if (!wasNative) {
      lastChecks.notes.push("msgpackr root did not enable native acceleration");
    }
  } catch (err) {
    lastChecks.notes.push(`import("msgpackr") failed: ${err}`);
  }

  lastRows = [];
  const results: BenchResult[] = [];
  const entry = (name: string, figure: number, reference: number, unit: string, ratio: number) =>
    results.push({ name, figure, unit, reference, ratio });
  SHAPES.forEach((shape, i) => {
    const ref = phase1.ref[i];
    const mr = phase1.cand[i];
    const nat = nativeRows[i];
    lastRows.push(ref, mr, ...(nat ? [nat] : []));
    const base = `msgpack/${shape.name}`;
    entry(`${base}/encode`, mr.encodeOps!, ref.encodeOps!, "ops/s", mr.encodeRatio!);
    entry(`${base}/decode`, mr.decodeOps, ref.decodeOps, "ops/s", mr.decodeRatio!);
    if (nat) {
      // Reference of the native figure is the @msgpack decode rate of its own phase.
      entry(
        `${base}/decode-native`,
        nat.decodeOps,
        nat.decodeOps / nat.decodeRatio!,
        "ops/s",
        nat.decodeRatio!,
      );
    }
    entry(`${base}/bytes`, mr.bytes, ref.bytes, "bytes", mr.bytesRatio!);
  });
  return results;
}

// ---------------------------------------------------------------------------------------------
// Garbage input: run in a child process per codec so a hang or a crash is observed, not suffered.

/** xorshift32, seeded, so every run feeds the same garbage. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

interface GarbageReport {
  codec: string;
  cases: number;
  threwError: number;
  threwNonError: number;
  returned: number;
  truncatedNotThrown: number;
  hugeHeaderNotThrown: number;
  maxMs: number;
  slowest: string;
  errorTypes: Record<string, number>;
  /** kind -> [cases, returned a value] */
  byKind: Record<string, [number, number]>;
}

function garbageCases(reference: Codec): Array<{ kind: string; bytes: Uint8Array }> {
  const rnd = prng(0x9e3779b9);
  const cases: Array<{ kind: string; bytes: Uint8Array }> = [];
  const randomBytes = (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = rnd() & 0xff;
    return b;
  };
  cases.push({ kind: "random", bytes: new Uint8Array(0) });
  for (let i = 0; i < 3000; i++) cases.push({ kind: "random", bytes: randomBytes(1 + rnd() % 64) });
  for (let i = 0; i < 300; i++) {
    cases.push({ kind: "random", bytes: randomBytes(1 + rnd() % 8192) });
  }
  for (const shape of SHAPES) {
    const valid = new Uint8Array(reference.encode(shape.value));
    // Every proper prefix of small frames, 200 random cuts of big ones: must all throw.
    const cuts = valid.length <= 512
      ? Array.from({ length: valid.length }, (_, i) => i)
      : Array.from({ length: 200 }, () => rnd() % valid.length);
    for (const n of cuts) cases.push({ kind: "truncated", bytes: valid.slice(0, n) });
    // Single-byte corruption: may legitimately decode to something else, or throw.
    for (let i = 0; i < 300; i++) {
      const b = valid.slice();
      b[rnd() % b.length] = rnd() & 0xff;
      cases.push({ kind: "mutated", bytes: b });
    }
  }
  // Headers claiming 4 GiB of content followed by a few bytes.
  for (const head of [0xdc, 0xdd, 0xde, 0xdf, 0xdb, 0xda, 0xc6, 0xc5, 0xc9]) {
    const b = new Uint8Array(16).fill(0xff);
    b[0] = head;
    b[5] = 0x01;
    cases.push({ kind: "huge-header", bytes: b });
  }
  // array32 headers just small enough for V8 to pre-allocate a dense backing store for
  // `new Array(n)`, which both decoders do before reading a single element.
  for (const n of [0x00100000, 0x0092216f, 0x00ffffff]) {
    cases.push({
      kind: "dense-array-header",
      bytes: new Uint8Array([0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, 1]),
    });
  }
  // 100k nested one-element arrays: valid msgpack when terminated, truncated when not.
  for (const terminated of [true, false]) {
    const b = new Uint8Array(100_000 + (terminated ? 1 : 0)).fill(0x91);
    if (terminated) b[b.length - 1] = 0xc0;
    cases.push({ kind: terminated ? "deep-nesting" : "deep-nesting-truncated", bytes: b });
  }
  return cases;
}

function runGarbage(codecName: string, codec: Codec, reference: Codec): GarbageReport {
  const report: GarbageReport = {
    codec: codecName,
    cases: 0,
    threwError: 0,
    threwNonError: 0,
    returned: 0,
    truncatedNotThrown: 0,
    hugeHeaderNotThrown: 0,
    maxMs: 0,
    slowest: "",
    errorTypes: {},
    byKind: {},
  };
  for (const c of garbageCases(reference)) {
    report.cases++;
    const kind = (report.byKind[c.kind] ??= [0, 0]);
    kind[0]++;
    const t0 = performance.now();
    try {
      sink = codec.decode(c.bytes);
      report.returned++;
      kind[1]++;
      if (c.kind === "truncated") report.truncatedNotThrown++;
      if (c.kind === "huge-header") report.hugeHeaderNotThrown++;
    } catch (err) {
      if (err instanceof Error) {
        report.threwError++;
        report.errorTypes[err.constructor.name] = (report.errorTypes[err.constructor.name] ?? 0) +
          1;
      } else report.threwNonError++;
    }
    const ms = performance.now() - t0;
    if (ms > report.maxMs) {
      report.maxMs = ms;
      report.slowest = `${c.kind} ${c.bytes.length} B ${hex(c.bytes.subarray(0, 6))}..`;
    }
  }
  return report;
}

async function garbageChild(which: string): Promise<void> {
  let codec: Codec;
  if (which === "@msgpack") codec = makeMsgpack();
  else if (which === "msgpackr") codec = makeMsgpackr();
  else {
    await import("msgpackr");
    if (!nativeEnabled()) throw new Error("native acceleration did not load");
    codec = makeMsgpackr("msgpackr+native");
  }
  console.log(JSON.stringify(runGarbage(which, codec, makeMsgpack())));
}

export async function checkGarbage(): Promise<
  Array<GarbageReport | { codec: string; failure: string }>
> {
  const out: Array<GarbageReport | { codec: string; failure: string }> = [];
  for (const which of ["@msgpack", "msgpackr", "msgpackr+native"]) {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--garbage-child", which],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    });
    try {
      const res = await cmd.output();
      const text = new TextDecoder().decode(res.stdout).trim();
      if (!res.success) {
        out.push({
          codec: which,
          failure: `child exited code=${res.code} signal=${res.signal}: ` +
            new TextDecoder().decode(res.stderr).slice(0, 300),
        });
      } else out.push(JSON.parse(text.split("\n").pop()!));
    } catch (err) {
      out.push({ codec: which, failure: `child did not finish: ${err}` });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Start-up cost: `deno run -A` of tiny files, interleaved, median wall time.

/** Start-up probes: each imports one codec and round-trips {a: 1}; empty.ts is the baseline. */
const STARTUP_FILES: Record<string, string> = {
  "empty.ts": `// Baseline for start-up timing: no imports, no work.
`,
  "msgpack.ts": `// Start-up probe: import @msgpack/msgpack (ESM build) and round-trip {a: 1}.
import { Decoder, Encoder } from "@msgpack/msgpack";

const out = new Decoder().decode(new Encoder().encode({ a: 1 })) as { a: number };
if (out.a !== 1) throw new Error("round-trip failed");
`,
  "msgpackr_subpath.ts":
    `// Start-up probe: import msgpackr through the /pack and /unpack subpaths and round-trip {a: 1}.
// Under Deno (node condition) both subpaths resolve to index.js: pure JS pack + unpack.
import { Packr } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";

const bytes = new Packr({ useRecords: false }).pack({ a: 1 });
const out = new Unpackr({ useRecords: false }).unpack(bytes) as { a: number };
if (out.a !== 1) throw new Error("round-trip failed");
`,
  "msgpackr_root.ts":
    `// Start-up probe: import msgpackr from the package root and round-trip {a: 1}.
// Under Deno the root resolves to node-index.js (struct + stream + native msgpackr-extract).
import { Packr, Unpackr } from "msgpackr";

const bytes = new Packr({ useRecords: false }).pack({ a: 1 });
const out = new Unpackr({ useRecords: false }).unpack(bytes) as { a: number };
if (out.a !== 1) throw new Error("round-trip failed");
`,
};

export async function benchStartup(
  runs = 30,
): Promise<Array<{ file: string; medianMs: number; minMs: number }>> {
  const files = Object.keys(STARTUP_FILES);
  const dir = new URL("./_startup/", import.meta.url);
  // The probes live in bench/_startup/ (git-ignored): (re)write them so a clean checkout works.
  await Deno.mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(STARTUP_FILES)) {
    const path = new URL(file, dir);
    const current = await Deno.readTextFile(path).catch(() => null);
    if (current !== text) await Deno.writeTextFile(path, text);
  }
  const cwd = new URL("..", import.meta.url).pathname;
  const times: number[][] = files.map(() => []);
  const once = async (file: string) => {
    const t0 = performance.now();
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(file, dir).pathname],
      cwd,
      stdout: "null",
      stderr: "null",
    }).output();
    if (!res.success) throw new Error(`${file} failed`);
    return performance.now() - t0;
  };
  for (const f of files) await once(f); // warm the module / code caches
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < files.length; i++) times[i].push(await once(files[i]));
  }
  return files.map((file, i) => {
    const s = times[i].sort((a, b) => a - b);
    return { file, medianMs: s[Math.floor(s.length / 2)], minMs: s[0] };
  });
}

// ---------------------------------------------------------------------------------------------
// CLI

function fmtOps(n: number | null): string {
  if (n === null) return "-";
  return Math.round(n).toLocaleString("en-US");
}

function printTable(rows: Row[]): void {
  const header = [
    "shape",
    "codec",
    "encode ops/s",
    "decode ops/s",
    "bytes",
    "enc x",
    "dec x",
    "size x",
  ];
  const ratio = (x: number | null) => (x === null ? "" : x.toFixed(2));
  const lines: string[][] = [header];
  for (const r of rows) {
    lines.push([
      r.shape,
      r.codec,
      fmtOps(r.encodeOps),
      fmtOps(r.decodeOps),
      String(r.bytes),
      ratio(r.encodeRatio),
      ratio(r.decodeRatio),
      ratio(r.bytesRatio),
    ]);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  for (const [n, l] of lines.entries()) {
    console.log(
      l.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ")
        .trimEnd(),
    );
    if (n === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

if (import.meta.main) {
  const args = Deno.args;
  const child = args.indexOf("--garbage-child");
  if (child >= 0) {
    await garbageChild(args[child + 1]);
    Deno.exit(0);
  }
  console.log(
    `deno ${Deno.version.deno} (v8 ${Deno.version.v8}), ${Deno.build.target}; ` +
      `${ROUNDS} interleaved rounds x ${ROUND_MS} ms per figure, after a warm-up over all shapes`,
  );
  console.log(
    "x columns = msgpackr / @msgpack, median of per-round ratios (ops/s: > 1 msgpackr faster;\n" +
      "size: > 1 msgpackr bigger). msgpackr+native rows: decode only, against an @msgpack\n" +
      "reference re-measured in the same rounds (its ops/s is not shown).\n",
  );
  await benchMsgpackCodecs();
  printTable(lastRows);
  console.log(`\nsink ${typeof sink} ${sinkBytes > 0}`);
  console.log("\nChecks:");
  for (const n of lastChecks.notes) console.log(`  note: ${n}`);
  for (const f of lastChecks.failures) console.log(`  FAIL: ${f}`);
  if (lastChecks.failures.length === 0) {
    console.log("  round-trips of every shape: ok for every codec");
  }

  if (!args.includes("--quick")) {
    console.log("\nGarbage input (seeded; each codec in its own child process):");
    for (const r of await checkGarbage()) {
      if ("failure" in r) {
        console.log(`  ${r.codec}: FAIL ${r.failure}`);
        continue;
      }
      const kinds = Object.entries(r.byKind)
        .map(([k, [n, ok]]) => `${k} ${ok}/${n}`).join(", ");
      console.log(
        `  ${r.codec}: ${r.cases} cases; threw Error ${r.threwError} ` +
          `(${Object.entries(r.errorTypes).map(([k, v]) => `${k} ${v}`).join(", ")}), ` +
          `threw non-Error ${r.threwNonError}, returned a value ${r.returned}\n` +
          `      returned a value, by kind: ${kinds}\n` +
          `      slowest case ${r.maxMs.toFixed(2)} ms (${r.slowest})`,
      );
    }

    console.log("\nStart-up (deno run -A bench/_startup/<file>, 30 interleaved runs):");
    const st = await benchStartup();
    const base = st[0];
    for (const s of st) {
      console.log(
        `  ${s.file.padEnd(20)} median ${s.medianMs.toFixed(1)} ms, min ${s.minMs.toFixed(1)} ms` +
          (s === base ? "" : `  => +${(s.medianMs - base.medianMs).toFixed(1)} ms median, ` +
            `+${(s.minMs - base.minMs).toFixed(1)} ms min`),
      );
    }
  }
}
