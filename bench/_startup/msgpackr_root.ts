// Start-up probe: import msgpackr from the package root and round-trip {a: 1}.
// Under Deno the root resolves to node-index.js (struct + stream + native msgpackr-extract).
import { Packr, Unpackr } from "msgpackr";

const bytes = new Packr({ useRecords: false }).pack({ a: 1 });
const out = new Unpackr({ useRecords: false }).unpack(bytes) as { a: number };
if (out.a !== 1) throw new Error("round-trip failed");
