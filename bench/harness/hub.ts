// The real hub (`hub/src/main.ts`) as a child process on free loopback ports, with extra Node
// flags when asked (`--cpu-prof` for profiling), and readings of its metrics and CPU time.

import {
  type HubProcess,
  type StartHubOptions,
  startHubProcess,
} from "../../tests/support/hub-process.ts";
import { hubRequest } from "./rest.ts";

/** Starts the hub as `npm start` runs it, quiet, with extra Node flags if given. */
export function startBenchHub(
  options: Pick<StartHubOptions, "dataDir" | "env" | "nodeArgs" | "timeoutMs"> = {},
): Promise<HubProcess> {
  return startHubProcess({
    ...options,
    // The heap setting npm start and the Docker image run the hub with (docs/hub.md).
    nodeArgs: [...(options.nodeArgs ?? []), "--max-semi-space-size=64"],
    env: { LOCUS_LOG_LEVEL: "error", ...options.env },
    timeoutMs: options.timeoutMs ?? 60_000,
    // A benchmark run is long; only the end of the output is kept, for a failure's report.
    maxOutputChars: 100_000,
  });
}

/** The hub's Prometheus metrics, as name{labels} → value (over https when given its CA). */
export async function hubMetrics(hub: Pick<HubProcess, "httpUrl" | "token"> & { ca?: string }) {
  let status: number;
  let text: string;
  if (hub.ca === undefined) {
    const res = await fetch(`${hub.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${hub.token}` },
    });
    status = res.status;
    text = await res.text();
  } else {
    ({ status, text } = await hubRequest(hub, "GET", "/metrics"));
  }
  if (status !== 200) throw new Error(`GET /metrics: ${status}`);
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Fixes the hub has committed so far (locus_fixes_accepted_total plus duplicates). */
export async function committedFixes(hub: Pick<HubProcess, "httpUrl" | "token"> & { ca?: string }) {
  const m = await hubMetrics(hub);
  return (m.get("locus_fixes_accepted_total") ?? 0) + (m.get("locus_fixes_duplicate_total") ?? 0);
}
