// CONTRACT §3 "Who may do what", row by row from both sides, and a property: no filter a vehicle
// may subscribe to matches another vehicle's topics.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mayPublish, mayReceive, maySubscribe, type PublishVerdict } from "./access.ts";
import type { Principal } from "./principal.ts";

const truck: Principal = { kind: "vehicle", id: "truck-1" };
const events: Principal = { kind: "client", name: "dispatch", role: "events" };
const observer: Principal = { kind: "client", name: "map", role: "observer" };
const anonymous: Principal = { kind: "anonymous" };
const everyone = { truck, events, observer, anonymous };
type Who = keyof typeof everyone;

const OK: PublishVerdict = { ok: true };
const FORBIDDEN: PublishVerdict = { ok: false, reason: "forbidden_publish" };
const NO_RETAIN: PublishVerdict = { ok: false, reason: "forbidden_retain" };
const BAD_STATUS: PublishVerdict = { ok: false, reason: "bad_status" };
const BAD_TOPIC: PublishVerdict = { ok: false, reason: "bad_topic" };

const FIX = '{"latitude":1,"longitude":2}';

/** [topic, retain, payload, verdict for truck, events, observer, anonymous]. */
const PUBLISH_ROWS: [
  string,
  boolean,
  string,
  PublishVerdict,
  PublishVerdict,
  PublishVerdict,
  PublishVerdict,
][] = [
  // Own fixes and status; anonymous for any vehicle.
  ["locus/vehicles/truck-1/location", false, FIX, OK, FORBIDDEN, FORBIDDEN, OK],
  ["locus/vehicles/truck-1/status", true, "online", OK, FORBIDDEN, FORBIDDEN, OK],
  ["locus/vehicles/truck-1/status", false, "offline", OK, FORBIDDEN, FORBIDDEN, OK],
  // Another vehicle's topics.
  ["locus/vehicles/truck-2/location", false, FIX, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK],
  ["locus/vehicles/truck-2/status", true, "offline", FORBIDDEN, FORBIDDEN, FORBIDDEN, OK],
  ["owntracks/truck-2/phone", true, FIX, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK],
  // OwnTracks: own user, any device and deeper for the vehicle; only user/device anonymously.
  ["owntracks/truck-1/phone", true, FIX, OK, FORBIDDEN, FORBIDDEN, OK],
  ["owntracks/truck-1/phone", false, FIX, OK, FORBIDDEN, FORBIDDEN, OK],
  ["owntracks/truck-1/phone/event", false, "{}", OK, FORBIDDEN, FORBIDDEN, FORBIDDEN],
  ["owntracks/truck-1", false, FIX, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
  ["owntracks/truck-1/", false, FIX, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
  // Retained only on status and OwnTracks.
  ["locus/vehicles/truck-1/location", true, FIX, NO_RETAIN, FORBIDDEN, FORBIDDEN, NO_RETAIN],
  // A status is online or offline, nothing else, whoever sends it.
  ["locus/vehicles/truck-1/status", true, "hello", BAD_STATUS, FORBIDDEN, FORBIDDEN, BAD_STATUS],
  ["locus/vehicles/truck-1/status", true, "", BAD_STATUS, FORBIDDEN, FORBIDDEN, BAD_STATUS],
  ["locus/vehicles/truck-1/status", false, "Online", BAD_STATUS, FORBIDDEN, FORBIDDEN, BAD_STATUS],
  // Only the hub publishes events; nobody publishes outside the named topics.
  ["locus/geofence/events", false, "{}", FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
  ["locus/vehicles/truck-1/cmd", false, "x", FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
  ["locus/vehicles/truck-1/location/x", false, FIX, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
  // A malformed id: a trespass for a vehicle, bad input from who may publish for any vehicle.
  ["locus/vehicles/bad id/location", false, FIX, FORBIDDEN, FORBIDDEN, FORBIDDEN, BAD_TOPIC],
  [
    `locus/vehicles/${"a".repeat(65)}/status`,
    false,
    "online",
    FORBIDDEN,
    FORBIDDEN,
    FORBIDDEN,
    BAD_TOPIC,
  ],
  ["locus/vehicles/a/b/location", false, FIX, FORBIDDEN, FORBIDDEN, FORBIDDEN, BAD_TOPIC],
  ["locus/other", false, "x", FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
  ["$SYS/broker/x", false, "x", FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
  ["truck-1/location", false, FIX, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
];

describe("mayPublish", () => {
  for (const [topic, retain, payload, ...verdicts] of PUBLISH_ROWS) {
    const whos = Object.keys(everyone) as Who[];
    whos.forEach((who, i) => {
      const expected = verdicts[i] as PublishVerdict;
      const label = expected.ok ? "may" : `may not (${expected.reason})`;
      it(`${who} ${label} publish ${JSON.stringify(payload)} on ${topic}${retain ? " retained" : ""}`, () => {
        expect(mayPublish(everyone[who], topic, retain, Buffer.from(payload))).toEqual(expected);
      });
    });
  }
});

/** [filter, allowed for truck, events, observer, anonymous]. */
const SUBSCRIBE_ROWS: [string, boolean, boolean, boolean, boolean][] = [
  // A vehicle: its own locus/vehicles/{id}/# and owntracks/{id}/#, and narrower filters.
  ["locus/vehicles/truck-1/#", true, false, false, false],
  ["locus/vehicles/truck-1/location", true, false, true, false],
  ["locus/vehicles/truck-1/status", true, false, true, false],
  ["locus/vehicles/truck-1/+", true, false, false, false],
  ["locus/vehicles/truck-1/cmd/+", true, false, false, false],
  ["locus/vehicles/truck-1", true, false, false, false],
  ["owntracks/truck-1/#", true, false, false, false],
  ["owntracks/truck-1/+", true, false, false, false],
  ["owntracks/truck-1/phone/cmd", true, false, false, false],
  // Another vehicle's, or every vehicle's.
  ["locus/vehicles/truck-2/#", false, false, false, false],
  ["owntracks/truck-2/#", false, false, false, false],
  ["locus/vehicles/+/#", false, false, false, false],
  ["owntracks/+/+", false, false, false, false],
  ["owntracks/#", false, false, false, false],
  // Events: events, observer and anonymous; not a vehicle.
  ["locus/geofence/events", false, true, true, true],
  ["locus/geofence/+", false, false, false, false],
  ["locus/geofence/#", false, false, false, false],
  // Observer: every vehicle's location and status, or one vehicle's.
  ["locus/vehicles/+/location", false, false, true, false],
  ["locus/vehicles/+/status", false, false, true, false],
  ["locus/vehicles/truck-2/location", false, false, true, false],
  ["locus/vehicles/+/+", false, false, false, false],
  ["locus/vehicles/bad id/location", false, false, false, false],
  // Wildcards that would widen anyone's access.
  ["#", false, false, false, false],
  ["+/#", false, false, false, false],
  ["+/vehicles/truck-1/location", false, false, false, false],
  ["+/truck-1/#", false, false, false, false],
  ["locus/#", false, false, false, false],
  ["locus/+/truck-1/#", false, false, false, false],
  ["$SYS/#", false, false, false, false],
  ["$share/g/locus/geofence/events", false, false, false, false],
  // Not filters at all.
  ["", false, false, false, false],
  ["locus/vehicles/truck-1/#/x", false, false, false, false],
  ["locus/vehicles/truck-1#", false, false, false, false],
  ["locus/vehicles/truck-1+/location", false, false, false, false],
];

describe("maySubscribe", () => {
  for (const [filter, ...allowed] of SUBSCRIBE_ROWS) {
    (Object.keys(everyone) as Who[]).forEach((who, i) => {
      it(`${who} ${allowed[i] ? "may" : "may not"} subscribe to ${JSON.stringify(filter)}`, () => {
        expect(maySubscribe(everyone[who], filter)).toBe(allowed[i]);
      });
    });
  }
});

describe("mayReceive", () => {
  it("lets a subscriber receive what its allowed filters match, and nothing else", () => {
    expect(mayReceive(truck, "locus/vehicles/truck-1/cmd")).toBe(true);
    expect(mayReceive(truck, "locus/vehicles/truck-2/status")).toBe(false);
    expect(mayReceive(truck, "locus/geofence/events")).toBe(false);
    expect(mayReceive(observer, "locus/vehicles/truck-2/status")).toBe(true);
    expect(mayReceive(observer, "owntracks/truck-2/phone")).toBe(false);
    expect(mayReceive(events, "locus/geofence/events")).toBe(true);
    expect(mayReceive(events, "locus/vehicles/truck-2/location")).toBe(false);
    expect(mayReceive(anonymous, "locus/geofence/events")).toBe(true);
    expect(mayReceive(anonymous, "locus/vehicles/truck-2/location")).toBe(false);
    expect(mayReceive(observer, "locus/vehicles/+/location")).toBe(false);
  });
});

/** MQTT topic matching (MQTT 3.1.1 §4.7), for the property below. */
function matches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

describe("matches (the property's own topic matcher)", () => {
  it.each([
    ["locus/#", "locus", true],
    ["locus/#", "locus/a/b", true],
    ["locus/+/b", "locus/a/b", true],
    ["locus/+", "locus/a/b", false],
    ["locus/a", "locus/a/b", false],
    ["locus/a/b", "locus/a", false],
  ])("%s matches %s: %s", (filter, topic, expected) => {
    expect(matches(filter, topic)).toBe(expected);
  });
});

describe("a vehicle's filters never reach another vehicle", () => {
  const id = fc.stringMatching(/^[A-Za-z0-9_.-]{1,8}$/);
  /** Two different vehicles and a filter built from their ids, wildcards and topic words. */
  const scenario = fc
    .tuple(id, id)
    .filter(([me, other]) => me !== other)
    .chain(([me, other]) =>
      fc.record({
        me: fc.constant(me),
        other: fc.constant(other),
        filter: fc
          .array(
            fc.constantFrom(
              me,
              other,
              "locus",
              "vehicles",
              "owntracks",
              "location",
              "status",
              "+",
              "#",
              "",
              "$SYS",
            ),
            { minLength: 1, maxLength: 6 },
          )
          .map((levels) => levels.join("/")),
        rest: fc.array(fc.constantFrom(me, other, "location", "status", "phone", "x"), {
          minLength: 0,
          maxLength: 3,
        }),
      }),
    );

  it("no allowed filter matches another vehicle's topic", () => {
    let allowed = 0;
    fc.assert(
      fc.property(scenario, ({ me, other, filter, rest }) => {
        if (!maySubscribe({ kind: "vehicle", id: me }, filter)) return true;
        allowed++;
        const tail = rest.length > 0 ? `/${rest.join("/")}` : "";
        return [
          `locus/vehicles/${other}${tail}`,
          `locus/vehicles/${other}/location`,
          `locus/vehicles/${other}/status`,
          `owntracks/${other}${tail}`,
          `owntracks/${other}/phone`,
          "locus/geofence/events",
        ].every((topic) => !matches(filter, topic));
      }),
      { numRuns: 20_000 },
    );
    // The property said something: some of the random filters were allowed.
    expect(allowed).toBeGreaterThan(20);
  });
});
