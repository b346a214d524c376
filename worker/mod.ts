/**
 * The worker: runs on compute nodes (by hand or inside PBS/Slurm allocations), detects its
 * hardware, registers with the server's worker endpoint and lives until stopped (spec §4–§6).
 */
export { startWorker } from "./start_worker.ts";
export type { StartWorkerOptions } from "./start_worker.ts";
export type { WorkerOptions } from "./worker_configuration.ts";
export { DETECTABLE_RESOURCES, detectResources } from "./hw_detect.ts";
export type { DetectableResource } from "./hw_detect.ts";
export { deploySsh, findSsh } from "./deploy_ssh.ts";
export { loadHostfile } from "./hostfile.ts";
export type { SshHost } from "./hostfile.ts";
