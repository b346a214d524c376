// Start-up probe: a dynamic import of server/mod.ts with a literal specifier that never runs. Deno
// builds the module graph of literal dynamic imports before running, as cli/server_commands.ts's
// lazily loaded commands are, so this costs start-up time although nothing is imported.
if (Deno.args.includes("--never-true")) await import("../../server/mod.ts");
