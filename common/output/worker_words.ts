/** How worker states and managers read in tables and quiet output (spec §5.1, §6). */
import type { ManagerInfo, WorkerView } from "../protocol.ts";
import type { Color } from "./colors.ts";

const STATE_WORDS = {
  "stopped": ["STOPPED", "magenta"],
  "idle-timeout": ["IDLE TIMEOUT", "cyan"],
  "time-limit-reached": ["TIME LIMIT REACHED", "cyan"],
  "connection-lost": ["CONNECTION LOST", "red"],
  "heartbeat-lost": ["HEARTBEAT LOST", "red"],
} as const satisfies Record<string, readonly [string, Color]>;

/** `RUNNING`, `STOPPED`, `IDLE TIMEOUT`, … with the colour the cli formatter uses. */
export function workerState(view: WorkerView): { text: string; color: Color } {
  if (view.ended === null) return { text: "RUNNING", color: "green" };
  const [text, color] = STATE_WORDS[view.ended.reason];
  return { text, color };
}

/** `PBS`, `SLURM` or `None`. */
export function managerWord(manager: ManagerInfo | null): string {
  if (manager === null) return "None";
  return manager.manager === "PBS" ? "PBS" : "SLURM";
}
