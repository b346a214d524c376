/** Made-up machines (sysfs and procfs files under a directory) for hardware detection tests. */

export interface MachineShape {
  sockets: number;
  coresPerSocket: number;
  /** 2 = hyper-threading. @default {1} */
  threadsPerCore?: number;
  /** NUMA nodes per socket, splitting its cores evenly. @default {1} */
  nodesPerSocket?: number;
  /** Put every CPU into one NUMA node regardless of sockets. */
  singleNode?: boolean;
  /** `Cpus_allowed_list` of proc/self/status; omitted = every CPU. */
  allowed?: string;
  memTotalKb?: number;
  nvidiaGpus?: number;
}

/**
 * Writes the sysfs/procfs files of a made-up machine into `root`. CPU ids follow Linux: first
 * thread of every core of every socket, then the second threads in the same order.
 */
export function writeMadeUpMachine(root: string, shape: MachineShape): void {
  const write = (path: string, text: string) => {
    const full = `${root}/${path}`;
    Deno.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(full, text);
  };
  const threads = shape.threadsPerCore ?? 1;
  const nodesPerSocket = shape.nodesPerSocket ?? 1;
  const coresTotal = shape.sockets * shape.coresPerSocket;
  const cpuCount = coresTotal * threads;
  write("sys/devices/system/cpu/online", `0-${cpuCount - 1}\n`);
  const nodeCount = shape.singleNode ? 1 : shape.sockets * nodesPerSocket;
  write("sys/devices/system/node/possible", `0-${nodeCount - 1}\n`);
  const cpusByNode = new Map<number, number[]>();
  for (let id = 0; id < cpuCount; id++) {
    const core = id % coresTotal;
    const socket = Math.floor(core / shape.coresPerSocket);
    const siblings = Array.from({ length: threads }, (_, t) => core + t * coresTotal);
    write(`sys/devices/system/cpu/cpu${id}/topology/physical_package_id`, `${socket}\n`);
    write(
      `sys/devices/system/cpu/cpu${id}/topology/thread_siblings_list`,
      `${siblings.join(",")}\n`,
    );
    const coresPerNode = shape.coresPerSocket / nodesPerSocket;
    const node = shape.singleNode
      ? 0
      : socket * nodesPerSocket + Math.floor((core % shape.coresPerSocket) / coresPerNode);
    cpusByNode.set(node, [...(cpusByNode.get(node) ?? []), id]);
  }
  for (const [node, ids] of cpusByNode) {
    write(`sys/devices/system/node/node${node}/cpulist`, `${ids.join(",")}\n`);
  }
  write(
    "proc/self/status",
    `Name:\thq\nCpus_allowed:\tff\nCpus_allowed_list:\t${shape.allowed ?? `0-${cpuCount - 1}`}\n`,
  );
  write("proc/meminfo", `MemTotal:       ${shape.memTotalKb ?? 32_768_000} kB\nMemFree: 1 kB\n`);
  for (let gpu = 0; gpu < (shape.nvidiaGpus ?? 0); gpu++) {
    write(`proc/driver/nvidia/gpus/0000:0${gpu}:00.0/information`, "Model: made up\n");
  }
}
