import assert from "node:assert/strict";
import { splitShellWords } from "./shell_words.ts";

Deno.test("words split like a shell's", () => {
  assert.deepEqual(splitShellWords(`cmd 'a b' "c\\"d" e\\ f`), ["cmd", "a b", 'c"d', "e f"]);
  assert.deepEqual(splitShellWords("  ./notify.sh   --x=1 "), ["./notify.sh", "--x=1"]);
  assert.deepEqual(splitShellWords(`a''b "" x`), ["ab", "", "x"]);
  assert.deepEqual(splitShellWords(`"a\\nb" 'c\\d'`), ["a\\nb", "c\\d"]);
  assert.deepEqual(splitShellWords(""), []);
});

Deno.test("text that cannot be split is reported as such", () => {
  assert.equal(splitShellWords(`echo 'open`), null);
  assert.equal(splitShellWords(`echo "open`), null);
  assert.equal(splitShellWords(`echo \\`), null);
});
