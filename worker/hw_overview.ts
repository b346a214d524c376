/**
 * Hardware-usage overviews (`hq worker start --overview-interval`): CPU per core, memory and
 * network from `/proc` (read in-process: no child per sample), GPUs from `nvidia-smi`/`rocm-smi`
 * when the worker has such GPUs. Shaped as HyperQueue's `HwSample`, which its journal exports.
 */
import type { GpuUsage, HwState } from "../common/protocol.ts";

const decoder = new TextDecoder();

export interface HwSamplerOptions {
  /** Poll `nvidia-smi`. @default {false} */
  nvidia?: boolean;
  /** Poll `rocm-smi`. @default {false} */
  amd?: boolean;
}

/** Samples the machine; CPU usage is over the time since the previous sample. */
export class HwSampler {
  /** The first sample's CPU usage is measured from the sampler's creation. */
  #previousCpu: CpuTimes[] = readCpuTimes();

  constructor(private readonly options: HwSamplerOptions = {}) {}

  async sample(): Promise<HwState> {
    const cpu = readCpuTimes();
    const previous = this.#previousCpu;
    this.#previousCpu = cpu;
    const [nvidia, amd] = await Promise.all([
      this.options.nvidia ? nvidiaGpus() : null,
      this.options.amd ? amdGpus() : null,
    ]);
    return {
      cpu_usage: {
        cpu_per_core_percent_usage: cpu.map((times, core) => usagePercent(previous[core], times)),
      },
      memory_usage: readMemory(),
      network_usage: readNetwork(),
      nvidia_gpus: nvidia,
      amd_gpus: amd,
      timestamp: Math.floor(Date.now() / 1000),
    };
  }
}

interface CpuTimes {
  busy: number;
  total: number;
}

/** Per-core jiffies from `/proc/stat` (`cpuN` lines; idle and iowait count as not busy). */
function readCpuTimes(): CpuTimes[] {
  const cores: CpuTimes[] = [];
  for (const line of readProc("/proc/stat").split("\n")) {
    if (!/^cpu\d/.test(line)) continue;
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest is already in user).
    const total = fields.slice(0, 8).reduce((sum, value) => sum + (value || 0), 0);
    const idle = (fields[3] || 0) + (fields[4] || 0);
    cores.push({ busy: total - idle, total });
  }
  return cores;
}

function usagePercent(before: CpuTimes | undefined, after: CpuTimes): number {
  if (before === undefined) return 0;
  const total = after.total - before.total;
  if (total <= 0) return 0;
  return Math.round(((after.busy - before.busy) / total) * 10_000) / 100;
}

/** Bytes, from `/proc/meminfo`; `free` is what is available to new processes. */
function readMemory(): { total: number; free: number } {
  const kib = (name: string, text: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text);
    return match ? Number(match[1]) * 1024 : 0;
  };
  const text = readProc("/proc/meminfo");
  return { total: kib("MemTotal", text), free: kib("MemAvailable", text) };
}

/** Totals over every interface, from `/proc/net/dev`. */
function readNetwork(): HwState["network_usage"] {
  const usage = {
    rx_bytes: 0,
    tx_bytes: 0,
    rx_packets: 0,
    tx_packets: 0,
    rx_errors: 0,
    tx_errors: 0,
  };
  for (const line of readProc("/proc/net/dev").split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    usage.rx_bytes += f[0] || 0;
    usage.rx_packets += f[1] || 0;
    usage.rx_errors += f[2] || 0;
    usage.tx_bytes += f[8] || 0;
    usage.tx_packets += f[9] || 0;
    usage.tx_errors += f[10] || 0;
  }
  return usage;
}

function readProc(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** stdout of a command, or null when it cannot run or fails. */
async function run(program: string, args: string[]): Promise<string | null> {
  try {
    const output = await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success ? decoder.decode(output.stdout) : null;
  } catch {
    return null;
  }
}

/** `pci.bus_id, utilization.gpu, memory.used, memory.total` per line (`12 %`, `1024 MiB`). */
async function nvidiaGpus(): Promise<{ gpus: GpuUsage[] } | null> {
  const text = await run("nvidia-smi", [
    "--format=csv,noheader",
    "--query-gpu=pci.bus_id,utilization.gpu,memory.used,memory.total",
  ]);
  if (text === null) return null;
  const gpus: GpuUsage[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(",").map((field) => field.trim());
    if (fields.length < 4) continue;
    const [id, utilization, used, total] = fields;
    const totalMib = parseFloat(total);
    gpus.push({
      id,
      processor_usage: parseFloat(utilization) || 0,
      mem_usage: totalMib > 0 ? ((parseFloat(used) || 0) / totalMib) * 100 : 0,
    });
  }
  return { gpus };
}

/** `rocm-smi --json`: `{"card0": {"PCI Bus": …, "GPU use (%)": …, "GPU memory use (%)": …}}`. */
async function amdGpus(): Promise<{ gpus: GpuUsage[] } | null> {
  const text = await run("rocm-smi", ["--json", "--showuse", "--showbus", "--showmemuse"]);
  if (text === null) return null;
  let cards: Record<string, Record<string, string>>;
  try {
    cards = JSON.parse(text);
  } catch {
    return null;
  }
  const gpus: GpuUsage[] = [];
  for (const [name, card] of Object.entries(cards)) {
    if (!name.startsWith("card") || typeof card !== "object" || card === null) continue;
    gpus.push({
      id: String(card["PCI Bus"] ?? name),
      processor_usage: parseFloat(card["GPU use (%)"]) || 0,
      mem_usage: parseFloat(card["GPU memory use (%)"] ?? card["GPU Memory Allocated (VRAM%)"]) ||
        0,
    });
  }
  return { gpus };
}
