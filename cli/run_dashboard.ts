/**
 * `hq dashboard` (journal-alloc spec §4, issue 19): a web server in this client process (the hq
 * server gains no port) serving one page built from the server's events, past and live
 * (`journal-replay` with `live`, as `hq journal stream`), or from a journal file (`replay`).
 * Every request must carry the random token of the printed URL (401 otherwise). Ctrl-C ends it.
 */
import { HqClient } from "../client/mod.ts";
import { UPLOT_JS } from "../client/assets/uplot.ts";
import { DASHBOARD_CSS, DASHBOARD_JS, dashboardHtml } from "../client/dashboard/page.ts";
import { DashboardState } from "../client/dashboard/state.ts";
import { ConnectionError, formatErrorChain, HqError } from "../common/errors.ts";
import { decodeJournalRecord } from "../common/journal/journal_events.ts";
import { JournalReader, readJournalBytes } from "../common/journal/journal_file.ts";
import { logger } from "../common/log.ts";
import { writeStdout } from "../common/output/mod.ts";
import { enabledVariantCount } from "../common/task_explanation.ts";
import type { CliContext } from "./context.ts";
import type { DashboardArgs, DashboardReplayArgs } from "./misc_commands.ts";
import { openInBrowser } from "./run_doc.ts";

const log = logger("client");

/** How often live events are folded into the history the charts show. */
const SAMPLE_MS = 500;

export async function runDashboardStream(args: DashboardArgs, context: CliContext): Promise<void> {
  const state = new DashboardState();
  const client = await HqClient.connect({ serverDir: context.globals.serverDir });
  let loaded = false;
  client.onJournalRecords = (records) => {
    for (const [timeMs, event] of records) state.apply(timeMs, event);
  };
  log.info("Streaming events from the server");
  // With overviews: the workers send hardware overviews while the stream lasts (spec §4).
  const stream = client.request({ type: "journal-replay", live: true, overviews: true }).then(
    () => {},
    (error) => {
      if (!(error instanceof ConnectionError)) throw error;
    },
  );
  const info = await client.serverInfo();
  if (info.journalPath === null) {
    state.reconstructed = true;
    log.warn(
      "The server has no journal: the history shown was rebuilt from its current state " +
        "(start the server with --journal to keep it)",
    );
  }
  const sampler = setInterval(() => {
    if (!loaded) {
      loaded = true;
      log.info(`Loaded ${state.eventCount} events`);
    }
    state.sample(Date.now());
  }, SAMPLE_MS);
  const explain = async (jobId: number, taskId: number) => {
    const response = await client.request({
      type: "task-explain",
      job: { type: "ids", ranges: [[jobId, jobId, 1]] },
      taskId,
    });
    if (response.type !== "task-explain") return null;
    const workers = response.explanation.workers;
    const fit = workers.filter((worker) => enabledVariantCount(worker) > 0).length;
    return `${fit} of ${workers.length} connected workers could run it; ` +
      `${response.explanation.nWaitingDeps} of ${response.explanation.nTaskDeps} dependencies unfinished`;
  };
  try {
    await serve(args, context, state, "stream", context.globals.serverDir, explain, stream);
  } finally {
    clearInterval(sampler);
    client.close();
  }
}

export async function runDashboardReplay(
  args: DashboardReplayArgs,
  context: CliContext,
): Promise<void> {
  log.info(`Loading journal ${args.journal}`);
  const state = new DashboardState();
  const reader = new JournalReader(await readJournalBytes(args.journal), args.journal);
  let lastSampleMs = 0;
  for (;;) {
    const payload = reader.nextRecord();
    if (payload === undefined) break;
    const record = decodeJournalRecord(payload);
    if (record === null) throw new HqError(`Journal "${args.journal}" appears corrupted`);
    state.apply(record.timeMs, record.event);
    if (record.timeMs - lastSampleMs >= SAMPLE_MS) {
      state.sample(record.timeMs);
      lastSampleMs = record.timeMs;
    }
  }
  state.sample(state.lastEventMs);
  log.info(`Loaded ${state.eventCount} events`);
  await serve(args, context, state, "replay", args.journal, null, null);
}

async function serve(
  args: DashboardArgs,
  context: CliContext,
  state: DashboardState,
  mode: "stream" | "replay",
  source: string,
  explain: ((jobId: number, taskId: number) => Promise<string | null>) | null,
  stream: Promise<void> | null,
): Promise<void> {
  const token = randomToken();
  const html = dashboardHtml(mode, source);
  const stop = new AbortController();
  const server = Deno.serve({
    hostname: args.host,
    port: args.port ?? 0,
    signal: stop.signal,
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    if (url.searchParams.get("token") !== token && !hasTokenCookie(request, token)) {
      return new Response("Unauthorized: the dashboard URL carries a token\n", { status: 401 });
    }
    const headers = (type: string) => ({
      "content-type": type,
      "cache-control": "no-store",
      // Later requests of the page (scripts, styles) carry the token as a cookie.
      "set-cookie": `hq_dashboard=${token}; Path=/; HttpOnly; SameSite=Strict`,
      "x-content-type-options": "nosniff",
    });
    const json = (value: unknown) =>
      value === null
        ? new Response("Not found\n", { status: 404 })
        : new Response(JSON.stringify(value), { headers: headers("application/json") });
    const number = (name: string) => Number(url.searchParams.get(name) ?? "0");
    switch (url.pathname) {
      case "/favicon.ico":
        return new Response(null, { status: 204 });
      case "/":
      case "/index.html":
        return new Response(html, { headers: headers("text/html; charset=utf-8") });
      case "/dashboard.css":
        return new Response(DASHBOARD_CSS, { headers: headers("text/css") });
      case "/dashboard.js":
        return new Response(DASHBOARD_JS, { headers: headers("text/javascript") });
      case "/uplot.js":
        return new Response(UPLOT_JS, { headers: headers("text/javascript") });
      case "/api/state":
        return json(state.snapshot());
      case "/api/worker":
        return json(state.workerDetail(number("id")));
      case "/api/job-timeline":
        return json(state.jobTimeline(number("job"), Math.min(1000, number("bins") || 200)));
      case "/api/tasks":
        return json(
          state.tasks(
            number("job"),
            Math.max(0, number("offset")),
            Math.min(200, Math.max(1, number("limit") || 40)),
            url.searchParams.get("state") || null,
          ),
        );
      case "/api/task": {
        const task = state.task(number("job"), number("task"));
        if (task !== null && task.state === "waiting" && explain !== null) {
          task.explain = await explain(number("job"), number("task")).catch(() => null);
        }
        return json(task);
      }
      default:
        return new Response("Not found\n", { status: 404 });
    }
  });
  const address = server.addr as Deno.NetAddr;
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  const url = `http://${host}:${address.port}/?token=${token}`;
  if (context.globals.outputMode === "json") writeStdout(`${JSON.stringify({ url })}\n`);
  else writeStdout(`${url}\n`);
  if (args.open) await openInBrowser(url).catch((error) => log.warn(String(error.message)));

  const ended = new Promise<void>((resolve) => {
    const onSignal = () => {
      log.info("Stopping the dashboard");
      resolve();
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    stop.signal.addEventListener("abort", () => {
      Deno.removeSignalListener("SIGINT", onSignal);
      Deno.removeSignalListener("SIGTERM", onSignal);
    });
  });
  // A stream that ends (the server stopped) leaves the page up with the last state.
  stream?.then(
    () => log.info("The server closed the event stream"),
    // One line, not an unhandled rejection's stack trace.
    (error) => log.error(`The event stream failed: ${formatErrorChain(error)}`),
  );
  await ended;
  stop.abort();
  await server.finished;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function hasTokenCookie(request: Request, token: string): boolean {
  const cookie = request.headers.get("cookie") ?? "";
  return cookie.split(";").some((part) => part.trim() === `hq_dashboard=${token}`);
}
