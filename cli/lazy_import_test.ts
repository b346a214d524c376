import assert from "node:assert/strict";

Deno.test("the bundled entry cli/hq.ts lists every module loaded with lazyImport", async () => {
  const root = new URL("../", import.meta.url);
  const used = new Set<string>();
  for (const dir of ["cli", "common", "client", "server", "worker"]) {
    for await (const entry of Deno.readDir(new URL(`${dir}/`, root))) {
      if (!entry.isFile || !entry.name.endsWith(".ts") || entry.name.endsWith("_test.ts")) continue;
      const source = await Deno.readTextFile(new URL(`${dir}/${entry.name}`, root));
      for (const match of source.matchAll(/lazyImport<.*?>\("([^"]+)"\)/g)) used.add(match[1]);
    }
  }
  const entry = await Deno.readTextFile(new URL("cli/hq.ts", root));
  const listed = new Set(
    [...entry.matchAll(/"([^"]+)": \(\) => import\("([^"]+)"\)/g)].map((match) => {
      assert.equal(match[1], match[2], "the key is the path it imports");
      return match[1];
    }),
  );
  assert.ok(used.size > 10);
  assert.deepEqual([...used].filter((path) => !listed.has(path)), []);
});
