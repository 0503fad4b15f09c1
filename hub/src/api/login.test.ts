// One-time login links (POST /api/v1/login): a code works once, expires, and is the only way the
// route hands out the token; the route needs no bearer token of its own.

import { afterEach, describe, expect, it } from "vitest";
import { LoginLinks, MAX_LOGIN_LINKS } from "../identity/login-links.ts";
import { startApi, type TestApi, TOKEN } from "./test-support.ts";

describe("LoginLinks", () => {
  it("redeems a code once, and never a code it did not issue", () => {
    const links = new LoginLinks();
    const code = links.issue();
    expect(code).toMatch(/^[\w-]{32}$/);
    expect(links.redeem(`${code}x`)).toBe(false);
    expect(links.redeem(code)).toBe(true);
    expect(links.redeem(code)).toBe(false);
    expect(links.issue()).not.toBe(code);
  });

  it("refuses a code after its time, and forgets expired codes", () => {
    let now = 1_000;
    const links = new LoginLinks({ ttlMs: 100, now: () => now });
    const late = links.issue();
    const early = links.issue();
    now += 99;
    expect(links.redeem(early)).toBe(true);
    now += 1;
    expect(links.redeem(late)).toBe(false);
    links.issue();
    now += 100;
    expect(links.outstanding).toBe(0);
  });

  it("keeps at most MAX_LOGIN_LINKS codes, forgetting the oldest first", () => {
    const links = new LoginLinks();
    const first = links.issue();
    const second = links.issue();
    for (let i = 2; i < MAX_LOGIN_LINKS + 1; i++) links.issue();
    expect(links.outstanding).toBe(MAX_LOGIN_LINKS);
    expect(links.redeem(first)).toBe(false);
    expect(links.redeem(second)).toBe(true);
  });
});

describe("POST /api/v1/login", () => {
  let api: TestApi | null = null;
  afterEach(async () => {
    await api?.close();
    api = null;
  });

  const login = (body: unknown) =>
    (api as TestApi).app.inject({
      method: "POST",
      url: "/api/v1/login",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify(body),
    });

  it("answers the admin token for a fresh code, without a bearer token, and 401 the second time", async () => {
    api = await startApi();
    const code = api.deps.loginLinks.issue();
    const first = await login({ code });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ token: TOKEN, role: "admin" });
    const again = await login({ code });
    expect(again.statusCode).toBe(401);
    expect(again.json().message).toMatch(/unknown, used or expired/);
    expect(again.body).not.toContain(TOKEN);
  });

  it("refuses a body without a code, or with more than a code, with 400", async () => {
    api = await startApi();
    expect((await login({})).statusCode).toBe(400);
    expect((await login({ code: "a".repeat(129) })).statusCode).toBe(400);
    const extra = await login({ code: api.deps.loginLinks.issue(), token: "x" });
    expect(extra.statusCode).toBe(400);
  });
});
