// What one task asks of a worker (resources spec §3): a list of entries, all of which must be
// satisfied together. Plain data: requests travel inside task templates in msgpack messages.
// Also the task-side request text: `--cpus`/`--resource` parsing, assembly, text/JSON/env forms.

import { HqError } from "../errors.ts";
import { ParseFailure, TextScanner } from "./text_scanner.ts";
import { AMOUNT_FRACTIONS, AmountParseError, formatAmount, parseU32 } from "./amount.ts";

/** Allocation policies of resources spec §3.3; `all` takes the whole pool (§3.4). */
export type RequestPolicy = "compact" | "compact!" | "tight" | "tight!" | "scatter" | "all";

/** One resource of a request. */
export interface ResourceRequestEntry {
  name: string;
  /** Amount in 1/10000 units (1 CPU = 10000); 0 when `policy` is `all`. */
  amount: number;
  policy: RequestPolicy;
}

/** The default request of a task: `cpus = 1 compact`. */
export const DEFAULT_CPU_REQUEST: ResourceRequestEntry = {
  name: "cpus",
  amount: 10_000,
  policy: "compact",
};

// --- Task-side request text (resources spec §3.1–§3.2, §1.1 env names) ---
// Parsed by hand, like `parse_resource_definition.ts`, so that a grammar failure can name what
// was expected and the column it happened at.

/**
 * A request (`--cpus`, `--resource NAME=RQ`, a job-file string) does not parse, or the submit
 * options do not combine. The spec's fixed errors (`Zero resources cannot be requested`,
 * `Resource precision exceeded`, the two assembly errors) are the bare message; any other
 * parse failure is a parser report `Invalid resource request "<input>": <note>`. Parse errors
 * carry the `input` text and the 0-based `offset` in it they refer to (the amount's start for
 * zero and precision); assembly errors carry neither.
 */
export class ResourceRequestError extends HqError {
  constructor(message: string, readonly input?: string, readonly offset?: number) {
    super(message);
  }
}

/** HyperQueue's JSON encoding of a request (job detail `resources`, jobs spec §9.2). */
export type RequestJson =
  | "All"
  | { Compact: number }
  | { ForceCompact: number }
  | { Tight: number }
  | { ForceTight: number }
  | { Scatter: number };

/** What `<RQ>` text asks for: the amount in 1/10000 units (0 for `all`) and the policy. */
export interface ParsedRequest {
  amount: number;
  policy: RequestPolicy;
}

const ZERO_REQUEST_MESSAGE = "Zero resources cannot be requested";
const PRECISION_EXCEEDED_MESSAGE = "Resource precision exceeded";
const CPUS_COMBINED_MESSAGE = "--cpus and --resource cpus=... cannot be combined";

const FRACTION_DIGITS = 4;

// Longest first, so `compact!` is not read as `compact` followed by a stray `!`.
const POLICIES: readonly RequestPolicy[] = ["compact!", "compact", "tight!", "tight", "scatter"];
const POLICY_LIST = "compact, compact!, tight, tight!, scatter";

/**
 * Parses `<RQ>`: `all` | AMOUNT [WS] [POLICY], e.g. `2`, `0.5 scatter`, `8compact!`, `1_000`.
 * Surrounding whitespace is ignored; the default policy is `compact`.
 */
export function parseRequestText(text: string): ParsedRequest {
  return withReport(text, parseRequestToEnd);
}

/** Parses the submit `--resource` value `NAME=RQ`, e.g. `gpus/nvidia=2 compact!`. */
export function parseResourceRequestArg(text: string): ResourceRequestEntry {
  text = memoryInMebibytes(text);
  return withReport(text, (scanner) => {
    const name = scanner.resourceNameAndEquals();
    const { amount, policy } = parseRequestToEnd(scanner);
    return { name, amount, policy };
  });
}

/** Bytes in one unit of `mem=<amount><unit>`. */
const MEMORY_UNITS: Record<string, bigint> = {
  KiB: 1n << 10n,
  MiB: 1n << 20n,
  GiB: 1n << 30n,
  TiB: 1n << 40n,
  KB: 1000n,
  MB: 1000n ** 2n,
  GB: 1000n ** 3n,
  TB: 1000n ** 4n,
};
const MEMORY_WITH_UNIT =
  /^(\s*mem\s*=\s*)([0-9]+(?:_[0-9]+)*)(?:\.([0-9]+))?\s*(KiB|MiB|GiB|TiB|KB|MB|GB|TB)\b/;

/**
 * `mem=100MiB` (also KiB, GiB, TiB, KB, MB, GB, TB) as `mem=100`: the `mem` resource counts MiB.
 * Beyond HyperQueue, which refuses units, because R's batchtools passes them. An amount that is
 * not a whole number of 1/10000 MiB is rounded up, so a task never gets less than it asked for.
 */
function memoryInMebibytes(text: string): string {
  const match = MEMORY_WITH_UNIT.exec(text);
  if (match === null) return text;
  const [whole, fraction = "", unit] = [match[2].replaceAll("_", ""), match[3], match[4]];
  const scale = 10n ** BigInt(fraction.length);
  const bytesTimesScale = BigInt(whole + fraction) * MEMORY_UNITS[unit];
  // In 1/10000 MiB, rounded up.
  const denominator = scale << 20n;
  const units = (bytesTimesScale * 10_000n + denominator - 1n) / denominator;
  const amount = `${units / 10_000n}.${String(units % 10_000n).padStart(4, "0")}`
    .replace(/\.?0+$/, "");
  return match[1] + amount + text.slice(match[0].length);
}

/**
 * Submit-side assembly of one request (§3.1) from `--cpus` and the `--resource` values in the
 * order given. The cpus entry, explicit or the default `cpus = 1 compact`, goes first (index 0)
 * as in HyperQueue; a `--resource cpus=…` entry keeps its place instead. Values are parsed
 * (`--cpus` first) before the combination checks.
 */
export function assembleTaskRequest(
  cpus: string | undefined,
  resources: readonly string[],
): ResourceRequestEntry[] {
  const cpuRequest = cpus === undefined ? undefined : parseRequestText(cpus);
  const entries = resources.map(parseResourceRequestArg);
  const hasCpuResource = entries.some((entry) => entry.name === DEFAULT_CPU_REQUEST.name);
  if (cpuRequest !== undefined && hasCpuResource) {
    throw new ResourceRequestError(CPUS_COMBINED_MESSAGE);
  }
  const seen = new Set<string>();
  for (const { name } of entries) {
    if (seen.has(name)) throw new ResourceRequestError(`Resource '${name}' defined more than once`);
    seen.add(name);
  }
  if (cpuRequest !== undefined) {
    entries.unshift({ name: DEFAULT_CPU_REQUEST.name, ...cpuRequest });
  } else if (!hasCpuResource) {
    entries.unshift({ ...DEFAULT_CPU_REQUEST });
  }
  return entries;
}

/**
 * Text form of a request (`HQ_RESOURCE_REQUEST_<N>`, `job info`): `<amount> <policy>` or `all`,
 * e.g. `1 compact`, `0.5 scatter`, `2 tight!`.
 */
export function formatRequest(request: Pick<ResourceRequestEntry, "amount" | "policy">): string {
  if (request.policy === "all") return "all";
  return `${formatAmount(request.amount)} ${request.policy}`;
}

/** HyperQueue's JSON of a request: `{"Compact": 10000}` for `1 compact`, `"All"` for `all`. */
export function requestJson(request: Pick<ResourceRequestEntry, "amount" | "policy">): RequestJson {
  switch (request.policy) {
    case "all":
      return "All";
    case "compact":
      return { Compact: request.amount };
    case "compact!":
      return { ForceCompact: request.amount };
    case "tight":
      return { Tight: request.amount };
    case "tight!":
      return { ForceTight: request.amount };
    case "scatter":
      return { Scatter: request.amount };
  }
}

/** The name as used in env var names (§1.1): `gpus/nvidia` → `gpus_nvidia`. */
export function envNameOf(name: string): string {
  // Per code point, so a character outside the BMP (possible in job files) is one `_`.
  return name.replace(/[^A-Za-z0-9]/gu, "_");
}

/** The `<RQ>` at the scanner through the end of the text, then the zero check. */
function parseRequestToEnd(scanner: RequestScanner): ParsedRequest {
  scanner.skipSpaces();
  const start = scanner.offset;
  const request = parseRequest(scanner);
  scanner.expectEnd();
  // Checked once the text parses, as HyperQueue validates the request after parsing it.
  if (request.policy !== "all" && request.amount === 0) {
    throw new ResourceRequestError(ZERO_REQUEST_MESSAGE, scanner.text, start);
  }
  return request;
}

/** The `<RQ>` at the scanner, without the end check; leading whitespace is skipped. */
function parseRequest(scanner: RequestScanner): ParsedRequest {
  scanner.skipSpaces();
  if (scanner.startsWith("all")) {
    scanner.offset += "all".length;
    return { amount: 0, policy: "all" };
  }
  if (!scanner.atDigit()) scanner.failUnexpected("all or an amount");
  const amount = parseRequestAmount(scanner);
  scanner.skipSpaces();
  const policy = POLICIES.find((candidate) => scanner.startsWith(candidate));
  if (policy !== undefined) scanner.offset += policy.length;
  else if (!scanner.atEnd()) scanner.failUnexpected(`a policy (${POLICY_LIST}) or end of input`);
  return { amount, policy: policy ?? "compact" };
}

/** AMOUNT := DIGITS ["." DIGITS], DIGITS = digit (digit | "_")*; at most 4 fraction digits. */
function parseRequestAmount(scanner: RequestScanner): number {
  const start = scanner.offset;
  const whole = scanner.digits();
  let fraction = "";
  if (scanner.eat(".")) {
    if (!scanner.atDigit()) scanner.failUnexpected("a digit");
    fraction = scanner.digits();
  }
  if (fraction.length > FRACTION_DIGITS) {
    throw new ResourceRequestError(PRECISION_EXCEEDED_MESSAGE, scanner.text, start);
  }
  let units: number;
  try {
    units = parseU32(whole);
  } catch (error) {
    if (error instanceof AmountParseError) scanner.fail(error.message, start);
    throw error;
  }
  return units * AMOUNT_FRACTIONS + Number(fraction.padEnd(FRACTION_DIGITS, "0"));
}

function withReport<T>(text: string, parse: (scanner: RequestScanner) => T): T {
  try {
    return parse(new RequestScanner(text));
  } catch (error) {
    if (error instanceof ParseFailure) {
      throw new ResourceRequestError(
        `Invalid resource request "${text}": ${error.note}`,
        text,
        error.offset,
      );
    }
    throw error;
  }
}

const DIGITS = /[0-9][0-9_]*/y;

class RequestScanner extends TextScanner {
  /** DIGITS at the offset (caller checked the first is a digit), `_` separators removed. */
  digits(): string {
    DIGITS.lastIndex = this.offset;
    const token = DIGITS.exec(this.text)?.[0] ?? "";
    this.offset += token.length;
    return token.replaceAll("_", "");
  }
}
