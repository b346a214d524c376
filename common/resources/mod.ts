/**
 * Worker resources: fixed-point amounts, the resource descriptor a worker offers (plain data for
 * msgpack and JSON), parsers for `--resource`, `--cpus` and `--coupling`, assembly and validation
 * of the worker's set, and its text renderings for `worker list`, `worker info` and `hwdetect`.
 * Task side: the request type, the `<RQ>` / `--resource NAME=RQ` parsers, submit-side assembly
 * and the request's text, JSON and env-name forms.
 */
export {
  AMOUNT_FRACTIONS,
  AmountParseError,
  formatAmount,
  parseAmount,
  parseU32,
} from "./amount.ts";
export {
  compareLabels,
  CPU_RESOURCE_NAME,
  cpuLabels,
  InvalidResourceDescriptorError,
  itemFromGrid,
  itemFromGroups,
  MEM_RESOURCE_NAME,
  resourceItemGroupCount,
  resourceItemSize,
  resourceLabels,
  sortResourceItems,
  validateResourceDescriptor,
} from "./resource_descriptor.ts";
export type {
  CouplingWeight,
  GridShape,
  ResourceDescriptor,
  ResourceDescriptorItem,
} from "./resource_descriptor.ts";
export { isResourceName } from "./resource_name.ts";
export {
  parseCpuDefinition,
  parseResourceDefinition,
  ResourceDefinitionError,
} from "./parse_resource_definition.ts";
export { CouplingError, DEFAULT_COUPLING_WEIGHT, parseCoupling } from "./parse_coupling.ts";
export {
  assembleResourceDescriptor,
  chooseCpuSource,
  ResourceOptionsError,
} from "./assemble_resource_descriptor.ts";
export type { CpuSourceOptions, ResourceAssembly } from "./assemble_resource_descriptor.ts";
export {
  describeResource,
  describeResources,
  formatResourcesLine,
  formatResourcesLines,
  summarizeResource,
  summarizeResources,
} from "./describe_resources.ts";
export {
  assembleTaskRequest,
  DEFAULT_CPU_REQUEST,
  envNameOf,
  formatRequest,
  parseRequestText,
  parseResourceRequestArg,
  requestJson,
  ResourceRequestError,
} from "./resource_request.ts";
export type {
  ParsedRequest,
  RequestJson,
  RequestPolicy,
  ResourceRequestEntry,
} from "./resource_request.ts";
