import assert from "node:assert/strict";
import type { WorkerConfiguration } from "../../common/protocol.ts";
import type { CoreCommand, CoreEvent } from "./core_events.ts";
import { checkIntervalMs, SchedulerCore, STOP_GRACE_MS } from "./scheduler_core.ts";
import { testWorkerConfiguration } from "./_test_fixtures.ts";

function configuration(overrides: Partial<WorkerConfiguration> = {}): WorkerConfiguration {
  return testWorkerConfiguration(4, overrides);
}

/** Drives a core with an explicit clock. */
class CoreTestEnv {
  readonly core = new SchedulerCore();
  nowMs = 1_000_000;

  handle(event: CoreEvent): CoreCommand[] {
    return this.core.handle(event, this.nowMs);
  }

  join(workerId: number, overrides: Partial<WorkerConfiguration> = {}): void {
    this.handle({ type: "worker-joined", workerId, configuration: configuration(overrides) });
  }

  /** Advances time in ticks of 100 ms (as the server does), collecting commands. */
  advance(ms: number, heartbeatsFrom: number[] = [], heartbeatEveryMs = 1_000): CoreCommand[] {
    const commands: CoreCommand[] = [];
    const end = this.nowMs + ms;
    let nextBeat = this.nowMs + heartbeatEveryMs;
    while (this.nowMs < end) {
      this.nowMs += 100;
      if (this.nowMs >= nextBeat) {
        for (const workerId of heartbeatsFrom) this.handle({ type: "worker-heartbeat", workerId });
        nextBeat += heartbeatEveryMs;
      }
      commands.push(...this.handle({ type: "tick" }));
    }
    return commands;
  }

  reasonOf(workerId: number): string | null {
    return this.core.workers.get(workerId)?.ended?.reason ?? null;
  }
}

Deno.test("SchedulerCore keeps a worker running while it sends heartbeats", () => {
  const env = new CoreTestEnv();
  env.join(1, { heartbeatIntervalMs: 1_000 });
  assert.deepEqual(env.advance(30_000, [1]), []);
  assert.ok(env.core.isRunning(1));
});

Deno.test("SchedulerCore marks a silent worker heartbeat-lost after two periods and drops it", () => {
  const env = new CoreTestEnv();
  env.join(1, { heartbeatIntervalMs: 500 });
  const commands = env.advance(2_000);
  assert.deepEqual(commands, [{ type: "disconnect-worker", workerId: 1 }]);
  assert.equal(env.reasonOf(1), "heartbeat-lost");
  const ended = env.core.workers.get(1)!.ended!.atMs - 1_000_000;
  assert.ok(ended > 1_000 && ended <= 1_600, `lost after ${ended} ms`);
});

Deno.test("SchedulerCore stops an idle worker once its idle timeout passes", () => {
  const env = new CoreTestEnv();
  env.join(1, { heartbeatIntervalMs: 1_000, idleTimeoutMs: 2_000 });
  const commands = env.advance(3_000, [1]);
  assert.deepEqual(commands, [{ type: "stop-worker", workerId: 1 }]);
  assert.ok(env.core.isRunning(1), "still running until the connection closes");
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  assert.equal(env.reasonOf(1), "idle-timeout");
});

Deno.test("SchedulerCore keeps the stop reason when the connection breaks later", () => {
  const env = new CoreTestEnv();
  env.join(1);
  assert.deepEqual(env.handle({ type: "worker-stop-requested", workerId: 1 }), [
    { type: "stop-worker", workerId: 1 },
  ]);
  assert.deepEqual(env.handle({ type: "worker-stop-requested", workerId: 1 }), []);
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  assert.equal(env.reasonOf(1), "stopped");
});

Deno.test("SchedulerCore records connection-lost for a connection closed without a reason", () => {
  const env = new CoreTestEnv();
  env.join(1);
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  assert.equal(env.reasonOf(1), "connection-lost");
  assert.equal(env.core.isRunning(1), false);
});

Deno.test("SchedulerCore records the time limit the worker reported", () => {
  const env = new CoreTestEnv();
  env.join(1);
  env.handle({ type: "worker-time-limit-reached", workerId: 1 });
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  assert.equal(env.reasonOf(1), "time-limit-reached");
});

Deno.test("SchedulerCore drops a worker that ignores a stop for 60 s, keeping the stop reason", () => {
  const env = new CoreTestEnv();
  env.join(1, { heartbeatIntervalMs: 1_000 });
  env.handle({ type: "worker-stop-requested", workerId: 1 });
  const commands = env.advance(STOP_GRACE_MS + 1_000, [1]);
  assert.deepEqual(commands, [{ type: "disconnect-worker", workerId: 1 }]);
  assert.equal(env.reasonOf(1), "stopped");
});

Deno.test("SchedulerCore never changes the reason of an offline worker", () => {
  const env = new CoreTestEnv();
  env.join(1, { heartbeatIntervalMs: 500 });
  env.advance(2_000);
  env.handle({ type: "worker-connection-closed", workerId: 1 });
  env.handle({ type: "worker-stop-requested", workerId: 1 });
  env.handle({ type: "worker-heartbeat", workerId: 1 });
  assert.equal(env.reasonOf(1), "heartbeat-lost");
});

Deno.test("checkIntervalMs follows clamp(min(heartbeat, idle/16), 0.5 s, 5 min)", () => {
  assert.equal(checkIntervalMs(configuration({ heartbeatIntervalMs: 8_000 })), 8_000);
  assert.equal(checkIntervalMs(configuration({ heartbeatIntervalMs: 200 })), 500);
  assert.equal(
    checkIntervalMs(configuration({ heartbeatIntervalMs: 8_000, idleTimeoutMs: 16_000 })),
    1_000,
  );
  assert.equal(checkIntervalMs(configuration({ heartbeatIntervalMs: 3_600_000 })), 300_000);
});
