/**
 * Fault injection: the server is SIGKILLed at random moments of a burst of concurrent submits
 * (journal spec §1.3, §1.4). A submit that was acknowledged was on disk, so after every restart
 * on the same journal each acknowledged job is listed, and job ids are never handed out twice.
 */
import assert from "node:assert/strict";
import type { HqClient } from "../../client/mod.ts";
import { readJournalFile } from "../../common/journal/journal_file.ts";
import { tempDir } from "../harness.ts";
import { FaultServer, type JobListJson, submitRequest } from "./_fault_harness.ts";
import { seededRandom } from "../../common/seeded_random.ts";

const ROUNDS = 20;
const CONNECTIONS = 4;
/** Submits each connection keeps in flight. */
const WINDOW = 8;

/**
 * Keeps `WINDOW` submits in flight on `client` until one fails (the server died), recording the
 * id of every acknowledged one in `acked`.
 */
async function submitUntilFailure(
  client: HqClient,
  submitDir: string,
  acked: number[],
): Promise<void> {
  const request = submitRequest(["true"], { submitDir, name: "burst" });
  let failed = false;
  const lane = async () => {
    while (!failed) {
      try {
        const response = await client.request(request);
        if (response.type !== "job-created") throw new Error(`Unexpected ${response.type}`);
        acked.push(response.jobId);
      } catch {
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}

/**
 * Ends the journal with the start of a record that never got written in full: a torn tail. A
 * tail the kill may have torn already is cut off first, so that the two do not make corruption.
 */
async function tearJournalTail(path: string): Promise<void> {
  const { validEnd } = await readJournalFile(path);
  await Deno.truncate(path, validEnd);
  // Length 100 and any checksum, then only 10 of the 100 payload bytes.
  const torn = new Uint8Array([100, 0, 0, 0, 1, 2, 3, 4, 0x92, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await Deno.writeFile(path, torn, { append: true });
}

/** Resolves with `promise`, or rejects after `timeoutMs`. */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("kill -9 during a burst of submits, 20 times: every restart succeeds and lists every acknowledged job", async () => {
  await using work = await tempDir("hq-fault-burst-");
  const serverDir = `${work.path}/server`;
  const logDir = `${work.path}/logs`;
  await Deno.mkdir(logDir);
  const journalPath = `${work.path}/journal.bin`;
  const seed = Number(Deno.env.get("HQ_FAULT_SEED") ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  const context = `(seed ${seed}; rerun with HQ_FAULT_SEED=${seed})`;

  const ackedEver = new Set<number>();
  let tornRounds = 0;
  let tornTailPending = false;
  for (let round = 1; round <= ROUNDS + 1; round++) {
    await using server = await FaultServer.start({ serverDir, logDir, journalPath });
    if (tornTailPending) {
      assert.match(
        server.process.stderr(),
        /not fully written; they will be removed/,
        `round ${round}: the torn tail is reported ${context}`,
      );
    }

    // Every job acknowledged in any earlier round is still there.
    const listed = new Set(
      (await server.hqJson<JobListJson[]>(["job", "list", "--all"])).map((job) => job.id),
    );
    const lost = [...ackedEver].filter((id) => !listed.has(id));
    assert.deepEqual(lost, [], `round ${round}: acknowledged jobs lost at restart ${context}`);
    if (round > ROUNDS) break;
    const maxListed = Math.max(0, ...listed);

    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => server.connect()));
    const acked: number[] = [];
    try {
      const burst = Promise.all(
        clients.map((client) => submitUntilFailure(client, work.path, acked)),
      );
      const delayMs = 3 + Math.floor(random() ** 2 * 300);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await server.kill();
      await within(burst, 10_000, `the submits of round ${round} to fail ${context}`);
    } finally {
      for (const client of clients) client.close();
    }

    const reused = acked.filter((id) => id <= maxListed || ackedEver.has(id));
    assert.deepEqual(reused, [], `round ${round}: job ids handed out again ${context}`);
    assert.equal(new Set(acked).size, acked.length, `round ${round}: duplicate ids ${context}`);
    for (const id of acked) ackedEver.add(id);

    tornTailPending = round % 4 === 2;
    if (tornTailPending) {
      await tearJournalTail(journalPath);
      tornRounds++;
    }
  }
  assert.ok(ackedEver.size > 0, `no submit was ever acknowledged ${context}`);
  assert.ok(tornRounds > 0);
});
