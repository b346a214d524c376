import { logger } from "../common/log.ts";
import { DETECTABLE_RESOURCES, detectResources, SYSFS_ROOT_VARIABLE } from "../worker/hw_detect.ts";
import type { CliContext } from "./context.ts";

const log = logger("worker::hwdetect");

/** `hq worker hwdetect`: what `worker start` would detect here, in detection order (§4.2). */
export function runHwdetect(noHyperThreading: boolean, context: CliContext): Promise<void> {
  const env = Deno.env.toObject();
  const detected = detectResources({
    root: env[SYSFS_ROOT_VARIABLE],
    env,
    detect: new Set(DETECTABLE_RESOURCES),
    noHyperThreading,
  });
  for (const warning of detected.warnings) log.warn(warning);
  for (const note of detected.notes) log.debug(note);
  context.output.hwdetect({ resources: detected.resources, coupling: { weights: [] } });
  return Promise.resolve();
}
