// The webhook routes (CONTRACT §5): validation with messages that say what to fix, limits, roles,
// secrets never answered, pagination, and the deliveries log of a real delivery.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startReceiver } from "../webhooks/test-receiver.ts";
import { call, errorMessage, startApi, type TestApi } from "./test-support.ts";

const SECRET = "0123456789abcdef-secret";
let t: TestApi;

beforeEach(async () => {
  t = await startApi({}, {}, { maxWebhooks: 3, pollMs: 20 });
});
afterEach(async () => {
  await t.close();
});

const as = (token: string) => ({ authorization: `Bearer ${token}` });

describe("/api/v1/webhooks", () => {
  it("creates, reads, replaces and deletes a webhook, never answering its secret", async () => {
    const created = await call(t.app, "POST", "/api/v1/webhooks", {
      url: "https://hooks.example.com/locus",
      secret: SECRET,
      types: ["enter"],
      geofence_ids: ["g1", "g2"],
    });
    expect(created.statusCode).toBe(201);
    const hook = created.json();
    expect(hook).toEqual({
      id: expect.any(String),
      url: "https://hooks.example.com/locus",
      has_secret: true,
      types: ["enter"],
      geofence_ids: ["g1", "g2"],
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(created.body).not.toContain(SECRET);
    const got = await call(t.app, "GET", `/api/v1/webhooks/${hook.id}`);
    expect(got.json()).toEqual(hook);
    // The hub keeps the secret itself, to sign with.
    expect((await t.store.webhooks.get(hook.id))?.secret).toBe(SECRET);

    const replaced = await call(t.app, "PUT", `/api/v1/webhooks/${hook.id}`, {
      url: "https://hooks.example.com/other",
    });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toEqual({
      id: hook.id,
      url: "https://hooks.example.com/other",
      has_secret: false,
      created_at: hook.created_at,
      updated_at: expect.any(String),
    });
    const list = await call(t.app, "GET", "/api/v1/webhooks");
    expect(list.json()).toEqual({ webhooks: [replaced.json()] });

    expect((await call(t.app, "DELETE", `/api/v1/webhooks/${hook.id}`)).statusCode).toBe(204);
    expect(errorMessage(await call(t.app, "GET", `/api/v1/webhooks/${hook.id}`), 404)).toContain(
      "GET /api/v1/webhooks",
    );
    errorMessage(await call(t.app, "DELETE", `/api/v1/webhooks/${hook.id}`), 404);
    errorMessage(
      await call(t.app, "PUT", `/api/v1/webhooks/${hook.id}`, { url: "https://a.example/" }),
      404,
    );
    errorMessage(await call(t.app, "GET", `/api/v1/webhooks/${hook.id}/deliveries`), 404);
  });

  it.each([
    [{}, "body/url"],
    [{ url: "ftp://example.com/" }, "http:// or https://"],
    [{ url: "http://127.0.0.1:9000/" }, "LOCUS_WEBHOOK_ALLOW_PRIVATE"],
    [{ url: "http://[::ffff:10.0.0.1]/" }, "body/url"],
    [{ url: "http://localhost/" }, "this machine"],
    [{ url: "http://169.254.169.254/latest/meta-data" }, "body/url"],
    [{ url: "https://u:p@example.com/" }, "credentials"],
    [{ url: `https://example.com/${"x".repeat(2048)}` }, "body/url"],
    [{ url: "https://example.com/", secret: "short" }, "body/secret"],
    [{ url: "https://example.com/", secret: "s".repeat(257) }, "body/secret"],
    [{ url: "https://example.com/", types: [] }, "body/types"],
    [{ url: "https://example.com/", types: ["Enter!"] }, "body/types"],
    [{ url: "https://example.com/", types: ["enter", "enter"] }, "twice"],
    [
      {
        url: "https://example.com/",
        types: Array.from({ length: 17 }, (_, i) => `t${"a".repeat(i)}`),
      },
      "body/types",
    ],
    [
      { url: "https://example.com/", geofence_ids: Array.from({ length: 101 }, (_, i) => `g${i}`) },
      "body/geofence_ids",
    ],
    [{ url: "https://example.com/", geofence_ids: ["x".repeat(129)] }, "body/geofence_ids"],
    [{ url: "https://example.com/", extra: 1 }, "extra"],
  ])("refuses %j with 400 naming the problem", async (body, problem) => {
    const response = await call(t.app, "POST", "/api/v1/webhooks", body);
    expect(errorMessage(response, 400)).toContain(problem);
  });

  it("refuses one webhook more than LOCUS_WEBHOOK_MAX with 409", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await call(t.app, "POST", "/api/v1/webhooks", { url: `https://e${i}.example/` });
      expect(r.statusCode).toBe(201);
    }
    const over = await call(t.app, "POST", "/api/v1/webhooks", { url: "https://e9.example/" });
    expect(errorMessage(over, 409)).toContain("LOCUS_WEBHOOK_MAX");
  });

  it("pages the list with next_cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (await call(t.app, "POST", "/api/v1/webhooks", { url: `https://e${i}.example/` })).json()
          .id,
      );
    }
    const first = (await call(t.app, "GET", "/api/v1/webhooks?limit=2")).json();
    expect(first.webhooks.map((w: { id: string }) => w.id)).toEqual(ids.slice(0, 2));
    const second = (
      await call(t.app, "GET", `/api/v1/webhooks?limit=2&cursor=${first.next_cursor}`)
    ).json();
    expect(second).toEqual({ webhooks: [expect.objectContaining({ id: ids[2] })] });
    errorMessage(await call(t.app, "GET", "/api/v1/webhooks?cursor=zzz"), 400);
    errorMessage(await call(t.app, "GET", "/api/v1/webhooks?limit=5000"), 400);
  });

  it("lets a read token list and read, and nothing else; no token at all gets 401", async () => {
    const issued = await call(t.app, "POST", "/api/v1/tokens", { name: "viewer", role: "read" });
    const read = issued.json().token as string;
    const hook = (
      await call(t.app, "POST", "/api/v1/webhooks", { url: "https://e.example/" })
    ).json();
    expect((await call(t.app, "GET", "/api/v1/webhooks", undefined, as(read))).statusCode).toBe(
      200,
    );
    expect(
      (await call(t.app, "GET", `/api/v1/webhooks/${hook.id}/deliveries`, undefined, as(read)))
        .statusCode,
    ).toBe(200);
    errorMessage(
      await call(t.app, "POST", "/api/v1/webhooks", { url: "https://x.example/" }, as(read)),
      403,
    );
    errorMessage(
      await call(
        t.app,
        "PUT",
        `/api/v1/webhooks/${hook.id}`,
        { url: "https://x.example/" },
        as(read),
      ),
      403,
    );
    errorMessage(
      await call(t.app, "DELETE", `/api/v1/webhooks/${hook.id}`, undefined, as(read)),
      403,
    );
    errorMessage(await t.app.inject({ method: "GET", url: "/api/v1/webhooks" }), 401);
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await t.app.inject({ method: "GET", url: "/openapi.json" })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/webhooks",
        "/api/v1/webhooks/{id}",
        "/api/v1/webhooks/{id}/deliveries",
      ]),
    );
  });
});

describe("/api/v1/webhooks/{id}/deliveries", () => {
  it("lists the attempts of a real delivery newest first, with status, error and time", async () => {
    await t.close();
    t = await startApi(
      {},
      {},
      { allowPrivate: true, pollMs: 20, firstRetryMs: 20, maxRetryMs: 40 },
    );
    const receiver = await startReceiver((n) => ({ status: n === 0 ? 500 : 200 }));
    try {
      const hook = (await call(t.app, "POST", "/api/v1/webhooks", { url: receiver.url })).json();
      const fix = {
        vehicle_id: "v1",
        latitude: 1,
        longitude: 2,
        ts: Date.parse("2026-01-01T00:00:00Z"),
        ts_given: true,
      };
      const event = {
        id: "e-1",
        type: "enter",
        vehicle_id: "v1",
        geofence_id: "g1",
        geofence_name: "g",
        ts: "2026-01-01T00:00:00.000Z",
        latitude: 1,
        longitude: 2,
        detected_at: "2026-01-01T00:00:00.004Z",
      } as const;
      const committed = await t.store.commit({ fixes: [fix], vehicles: [], events: [event] });
      t.webhooks?.notify(committed.events);
      await receiver.until((got) => got.length >= 2);
      const body = await vi.waitFor(async () => {
        const answer = await call(t.app, "GET", `/api/v1/webhooks/${hook.id}/deliveries?limit=10`);
        expect(answer.json().deliveries).toHaveLength(2);
        return answer.json() as { deliveries: unknown[] };
      });
      expect(body.deliveries).toEqual([
        {
          event_id: "e-1",
          attempt: 2,
          status: 200,
          error: null,
          outcome: "delivered",
          at: expect.any(String),
        },
        {
          event_id: "e-1",
          attempt: 1,
          status: 500,
          error: "HTTP 500",
          outcome: "retrying",
          at: expect.any(String),
        },
      ]);
      const one = (
        await call(t.app, "GET", `/api/v1/webhooks/${hook.id}/deliveries?limit=1`)
      ).json();
      expect(one.deliveries).toHaveLength(1);
      errorMessage(await call(t.app, "GET", `/api/v1/webhooks/${hook.id}/deliveries?limit=0`), 400);
    } finally {
      await receiver.close();
    }
  });
});
