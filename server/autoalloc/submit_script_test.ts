import { equal } from "node:assert/strict";
import { formatDuration } from "../../common/duration.ts";
import { queueParams } from "../../common/_test_queue_params.ts";
import {
  allocationName,
  formatManagerTime,
  pbsSubmitScript,
  type ScriptOptions,
  slurmSubmitScript,
} from "./submit_script.ts";

function scriptOptions(overrides: Partial<ScriptOptions> = {}): ScriptOptions {
  return {
    params: queueParams(),
    workerCount: 1,
    dir: "/home/u/.hq-server/001/autoalloc/1/001",
    allocationName: "hq-1-1",
    hqPath: "/opt/hq/hq",
    serverDir: "/home/u/.hq-server/001",
    dryRun: false,
    rustLog: null,
    ...overrides,
  };
}

Deno.test("slurmSubmitScript writes the spec's example byte for byte", () => {
  // hq alloc add slurm -t 1h --cpus 8 -- --partition=p1, first allocation.
  const params = queueParams({
    additionalArgs: ["--partition=p1"],
    workerArgs: [`--cpus "8"`, `--on-server-lost "finish-running"`, `--time-limit "1h"`],
  });
  equal(
    slurmSubmitScript(scriptOptions({ params })),
    `#!/bin/bash
#SBATCH --nodes=1
#SBATCH --job-name=hq-1-1
#SBATCH --output=/home/u/.hq-server/001/autoalloc/1/001/stdout
#SBATCH --error=/home/u/.hq-server/001/autoalloc/1/001/stderr
#SBATCH --time=01:00:00
#SBATCH --partition=p1

/opt/hq/hq worker start --idle-timeout "5m" --manager "slurm" --server-dir "/home/u/.hq-server/001" --cpus "8" --on-server-lost "finish-running" --time-limit "1h"`,
  );
});

Deno.test("slurmSubmitScript starts N workers with srun --overlap and adds no hold for a dry run", () => {
  const params = queueParams({
    name: "gpu",
    timeLimitMs: 2 * 86_400_000 + 1_000,
    additionalArgs: ["-A", "PROJ-1", "--qos=debug"],
    workerArgs: [],
  });
  equal(
    slurmSubmitScript(
      scriptOptions({
        params,
        workerCount: 3,
        dir: "/s/autoalloc/2-gpu/012",
        allocationName: "gpu-12",
        dryRun: true,
        serverDir: "/s",
      }),
    ),
    `#!/bin/bash
#SBATCH --nodes=3
#SBATCH --job-name=gpu-12
#SBATCH --output=/s/autoalloc/2-gpu/012/stdout
#SBATCH --error=/s/autoalloc/2-gpu/012/stderr
#SBATCH --time=48:00:01
#SBATCH -A PROJ-1 --qos=debug

srun --overlap --ntasks=3 --nodes=3 /opt/hq/hq worker start --idle-timeout "5m" --manager "slurm" --server-dir "/s"`,
  );
});

Deno.test("pbsSubmitScript writes one worker line for one node and no optional lines", () => {
  const params = queueParams({ manager: "pbs", timeLimitMs: 90_000, idleTimeoutMs: 3_598_000 });
  equal(
    pbsSubmitScript(scriptOptions({ params, allocationName: "hq-1-3" })),
    `#!/bin/bash
#PBS -l select=1
#PBS -N hq-1-3
#PBS -o /home/u/.hq-server/001/autoalloc/1/001/stdout
#PBS -e /home/u/.hq-server/001/autoalloc/1/001/stderr
#PBS -l walltime=00:01:30

/opt/hq/hq worker start --idle-timeout "59m 58s" --manager "pbs" --server-dir "/home/u/.hq-server/001" --on-server-lost "finish-running" --time-limit "1h"`,
  );
});

Deno.test("pbsSubmitScript holds a dry run and runs N workers through pbsdsh", () => {
  const params = queueParams({
    manager: "pbs",
    additionalArgs: ["-q", "qexp", "-A", "PROJ-1"],
    workerStartCmd: "module load x",
    workerStopCmd: "echo 'stopped'",
    workerWrapCmd: "  podman run img  ",
    idleTimeoutMs: 90_000_000,
  });
  equal(
    pbsSubmitScript(scriptOptions({ params, workerCount: 2, dryRun: true, rustLog: "hq=debug" })),
    `#!/bin/bash
#PBS -l select=2
#PBS -N hq-1-1
#PBS -o /home/u/.hq-server/001/autoalloc/1/001/stdout
#PBS -e /home/u/.hq-server/001/autoalloc/1/001/stderr
#PBS -l walltime=01:00:00
#PBS -q qexp -A PROJ-1
#PBS -h

pbsdsh -- bash -l -c 'module load x && RUST_LOG=hq=debug podman run img /opt/hq/hq worker start --idle-timeout "1day 1h" --manager "pbs" --server-dir "/home/u/.hq-server/001" --on-server-lost "finish-running" --time-limit "1h"; echo '\\''stopped'\\'''`,
  );
});

Deno.test("the worker line puts RUST_LOG first, then the wrap command, and start/stop around it", () => {
  const params = queueParams({
    workerStartCmd: "source env.sh",
    workerStopCmd: "rm -rf /tmp/x",
    workerWrapCmd: "srun-wrap",
    workerArgs: [`--cpus "4"`],
  });
  const script = slurmSubmitScript(scriptOptions({ params, rustLog: "" }));
  equal(
    script.slice(script.lastIndexOf("\n") + 1),
    `source env.sh && RUST_LOG= srun-wrap /opt/hq/hq worker start --idle-timeout "5m" --manager "slurm" --server-dir "/home/u/.hq-server/001" --cpus "4"; rm -rf /tmp/x`,
  );
});

Deno.test("allocationName uses the queue's name, else hq-<queue>", () => {
  equal(allocationName(1, null, 3), "hq-1-3");
  equal(allocationName(0, null, 1), "hq-0-1");
  equal(allocationName(4, "big", 12), "big-12");
});

Deno.test("formatManagerTime pads to HH:MM:SS with unbounded hours", () => {
  equal(formatManagerTime(1_000), "00:00:01");
  equal(formatManagerTime(3_661_000), "01:01:01");
  equal(formatManagerTime(172_800_000), "48:00:00");
  equal(formatManagerTime(1_999), "00:00:01");
});

Deno.test("human durations in the script are the spec's", () => {
  equal(formatDuration(300_000), "5m");
  equal(formatDuration(3_600_000), "1h");
  equal(formatDuration(3_598_000), "59m 58s");
  equal(formatDuration(90_000_000), "1day 1h");
  equal(formatDuration(172_800_000), "2days");
});
