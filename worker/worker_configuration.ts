/**
 * Turns `hq worker start` options into the configuration the worker registers with: manager
 * detection, resource detection and assembly (spec §4.1, resources spec §2.3), time limit, group,
 * hostname and work directory.
 */
import { HqError } from "../common/errors.ts";
import { joinPath } from "../common/paths.ts";
import type { ManagerInfo, OnServerLost, WorkerConfiguration } from "../common/protocol.ts";
import {
  assembleResourceDescriptor,
  chooseCpuSource,
  CPU_RESOURCE_NAME,
  type ResourceDescriptorItem,
} from "../common/resources/mod.ts";
import { logger } from "../common/log.ts";
import {
  type DetectableResource,
  detectResources,
  pruneHyperThreading,
  SYSFS_ROOT_VARIABLE,
} from "./hw_detect.ts";
import { detectManager, type ManagerOption } from "./manager_detection.ts";

const log = logger("worker::configuration");

export interface WorkerOptions {
  /** Parsed `--cpus`. */
  cpus?: ResourceDescriptorItem;
  /** Parsed `--resource` items, in command-line order. */
  resources: ResourceDescriptorItem[];
  coupling?: string;
  detect: ReadonlySet<DetectableResource>;
  noHyperThreading: boolean;
  group?: string;
  idleTimeoutMs?: number;
  timeLimitMs?: number;
  heartbeatMs: number;
  manager: ManagerOption;
  hostname?: string;
  onServerLost: OnServerLost;
  workDir?: string;
  /** `0` or absent: no overviews. */
  overviewIntervalMs?: number;
  minUtilization: number;
  retractCheckIntervalMs: number;
}

/** Everything but the listen address, which needs the worker's listener. */
export type PreparedConfiguration = Omit<WorkerConfiguration, "listenAddress"> & {
  /** The temporary directory holding the default work dir, removed when the worker ends. */
  temporaryDir: string | null;
};

export async function prepareConfiguration(
  options: WorkerOptions,
  env: Record<string, string | undefined>,
): Promise<PreparedConfiguration> {
  const detection = await detectManager(options.manager, { env });
  const manager: ManagerInfo | null = detection.manager;
  const cpusResource = options.resources.find((item) => item.name === CPU_RESOURCE_NAME);
  chooseCpuSource({
    cpusOption: options.cpus !== undefined,
    cpusResource: cpusResource !== undefined,
    detectCpus: options.detect.has("cpus"),
  });
  const given = new Set(options.resources.map((item) => item.name));
  if (options.cpus) given.add(CPU_RESOURCE_NAME);
  const root = env[SYSFS_ROOT_VARIABLE];
  const detected = detectResources({
    root,
    env,
    detect: options.detect,
    noHyperThreading: options.noHyperThreading,
    given,
  });
  for (const warning of detected.warnings) log.warn(warning);
  for (const note of detected.notes) log.debug(note);

  const prune = (item: ResourceDescriptorItem) => {
    if (!options.noHyperThreading) return item;
    const pruned = pruneHyperThreading(item, { root });
    for (const warning of pruned.warnings) log.warn(warning);
    return pruned.cpus;
  };
  const resources = options.resources.map((item) =>
    item.name === CPU_RESOURCE_NAME ? prune(item) : item
  );
  const descriptor = assembleResourceDescriptor({
    resources,
    cpus: options.cpus ? prune(options.cpus) : undefined,
    detected: detected.resources,
    coupling: options.coupling,
  });

  // A default work dir is ours to remove when the worker ends; a given one is the user's.
  const temporaryDir = options.workDir === undefined
    ? await Deno.makeTempDir({ prefix: "hq-worker" })
    : null;
  const workDir = options.workDir ?? joinPath(temporaryDir!, "work");
  try {
    await Deno.mkdir(workDir, { recursive: true });
  } catch (error) {
    throw new HqError(`Cannot create the worker's work directory "${workDir}"`, { cause: error });
  }
  return {
    hostname: options.hostname ?? Deno.hostname(),
    workDir,
    group: options.group ?? manager?.allocationId ?? "default",
    heartbeatIntervalMs: options.heartbeatMs,
    idleTimeoutMs: options.idleTimeoutMs ?? null,
    timeLimitMs: options.timeLimitMs ?? detection.remainingMs ?? null,
    overviewIntervalMs: options.overviewIntervalMs ? options.overviewIntervalMs : null,
    minUtilization: options.minUtilization,
    onServerLost: options.onServerLost,
    retractCheckIntervalMs: options.retractCheckIntervalMs,
    resources: descriptor,
    manager,
    pid: Deno.pid,
    temporaryDir,
  };
}
