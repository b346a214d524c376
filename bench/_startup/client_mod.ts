// Start-up probe: import client/mod.ts (HqClient, transport, protocol, msgpack) and nothing else.
import "../../client/mod.ts";
