/**
 * Sequential `server-info` round trips of an in-process `HqClient` against a real server over the
 * encrypted client endpoint, against the same on a server started with
 * `--disable-client-authentication-and-encryption`. Both servers run at once, each in its own child
 * process (see _live_server.ts), and the two clients take turns in interleaved rounds so that load
 * from other processes hits both alike.
 *
 *   deno run -A bench/transport_roundtrip.ts [--rounds 20] [--requests 500]
 */
import { HqClient } from "../client/mod.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { startLiveServer } from "./_live_server.ts";
import { mean, percentile } from "./_stats.ts";
import { cpuSeconds } from "./_zero_workers.ts";

export interface TransportRoundtripOptions {
  /** Interleaved rounds per mode. @default {20} */
  rounds?: number;
  /** Sequential requests per round. @default {500} */
  requestsPerRound?: number;
  /** Requests per mode before measuring. @default {2000} */
  warmupRequests?: number;
  /** Connections (TCP + handshake) per mode, interleaved. @default {40} */
  connects?: number;
}

export async function benchTransportRoundtrip(
  options: TransportRoundtripOptions = {},
): Promise<BenchRow[]> {
  const rounds = options.rounds ?? 20;
  const requestsPerRound = options.requestsPerRound ?? 500;
  const warmupRequests = options.warmupRequests ?? 2000;
  const connects = options.connects ?? 40;

  await using encryptedServer = await startLiveServer();
  await using plainServer = await startLiveServer({ plainClients: true });
  const encrypted = await HqClient.connect({ serverDir: encryptedServer.serverDir });
  const plain = await HqClient.connect({ serverDir: plainServer.serverDir });
  const latencyUs = { encrypted: [] as number[], plain: [] as number[] };
  // CPU seconds of both processes (the client's own, this process, and its server) per mode: on a
  // shared machine CPU time moves far less with outside load than wall time does.
  const cpuSec = { encrypted: 0, plain: 0 };
  const serverPid = { encrypted: encryptedServer.pid, plain: plainServer.pid };
  try {
    for (let i = 0; i < warmupRequests; i += 100) {
      await requestLatencies(encrypted, 100);
      await requestLatencies(plain, 100);
    }
    for (let round = 0; round < rounds; round++) {
      // ABBA order: neither mode always runs first after the other's GC or a scheduler tick.
      const order = round % 2 === 0
        ? ["encrypted", "plain"] as const
        : ["plain", "encrypted"] as const;
      for (const mode of order) {
        const client = mode === "encrypted" ? encrypted : plain;
        const cpuBefore = cpuSeconds(Deno.pid) + cpuSeconds(serverPid[mode]);
        latencyUs[mode].push(...await requestLatencies(client, requestsPerRound));
        cpuSec[mode] += cpuSeconds(Deno.pid) + cpuSeconds(serverPid[mode]) - cpuBefore;
      }
    }
  } finally {
    encrypted.close();
    plain.close();
  }

  const connectMs = { encrypted: [] as number[], plain: [] as number[] };
  for (let i = 0; i < connects; i++) {
    for (
      const mode of i % 2 === 0 ? ["encrypted", "plain"] as const : ["plain", "encrypted"] as const
    ) {
      const serverDir = mode === "encrypted" ? encryptedServer.serverDir : plainServer.serverDir;
      const start = performance.now();
      const client = await HqClient.connect({ serverDir });
      connectMs[mode].push(performance.now() - start);
      await client.serverInfo();
      client.close();
    }
  }
  // The first connections pay for lazy initialisation; report the steady state.
  const steady = (samples: number[]) => samples.slice(Math.min(5, samples.length - 1));

  const row = (name: string, unit: string, figure: number, reference: number, target = "") => ({
    name: `transport_roundtrip/${name}`,
    figure,
    unit,
    reference,
    referenceLabel: "unencrypted",
    ratio: figure / reference,
    target,
  });
  return [
    row("server-info-mean", "µs", mean(latencyUs.encrypted), mean(latencyUs.plain), "<= 1.3x"),
    row(
      "server-info-p99",
      "µs",
      percentile(latencyUs.encrypted, 99),
      percentile(latencyUs.plain, 99),
    ),
    row(
      "server-info-cpu",
      "µs/request",
      cpuSec.encrypted / latencyUs.encrypted.length * 1e6,
      cpuSec.plain / latencyUs.plain.length * 1e6,
    ),
    row("connect-mean", "ms", mean(steady(connectMs.encrypted)), mean(steady(connectMs.plain))),
  ];
}

async function requestLatencies(client: HqClient, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await client.serverInfo();
    samples.push((performance.now() - start) * 1000);
  }
  return samples;
}

function numberArg(args: string[], flag: string): number | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? Number(args[at + 1]) : undefined;
}

if (import.meta.main) {
  const rows = await benchTransportRoundtrip({
    rounds: numberArg(Deno.args, "--rounds"),
    requestsPerRound: numberArg(Deno.args, "--requests"),
  });
  console.log(formatTable(rows));
}
