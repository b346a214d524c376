/**
 * The entry of the bundled `hq` (`deno task bundle` writes `dist/hq.js` and its chunks; run it as
 * `deno run -A dist/hq.js`): the same program as `main.ts`, but a client command loads a few
 * JavaScript chunks instead of 60–80 TypeScript modules. In `bench/cold_start.ts`, `server info`
 * went from 2.6x to 2.0x of an empty `deno run`. Every module passed to `lazyImport` must be
 * listed here (cli/lazy_import_test.ts checks).
 */
import { registerBundledModules } from "./lazy_import.ts";
import { runCli } from "./run_cli.ts";

registerBundledModules({
  "../server/mod.ts": () => import("../server/mod.ts"),
  "./run_alloc.ts": () => import("./run_alloc.ts"),
  "./run_dashboard.ts": () => import("./run_dashboard.ts"),
  "./run_deploy_ssh.ts": () => import("./run_deploy_ssh.ts"),
  "./run_doc.ts": () => import("./run_doc.ts"),
  "./run_generate_access.ts": () => import("./run_generate_access.ts"),
  "./run_job_client.ts": () => import("./run_job_client.ts"),
  "./run_job_progress.ts": () => import("./run_job_progress.ts"),
  "./run_journal.ts": () => import("./run_journal.ts"),
  "./run_output_log.ts": () => import("./run_output_log.ts"),
  "./run_server_client.ts": () => import("./run_server_client.ts"),
  "./run_server_start.ts": () => import("./run_server_start.ts"),
  "./run_submit.ts": () => import("./run_submit.ts"),
  "./run_submit_file.ts": () => import("./run_submit_file.ts"),
  "./run_task_notify.ts": () => import("./run_task_notify.ts"),
  "./run_worker_client.ts": () => import("./run_worker_client.ts"),
  "./run_worker_hwdetect.ts": () => import("./run_worker_hwdetect.ts"),
  "./run_worker_start.ts": () => import("./run_worker_start.ts"),
});

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
