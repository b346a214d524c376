// Start-up probe: import common/msgpack.ts (the codec wrapper) and nothing else.
import "../../common/msgpack.ts";
