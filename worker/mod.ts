/**
 * The worker: runs on compute nodes, registers with the server's worker endpoint and executes
 * tasks. Built by the worker issue; the worker endpoint's transport already exists in common/.
 */
export {};
