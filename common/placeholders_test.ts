import assert from "node:assert/strict";
import { fillPlaceholders, resolveAtSubmit, resolveForTask } from "./placeholders.ts";

// Issue 15, item 9: `values[name]` found Object.prototype's members, so `%{constructor}` in a
// path became the text "function Object() { [native code] }".
Deno.test("only the six placeholders expand; Object.prototype's names stay verbatim", () => {
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
    assert.equal(fillPlaceholders(`out-%{${name}}`, { JOB_ID: "1" }), `out-%{${name}}`);
  }
  const values = { jobId: 3, taskId: 4, instanceId: 0, submitDir: "/s", serverUid: "u" };
  const paths = { cwd: "/w", stdout: "%{constructor}-%{TASK_ID}.out", stderr: "%{toString}" };
  assert.deepEqual(resolveForTask(paths, values), {
    cwd: "/w",
    stdout: "/w/%{constructor}-4.out",
    stderr: "/w/%{toString}",
  });
  const submitted = resolveAtSubmit(paths, { jobId: 3, submitDir: "/s", serverUid: "u" });
  assert.equal(submitted.stderr, "%{toString}", "left for the worker, still verbatim");
  assert.equal(fillPlaceholders("%{JOB_ID}/%{SERVER_UID}", { JOB_ID: "7" }), "7/%{SERVER_UID}");
});
