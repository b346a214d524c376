import { equal, ok, rejects } from "node:assert/strict";
import { tempDir } from "../tests/harness.ts";
import { hqLauncherPath } from "./hq_launcher.ts";

Deno.test("hqLauncherPath is the executable itself when hq is compiled", async () => {
  await using dir = await tempDir("hq-launcher-");
  equal(await hqLauncherPath(dir.path, { execPath: "/opt/hq/bin/hq" }), "/opt/hq/bin/hq");
  equal([...Deno.readDirSync(dir.path)].length, 0);
});

Deno.test("hqLauncherPath writes a script that runs main.ts with the same deno", async () => {
  await using dir = await tempDir("hq-launcher-");
  const main = new URL("../main.ts", import.meta.url);
  const path = await hqLauncherPath(dir.path, { mainModule: main.href });
  equal(path, `${dir.path}/hq`);
  equal(
    await Deno.readTextFile(path),
    `#!/bin/sh\nexec '${Deno.execPath()}' run -A --quiet '${main.pathname}' "$@"\n`,
  );
  ok(((await Deno.stat(path)).mode ?? 0) & 0o100);
  // It runs from anywhere, as a compute node would run it.
  const output = await new Deno.Command(path, { args: ["--version"], cwd: "/" }).output();
  ok(output.success);
  ok(new TextDecoder().decode(output.stdout).startsWith("hyperqueue "));
  // Written again (a second server start): replaced, no temporary file left behind.
  await hqLauncherPath(dir.path, { mainModule: main.href, execPath: "/usr/bin/deno" });
  equal([...Deno.readDirSync(dir.path)].map((entry) => entry.name).join(), "hq");
});

Deno.test("hqLauncherPath refuses a main module that is not a local file", async () => {
  await using dir = await tempDir("hq-launcher-");
  await rejects(hqLauncherPath(dir.path, { mainModule: "https://example.com/main.ts" }), {
    name: "HqLauncherError",
    message: `Cannot start hq from "https://example.com/main.ts": it is not a local file`,
  });
  await rejects(
    hqLauncherPath(`${dir.path}/missing`, { mainModule: "file:///x/main.ts" }),
    {
      name: "HqLauncherError",
      message: `Cannot write the hq launcher script "${dir.path}/missing/hq"`,
    },
  );
});
