import assert from "node:assert/strict";
import { emptyCounts, type SubmitDescription, type TaskState } from "../job_types.ts";
import {
  expandJobDetail,
  type JobDetailWire,
  TaskColumnsBuilder,
  taskColumnsOf,
} from "../task_columns.ts";
import { testTaskTemplate } from "../../server/scheduler/_test_fixtures.ts";
import { JsonFormatter } from "./json_formatter.ts";
import { taskJson } from "./job_words.ts";
import { JsonLazyArray, toSortedJson } from "./json.ts";
import { taskColumnsJson } from "./task_json_text.ts";

function submit(ids: Array<[number, number, number]>, overrides = {}): SubmitDescription {
  return { template: testTaskTemplate("/work/sub", overrides), ids, entries: null };
}

/** A job of every kind of task: states, errors, nodes, instances, streamed and odd paths. */
function wire(): JobDetailWire {
  const submits = [
    submit([[0, 9, 1]], {
      stdout: "%{CWD}/job-%{JOB_ID}/%{TASK_ID}.stdout",
      stderr: "out/%{TASK_ID}-%{INSTANCE_ID}.err",
    }),
    submit([[10, 14, 1]], {
      cwd: "../w-%{TASK_ID}/./x",
      stdout: null,
      stderr: '/abs//%{INSTANCE_ID}/"q"\\%{TASK_ID}%{TASK_ID}',
      stream: { dir: "/s", stdout: true, stderr: false },
    }),
    submit([[15, 17, 1]], { stdout: "nul\0%{TASK_ID}", stderr: "%{UNKNOWN}/%{TASK_ID" }),
  ] as SubmitDescription[];
  const tasks = new TaskColumnsBuilder(20);
  const states: TaskState[] = ["waiting", "running", "finished", "failed", "canceled", "aborted"];
  const base = Date.UTC(2026, 11, 8, 1, 59, 58);
  for (let id = 0; id < 19; id++) {
    const state = states[id % states.length];
    const started = id % 7 === 0 ? null : id === 3 ? base : base + id * 333;
    tasks.add(
      id === 18 ? 99 : id, // 99: in no submit
      state,
      id % 4,
      id % 5 === 0 ? null : id % 3,
      id === 2 ? [4, 5, 6] : id === 8 ? [] : null,
      started,
      started === null || id % 2 === 0 ? null : started + 1000 - (id % 3) * 500,
      state === "failed" ? `exit ${id}\n"quoted" ✓` : null,
    );
  }
  return {
    id: 3,
    name: "j",
    isOpen: false,
    cancelReason: null,
    taskCount: 19,
    counts: emptyCounts(),
    state: "finished",
    maxFails: null,
    submittedMs: base,
    completedMs: null,
    submits,
    taskColumns: tasks.finish(),
    workerHostnames: {},
  };
}

Deno.test("job info's tasks written from columns read exactly as through task objects", () => {
  const job = expandJobDetail(wire(), true);
  const columns = wire().taskColumns;
  for (const indent of ["", "    "]) {
    const general = toSortedJson(
      new JsonLazyArray(job.tasks.length, (i) => taskJson(job, job.tasks[i])),
      indent,
    );
    assert.equal(toSortedJson(taskColumnsJson(job, columns), indent), general);
  }
});

Deno.test("JsonFormatter.jobInfo prints the same from columns as from a plain job view", () => {
  const capture = (view: Parameters<JsonFormatter["jobInfo"]>[0][0]) => {
    const chunks: string[] = [];
    const write = Deno.stdout.writeSync;
    Deno.stdout.writeSync = (bytes: Uint8Array) => {
      chunks.push(new TextDecoder().decode(bytes));
      return bytes.length;
    };
    try {
      new JsonFormatter().jobInfo([view]);
    } finally {
      Deno.stdout.writeSync = write;
    }
    return chunks.join("");
  };
  const fromColumns = capture(expandJobDetail(wire(), true));
  const plain = expandJobDetail(wire(), true);
  const viaObjects = capture({ ...plain, tasks: plain.tasks });
  assert.equal(fromColumns, viaObjects);
  for (
    const part of [
      '"cwd": "/work/w-10/x"',
      "<pipe>",
      "\\u0000",
      '"workers": [\n',
      '"workers": []',
      "%{UNKNOWN}",
      '\\"q\\"',
      "01:59:58Z",
      '"id": 99',
      "exit 3",
    ]
  ) {
    assert.ok(fromColumns.includes(part), part);
  }
});

Deno.test("expandJobDetail is plain by default; lazy views keep their columns until tasks are replaced", () => {
  const plain = expandJobDetail(wire());
  assert.equal(taskColumnsOf(plain), null);
  assert.ok(Array.isArray(Object.getOwnPropertyDescriptor(plain, "tasks")!.value));
  const lazy = expandJobDetail(wire(), true);
  assert.notEqual(taskColumnsOf(lazy), null);
  assert.deepEqual(lazy.tasks, plain.tasks);
  lazy.tasks = lazy.tasks.slice(0, 2);
  assert.equal(taskColumnsOf(lazy), null);
  assert.equal(lazy.tasks.length, 2);
});
