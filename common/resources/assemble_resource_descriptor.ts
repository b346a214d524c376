// The worker's resource set from its command line and detection, in the order of resources spec
// §2.3 / server-worker spec §4.1. Detection and hyper-threading pruning read the machine, so the
// caller runs them between `chooseCpuSource` and `assembleResourceDescriptor`.

import { HqError } from "../errors.ts";
import { parseCoupling } from "./parse_coupling.ts";
import {
  CPU_RESOURCE_NAME,
  type ResourceDescriptor,
  type ResourceDescriptorItem,
  sortResourceItems,
  validateResourceDescriptor,
} from "./resource_descriptor.ts";

/** The resource options of `hq worker start` contradict each other. */
export class ResourceOptionsError extends HqError {}

export interface CpuSourceOptions {
  /** `--cpus` was given. */
  cpusOption: boolean;
  /** Some `--resource` item is named `cpus`. */
  cpusResource: boolean;
  /** `cpus` is in `--detect-resources`. */
  detectCpus: boolean;
}

/**
 * Where the worker's `cpus` come from: `--cpus`, a `--resource cpus=…` item, or detection.
 * Throws {@link ResourceOptionsError} when `--cpus` and `--resource cpus=…` are combined, or when
 * neither is given and CPU detection is off.
 */
export function chooseCpuSource(options: CpuSourceOptions): "option" | "resource" | "detect" {
  if (options.cpusResource) {
    if (options.cpusOption) {
      throw new ResourceOptionsError(
        "Parameters --cpus and --resource cpus=... cannot be combined",
      );
    }
    return "resource";
  }
  if (options.cpusOption) return "option";
  if (options.detectCpus) return "detect";
  throw new ResourceOptionsError(
    "You have to specify --cpus explicitly when opting out of CPU automatic detection",
  );
}

export interface ResourceAssembly {
  /** `--resource` items in command-line order (may hold `cpus`). */
  resources: readonly ResourceDescriptorItem[];
  /** The `cpus` item from `--cpus` or detection, already pruned by `--no-hyper-threading`. */
  cpus?: ResourceDescriptorItem;
  /** Detected items; each is dropped when an item of its name was given. @default {[]} */
  detected?: readonly ResourceDescriptorItem[];
  /** The `--coupling` text. @default {no coupling} */
  coupling?: string;
}

/**
 * Joins the parts, sorts them by name, parses the coupling against the sorted list and validates
 * the result (`InvalidResourceDescriptorError`, `CouplingError`).
 */
export function assembleResourceDescriptor(assembly: ResourceAssembly): ResourceDescriptor {
  const items = [...assembly.resources];
  if (assembly.cpus !== undefined) items.push({ ...assembly.cpus, name: CPU_RESOURCE_NAME });
  const given = new Set(items.map((item) => item.name));
  for (const item of assembly.detected ?? []) {
    if (!given.has(item.name)) items.push(item);
  }
  const resources = sortResourceItems(items);
  const weights = assembly.coupling === undefined
    ? []
    : parseCoupling(assembly.coupling, resources);
  const descriptor = { resources, coupling: { weights } };
  validateResourceDescriptor(descriptor);
  return descriptor;
}
