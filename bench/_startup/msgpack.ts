// Start-up probe: import @msgpack/msgpack (ESM build) and round-trip {a: 1}.
import { Decoder, Encoder } from "@msgpack/msgpack";

const out = new Decoder().decode(new Encoder().encode({ a: 1 })) as { a: number };
if (out.a !== 1) throw new Error("round-trip failed");
