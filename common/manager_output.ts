/**
 * Parsing of what PBS and Slurm print about a job (spec §2.7, §3), shared by the worker (its
 * remaining wall time) and the server's allocator (allocation states).
 */

/**
 * The whitespace-separated `Key=Value` tokens of `scontrol show job <id>`. The first occurrence of
 * a key wins: later tokens of a multi-line record can repeat a key with another meaning.
 */
export function parseScontrolFields(output: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const token of output.split(/\s+/)) {
    const eq = token.indexOf("=");
    if (eq > 0 && !fields.has(token.slice(0, eq))) {
      fields.set(token.slice(0, eq), token.slice(eq + 1));
    }
  }
  return fields;
}

/** A job of `qstat -f -F json`: its attributes as PBS prints them. */
export type QstatJob = Record<string, unknown>;

/**
 * The `Jobs` object of `qstat -f … -F json` output, by job id; empty when the key is absent (PBS
 * leaves it out when no job matched). Throws on output that is not such JSON.
 */
export function parseQstatJobs(output: string): Record<string, QstatJob> {
  const data: unknown = JSON.parse(output);
  if (!isObject(data)) throw new Error("qstat output is not a JSON object");
  if (data.Jobs === undefined) return {};
  if (!isObject(data.Jobs)) throw new Error(`"Jobs" in qstat output is not an object`);
  const jobs: Record<string, QstatJob> = {};
  for (const [id, job] of Object.entries(data.Jobs)) {
    if (!isObject(job)) throw new Error(`Job "${id}" in qstat output is not an object`);
    jobs[id] = job;
  }
  return jobs;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
