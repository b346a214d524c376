import assert from "node:assert/strict";
import { HostfileError, loadHostfile, parseHostfile } from "./hostfile.ts";

function assertHostfileError(text: string, message: string): void {
  assert.throws(() => parseHostfile(text), (error: unknown) => {
    assert.ok(error instanceof HostfileError, `expected HostfileError, got ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("parseHostfile reads one host per line, trimmed, with an optional port", () => {
  assert.deepEqual(parseHostfile("node1\n  node2:2222 \r\nroot@node3:22\n"), [
    { hostname: "node1", port: undefined, line: "node1" },
    { hostname: "node2", port: 2222, line: "node2:2222" },
    { hostname: "root@node3", port: 22, line: "root@node3:22" },
  ]);
});

Deno.test("parseHostfile skips blank lines and keeps repeated hosts", () => {
  assert.deepEqual(parseHostfile("\n\na\n   \n\ta\n\n").map((host) => host.hostname), ["a", "a"]);
});

Deno.test("parseHostfile takes an IPv6 address in brackets", () => {
  assert.deepEqual(parseHostfile("[::1]:2222\n[fe80::1]"), [
    { hostname: "::1", port: 2222, line: "[::1]:2222" },
    { hostname: "fe80::1", port: undefined, line: "[fe80::1]" },
  ]);
  assertHostfileError(
    "[::1]2222",
    'Cannot parse port from [::1]2222: expected ":<port>" after "]"',
  );
});

Deno.test("parseHostfile names the line whose port it cannot parse", () => {
  assertHostfileError("a\nb:ssh", 'Cannot parse port from b:ssh: "ssh" is not a number');
  assertHostfileError("b:", "Cannot parse port from b:: the port is empty");
  assertHostfileError("b:-1", 'Cannot parse port from b:-1: "-1" is not a number');
  assertHostfileError("b:1:2", 'Cannot parse port from b:1:2: "1:2" is not a number');
  assertHostfileError(
    "b:65536",
    "Cannot parse port from b:65536: the port must be between 1 and 65535",
  );
  assertHostfileError("b:0", "Cannot parse port from b:0: the port must be between 1 and 65535");
});

Deno.test("parseHostfile rejects an empty file, an empty hostname and an option-like hostname", () => {
  assertHostfileError("", "The provided hostname is empty");
  assertHostfileError("\n  \n", "The provided hostname is empty");
  assertHostfileError("a\n:22", "The provided hostname is empty");
  assertHostfileError(
    "-oProxyCommand=x",
    'Invalid hostname "-oProxyCommand=x": it must not start with "-"',
  );
});

Deno.test("loadHostfile names a file it cannot read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hq-hostfile-" });
  try {
    await assert.rejects(
      () => loadHostfile(`${dir}/missing`),
      (error: unknown) => {
        assert.ok(error instanceof HostfileError);
        assert.equal(error.message, `Cannot load hostfile from "${dir}/missing"`);
        assert.ok(error.cause instanceof Deno.errors.NotFound);
        return true;
      },
    );
    await Deno.writeTextFile(`${dir}/hosts`, "n1\nn2:7\n");
    assert.deepEqual((await loadHostfile(`${dir}/hosts`)).map((host) => host.port), [undefined, 7]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
