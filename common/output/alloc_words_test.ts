import assert from "node:assert/strict";
import type { AllocationView, QueueView } from "../autoalloc.ts";
import {
  allocInfoJson,
  allocInfoTable,
  allocListJson,
  allocListTable,
  selectAllocations,
  stallLines,
} from "./alloc_words.ts";
import { toSortedJson } from "./json.ts";
import { queueParams as params } from "../_test_queue_params.ts";
import { formatLocalDateTime } from "../timestamp.ts";

function queue(id: number, overrides: Partial<QueueView> = {}): QueueView {
  return { id, state: "active", params: params(), knownWorkerResources: null, ...overrides };
}

/** Local wall-clock time, so the expected table text does not depend on the time zone. */
const QUEUED = new Date(2025, 2, 1, 10, 11, 12).getTime();
const STARTED = new Date(2025, 2, 1, 10, 20, 0).getTime();
const ENDED = new Date(2025, 2, 1, 11, 20, 5).getTime();

function allocation(id: string, overrides: Partial<AllocationView> = {}): AllocationView {
  return {
    id,
    targetWorkerCount: 1,
    queuedMs: QUEUED,
    startedMs: null,
    endedMs: null,
    status: "queued",
    unexpected: false,
    workdir: `/srv/hq/001/autoalloc/1/${id}`,
    ...overrides,
  };
}

Deno.test("allocListTable shows queues sorted by id with the spec's columns", () => {
  const queues = [
    queue(2, {
      state: "paused",
      params: params({
        manager: "pbs",
        backlog: 4,
        maxWorkersPerAlloc: 2,
        maxWorkerCount: 10,
        timeLimitMs: 90_000_000,
        name: "gpu",
        additionalArgs: ["-q", "qexp"],
      }),
      knownWorkerResources: {
        resources: [
          { name: "cpus", kind: "range", start: 0, end: 7 },
          { name: "gpus", kind: "list", values: ["0", "1"] },
        ],
        coupling: { weights: [] },
      },
    }),
    queue(1, { params: params({ timeLimitMs: 3_598_000 }) }),
  ];
  assert.equal(
    allocListTable(queues, { colors: false }),
    [
      "+----+--------+--------------+-----------------------+------------------+-----------+---------+------------------+------+---------+",
      "| ID | State  | Backlog size | Max workers per alloc | Max worker count | Timelimit | Manager | Worker resources | Name | Args    |",
      "+----+--------+--------------+-----------------------+------------------+-----------+---------+------------------+------+---------+",
      "|  1 | ACTIVE | 1            | 1                     | 0                | 59m 58s   | SLURM   | <unknown>        |      |         |",
      "|  2 | PAUSED | 4            | 2                     | 10               | 1day 1h   | PBS     | cpus 8; gpus 2   | gpu  | -q,qexp |",
      "+----+--------+--------------+-----------------------+------------------+-----------+---------+------------------+------+---------+",
      "",
    ].join("\n"),
  );
});

Deno.test("allocListTable of no queues is the header without a bottom border", () => {
  const text = allocListTable([], { colors: false });
  assert.equal(text.split("\n").length, 4);
  assert.match(text, /^\+-+\+.*\n\| ID \| State \| Backlog size \|/);
});

Deno.test("allocListTable colours the state when colours are on", () => {
  const text = allocListTable([queue(1), queue(2, { state: "paused" })], { colors: true });
  assert.ok(text.includes("\x1b[32mACTIVE\x1b[39m"));
  assert.ok(text.includes("\x1b[33mPAUSED\x1b[39m"));
});

Deno.test("allocListJson has the spec's keys and values", () => {
  const queues = [
    queue(3, {
      state: "paused",
      params: params({
        manager: "pbs",
        maxWorkerCount: 5,
        name: "big",
        additionalArgs: ["-A", "proj"],
        timeLimitMs: 5_400_500,
      }),
      knownWorkerResources: {
        resources: [{ name: "cpus", kind: "list", values: ["0", "1"] }],
        coupling: { weights: [] },
      },
    }),
    queue(1),
  ];
  assert.equal(
    toSortedJson(allocListJson(queues)),
    `[
  {
    "additional_args": [],
    "backlog": 1,
    "id": 1,
    "known_worker_resources": null,
    "manager": "Slurm",
    "max_worker_count": null,
    "max_workers_per_alloc": 1,
    "name": null,
    "state": "Active",
    "timelimit": 3600.0,
    "worker_args": [
      "--on-server-lost",
      "\\"finish-running\\"",
      "--time-limit",
      "\\"1h\\""
    ]
  },
  {
    "additional_args": [
      "-A",
      "proj"
    ],
    "backlog": 1,
    "id": 3,
    "known_worker_resources": {
      "coupling": {
        "weights": []
      },
      "resources": [
        {
          "kind": "list",
          "name": "cpus",
          "values": [
            "0",
            "1"
          ]
        }
      ]
    },
    "manager": "PBS",
    "max_worker_count": 5,
    "max_workers_per_alloc": 1,
    "name": "big",
    "state": "Paused",
    "timelimit": 5400.5,
    "worker_args": [
      "--on-server-lost",
      "\\"finish-running\\"",
      "--time-limit",
      "\\"1h\\""
    ]
  }
]`,
  );
});

Deno.test("allocInfoTable shows local times and leaves unknown ones empty", () => {
  const rows = [
    allocation("12"),
    allocation("101", {
      status: "finished",
      startedMs: STARTED,
      endedMs: ENDED,
      targetWorkerCount: 2,
    }),
  ];
  assert.equal(
    allocInfoTable(rows, { colors: false }),
    [
      "+-----+----------+-----------------------------+--------------+---------------------+---------------------+---------------------+",
      "| ID  | State    | Working directory           | Worker count | Queue time          | Start time          | Finish time         |",
      "+-----+----------+-----------------------------+--------------+---------------------+---------------------+---------------------+",
      "| 12  | QUEUED   | /srv/hq/001/autoalloc/1/12  | 1            | 01.03.2025 10:11:12 |                     |                     |",
      "| 101 | FINISHED | /srv/hq/001/autoalloc/1/101 | 2            | 01.03.2025 10:11:12 | 01.03.2025 10:20:00 | 01.03.2025 11:20:05 |",
      "+-----+----------+-----------------------------+--------------+---------------------+---------------------+---------------------+",
      "",
    ].join("\n"),
  );
});

Deno.test("allocInfoTable colours the four states", () => {
  const text = allocInfoTable([
    allocation("1"),
    allocation("2", { status: "running" }),
    allocation("3", { status: "finished" }),
    allocation("4", { status: "failed" }),
  ], { colors: true });
  for (
    const painted of [
      "\x1b[33mQUEUED\x1b[39m",
      "\x1b[36mRUNNING\x1b[39m",
      "\x1b[32mFINISHED\x1b[39m",
      "\x1b[31mFAILED\x1b[39m",
    ]
  ) assert.ok(text.includes(painted), painted);
});

Deno.test("allocInfoJson has RFC 3339 times, and none for unexpectedly finished allocations", () => {
  const rows = [
    allocation("7", {
      status: "failed",
      startedMs: Date.UTC(2025, 2, 1, 10, 20, 0),
      endedMs: Date.UTC(2025, 2, 1, 10, 21, 0, 500),
      queuedMs: Date.UTC(2025, 2, 1, 10, 11, 12, 345),
      workdir: "/w/7",
    }),
    allocation("8", {
      status: "finished",
      unexpected: true,
      startedMs: Date.UTC(2025, 2, 1, 10, 20, 0),
      endedMs: Date.UTC(2025, 2, 1, 10, 30, 0),
      queuedMs: Date.UTC(2025, 2, 1, 10, 11, 12),
      workdir: "/w/8",
      targetWorkerCount: 3,
    }),
  ];
  assert.deepEqual(allocInfoJson(rows), [
    {
      id: "7",
      target_worker_count: 1,
      queued_at: "2025-03-01T10:11:12.345Z",
      started_at: "2025-03-01T10:20:00Z",
      ended_at: "2025-03-01T10:21:00.500Z",
      status: "failed",
      workdir: "/w/7",
    },
    {
      id: "8",
      target_worker_count: 3,
      queued_at: "2025-03-01T10:11:12Z",
      started_at: null,
      ended_at: null,
      status: "finished",
      workdir: "/w/8",
    },
  ]);
});

Deno.test("selectAllocations sorts ids as strings", () => {
  const ids = selectAllocations([allocation("9"), allocation("10"), allocation("1.pbs")], undefined)
    .map((a) => a.id);
  assert.deepEqual(ids, ["1.pbs", "10", "9"]);
});

Deno.test("selectAllocations filters with the spec's quirks for finished and failed", () => {
  const all = [
    allocation("1", { status: "queued" }),
    allocation("2", { status: "running" }),
    allocation("3", { status: "finished" }),
    allocation("4", { status: "failed" }),
    allocation("5", { status: "finished", unexpected: true }),
    allocation("6", { status: "failed", unexpected: true }),
  ];
  const ids = (filter?: "queued" | "running" | "finished" | "failed") =>
    selectAllocations(all, filter).map((a) => a.id);
  assert.deepEqual(ids(), ["1", "2", "3", "4", "5", "6"]);
  assert.deepEqual(ids("queued"), ["1"]);
  assert.deepEqual(ids("running"), ["2"]);
  assert.deepEqual(ids("finished"), ["3", "4"]);
  assert.deepEqual(ids("failed"), ["4"]);
});

Deno.test("stallLines says why, the last error and its script, and when the next try is", () => {
  assert.deepEqual(stallLines({ kind: "backlog-full", message: "the backlog (1) is full" }), [
    { level: "info", text: "Not submitting: the backlog (1) is full" },
  ]);
  const until = new Date(2025, 2, 1, 10, 26, 12).getTime();
  assert.deepEqual(
    stallLines({
      kind: "rate-limited",
      message: "waiting 15m after 2 failed submissions",
      lastError: {
        message: "Could not submit allocation: Exit code: 1\nStderr: bad partition",
        scriptPath: "/srv/hq/001/autoalloc/1/003/hq-submit.sh",
      },
      untilMs: until,
    }),
    [
      { level: "warn", text: "Not submitting: waiting 15m after 2 failed submissions" },
      {
        level: "warn",
        text: "Last submission error: Could not submit allocation: Exit code: 1\n" +
          "Stderr: bad partition",
      },
      { level: "warn", text: "Submitted script: /srv/hq/001/autoalloc/1/003/hq-submit.sh" },
      { level: "warn", text: "Next submission possible at 01.03.2025 10:26:12" },
    ],
  );
  assert.equal(
    stallLines({
      kind: "submission-failed",
      message: "the last submission failed",
      lastError: { message: "boom", scriptPath: null },
    }).length,
    2,
  );
});

Deno.test("formatLocalDateTime pads every field", () => {
  assert.equal(formatLocalDateTime(new Date(2025, 0, 2, 3, 4, 5).getTime()), "02.01.2025 03:04:05");
});
