/**
 * Summarises a V8 CPU profile (`deno run --cpu-prof --cpu-prof-dir=DIR`, written at a clean exit):
 * the functions with the most self time, and the same time summed per source file.
 *
 *   deno run -A bench/cpu_profile_top.ts PROFILE.cpuprofile|DIR [--top N]
 *
 * A directory stands for every `.cpuprofile` in it (one per process that ran with the flag).
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers. */
  totalMs: number;
  /** Time in samples that were not `(idle)`. */
  busyMs: number;
  functions: SelfTime[];
  files: SelfTime[];
}

/** Self time per function (name and location) and per file, largest first. */
export function summarise(profile: CpuProfile): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let busyUs = 0;
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time is the delta to the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    const frame = nodes.get(profile.samples[i])!.callFrame;
    totalUs += us;
    if (frame.functionName !== "(idle)") busyUs += us;
    const file = shortUrl(frame.url) || frame.functionName;
    const name = frame.url
      ? `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`
      : frame.functionName;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const sorted = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({
      name,
      ms: us / 1000,
      share: us / totalUs,
    }));
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    functions: sorted(byFunction),
    files: sorted(byFile),
  };
}

/** `file:///work/main/server/x.ts` → `server/x.ts`; npm and ext URLs keep their last parts. */
function shortUrl(url: string): string {
  if (!url) return "";
  const root = new URL("../", import.meta.url).href;
  if (url.startsWith(root)) return url.slice(root.length);
  const parts = url.split("/");
  return parts.slice(-2).join("/");
}

export async function profilePaths(path: string): Promise<string[]> {
  if (!(await Deno.stat(path)).isDirectory) return [path];
  const paths: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    if (entry.isFile && entry.name.endsWith(".cpuprofile")) paths.push(`${path}/${entry.name}`);
  }
  return paths.sort();
}

function print(path: string, summary: ProfileSummary, top: number): void {
  const line = (s: SelfTime) =>
    `${s.ms.toFixed(0).padStart(8)} ms ${(s.share * 100).toFixed(1).padStart(5)}%  ${s.name}`;
  console.log(
    `${path}: ${(summary.totalMs / 1000).toFixed(1)} s profiled, ${
      (summary.busyMs / 1000).toFixed(1)
    } s busy (${(summary.busyMs / summary.totalMs * 100).toFixed(0)}%)`,
  );
  console.log("self time by function:");
  for (const s of summary.functions.slice(0, top)) console.log(line(s));
  console.log("self time by file:");
  for (const s of summary.files.slice(0, top)) console.log(line(s));
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--top");
  const top = at >= 0 ? Number(Deno.args[at + 1]) : 25;
  const inputs = Deno.args.filter((arg, i) =>
    !arg.startsWith("--") && Deno.args[i - 1] !== "--top"
  );
  if (inputs.length === 0) {
    console.error("usage: deno run -A bench/cpu_profile_top.ts PROFILE|DIR [--top N]");
    Deno.exit(2);
  }
  for (const input of inputs) {
    for (const path of await profilePaths(input)) {
      print(path, summarise(JSON.parse(await Deno.readTextFile(path))), top);
    }
  }
}
