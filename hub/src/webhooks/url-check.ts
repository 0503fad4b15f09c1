// Where a webhook may point: http or https, and, unless LOCUS_WEBHOOK_ALLOW_PRIVATE is true, never
// at this machine or a private network (server-side request forgery). A URL is checked when it is
// stored (its literal address) and at every delivery (the addresses its name resolves to, which
// are then the only ones connected to: a name that later resolves elsewhere gains nothing).

import dns from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

/** Longest webhook URL accepted, characters. */
export const MAX_URL_LENGTH = 2048;

const BLOCKED = new BlockList();
// IPv4: "this network" and unspecified, private (RFC 1918), CGNAT (RFC 6598), loopback,
// link-local, IETF protocol assignments, benchmarking, multicast, reserved and broadcast.
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  BLOCKED.addSubnet(net, prefix, "ipv4");
}
// IPv6: unspecified, loopback, unique-local, link-local, site-local (deprecated), multicast,
// documentation. Addresses that embed an IPv4 one are judged by that address (below).
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
  ["2001:db8::", 32],
] as const) {
  BLOCKED.addSubnet(net, prefix, "ipv6");
}

/** The 16 bytes of an IPv6 address (as net.isIP accepts it). */
function ipv6Bytes(address: string): number[] {
  // The URL parser writes an IPv6 address in its canonical form: hex groups only (a dotted IPv4
  // tail becomes two groups), at most one "::".
  const canonical = new URL(`http://[${address.split("%")[0]}]/`).hostname.slice(1, -1);
  const [head = "", rest] = canonical.split("::");
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const before = groups(head);
  const after = groups(rest);
  const all =
    rest === undefined
      ? before
      : [...before, ...Array(8 - before.length - after.length).fill("0"), ...after];
  return all.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/** The IPv4 address an IPv6 one carries (IPv4-mapped, IPv4-compatible, NAT64), else null. */
function embeddedIpv4(address: string): string | null {
  const b = ipv6Bytes(address);
  if (b.length !== 16) return null;
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const mapped = zeros(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const compatible = zeros(0, 12);
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12);
  if (!mapped && !compatible && !nat64) return null;
  return b.slice(12).join(".");
}

/**
 * Why this IP address is no place for a webhook (loopback, private, link-local, unique-local,
 * CGNAT, multicast, unspecified, reserved), or null when it is a public address.
 */
export function refusedAddress(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    // :: and ::1 are IPv4-compatible in form, but are judged as themselves.
    if (v4 !== null && v4 !== "0.0.0.0" && v4 !== "0.0.0.1") {
      const inner = refusedAddress(v4);
      return inner === null ? null : `${address} carries ${inner}`;
    }
  }
  if (BLOCKED.check(address.split("%")[0] as string, family === 4 ? "ipv4" : "ipv6")) {
    return `${address} is a loopback, private, link-local, multicast or otherwise non-public address`;
  }
  return null;
}

/** A hostname as URL gives it, without IPv6 brackets. */
function bareHost(url: URL): string {
  return url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Checks a webhook URL as stored: its form and, for a literal address (or `localhost`), where it
 * points. Answers the parsed URL, or the problem to put in a 400.
 */
export function checkWebhookUrl(
  text: string,
  allowPrivate: boolean,
): { url: URL } | { problem: string } {
  if (text.length > MAX_URL_LENGTH) {
    return { problem: `is longer than ${MAX_URL_LENGTH} characters` };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: "is not an absolute URL: send e.g. https://example.com/locus-events" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { problem: `must start with http:// or https://, not ${url.protocol}//` };
  }
  if (url.username !== "" || url.password !== "") {
    return {
      problem:
        "must not carry credentials (user:password@): give the webhook a secret instead, and check its Locus-Signature",
    };
  }
  if (url.hash !== "") return { problem: "must not have a #fragment" };
  if (allowPrivate) return { url };
  const host = bareHost(url);
  if (isIP(host) !== 0) {
    const refused = refusedAddress(host);
    if (refused !== null) {
      return {
        problem: `points at ${refused}: use a public address, or set LOCUS_WEBHOOK_ALLOW_PRIVATE=true on the hub`,
      };
    }
  } else if (host === "localhost" || host.endsWith(".localhost")) {
    return {
      problem: `points at ${host}, this machine: use a public address, or set LOCUS_WEBHOOK_ALLOW_PRIVATE=true on the hub`,
    };
  }
  return { url };
}

/** Thrown (as a lookup error) when a name resolves only to refused addresses. */
export class RefusedAddressError extends Error {
  readonly code = "ELOCUSREFUSED";
  constructor(message: string) {
    super(message);
    this.name = "RefusedAddressError";
  }
}

/** How names are resolved: dns.lookup's signature with `all: true`; injectable for tests. */
export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolve: Resolve = (hostname) => dns.promises.lookup(hostname, { all: true });

/**
 * A `lookup` for http.request that resolves the name and hands on only addresses that pass
 * refusedAddress: the connection goes to an address that was checked, whatever the name resolves
 * to a moment later (DNS rebinding). With none left, the lookup fails saying why.
 */
export function guardedLookup(resolve: Resolve = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = found.filter(
          (a) => (wanted === 0 || a.family === wanted) && refusedAddress(a.address) === null,
        );
        if (usable.length === 0) {
          const why = found.map((a) => refusedAddress(a.address) ?? `${a.address} (other family)`);
          callback(
            new RefusedAddressError(
              `${hostname} resolves to no public address (${why.join("; ") || "no address"}); set LOCUS_WEBHOOK_ALLOW_PRIVATE=true to allow private ones`,
            ),
            "",
          );
          return;
        }
        if (options.all) callback(null, usable);
        else
          callback(
            null,
            (usable[0] as { address: string }).address,
            (usable[0] as { family: number }).family,
          );
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, ""),
    );
  };
}
