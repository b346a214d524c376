/**
 * A flood of connections that never authenticate (issue 15, fault 5): the server holds only a
 * bounded number of them, drops them sooner, logs a bounded number of lines, and a real client
 * still gets in.
 */
import assert from "node:assert/strict";
import { TestServer, waitUntil } from "./harness.ts";

function openDescriptors(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

Deno.test("600 idle unauthenticated connections hold at most a bounded number of server sockets", async () => {
  await using server = await TestServer.start();
  const info = JSON.parse(await server.hqOk(["--output-mode", "json", "server", "info"]));
  const before = openDescriptors(server.process.pid);
  const idle: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 600; i++) {
      idle.push(await Deno.connect({ hostname: "127.0.0.1", port: info.client_port }));
    }
    // Let the server accept them all.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const during = openDescriptors(server.process.pid);
    assert.ok(during - before <= 100, `the server holds ${during - before} more descriptors`);
    // A real client gets in meanwhile.
    await server.hqOk(["server", "info"]);
    // The rest are dropped within the shorter deadline, logged in a few lines.
    await waitUntil(() => openDescriptors(server.process.pid) <= before + 5, {
      timeoutMs: 8_000,
      what: "the pending handshakes to be dropped",
    });
    const rejected = server.process.stderr().split("\n").filter((line) =>
      line.includes("Rejected client connection")
    );
    assert.ok(rejected.length <= 10, `${rejected.length} lines logged`);
  } finally {
    for (const conn of idle) {
      try {
        conn.close();
      } catch {
        // Closed by the server.
      }
    }
  }
});
