// Start-up probe: import msgpackr through the /pack and /unpack subpaths and round-trip {a: 1}.
// Under Deno (node condition) both subpaths resolve to index.js: pure JS pack + unpack.
import { Packr } from "msgpackr/pack";
import { Unpackr } from "msgpackr/unpack";

const bytes = new Packr({ useRecords: false }).pack({ a: 1 });
const out = new Unpackr({ useRecords: false }).unpack(bytes) as { a: number };
if (out.a !== 1) throw new Error("round-trip failed");
