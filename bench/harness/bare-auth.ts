// The hub's device authentication for a bare aedes, and nothing else of the hub: each login's
// password checked against its scrypt hash (hub/src/identity/secrets.ts, once per login), each
// publish and subscription judged by the access rules of CONTRACT §3 (hub/src/identity/access.ts).

import type { AedesOptions, AuthenticateError, Client, PublishPacket } from "aedes";
import { mayPublish, maySubscribe } from "../../hub/src/identity/access.ts";
import type { Principal } from "../../hub/src/identity/principal.ts";
import { verifyPassword } from "../../hub/src/identity/secrets.ts";

/** One account the bare broker knows: the stored hash, and who logs in with it. */
export interface BareAccount {
  username: string;
  /** `scrypt$N$r$p$salt$hash`, as hashPassword makes it. */
  hash: string;
  principal: Principal;
}

/** The bare aedes's settings beyond the baseline's (aedes-process.ts reads them from a file). */
export interface BareAedesConfig {
  accounts: BareAccount[];
  /** PEM certificate and key: also listen for MQTT over TLS, on a port of its own. */
  tls?: { cert: string; key: string };
}

const EMPTY = Buffer.alloc(0);

function refused(message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: 5 }) as AuthenticateError;
}

/** A refused publish is acknowledged but reaches nobody, as the hub's broker does with one. */
function drop(packet: PublishPacket): void {
  packet.topic = "$SYS/locus/dropped";
  packet.retain = false;
  packet.payload = EMPTY;
}

/**
 * aedes hooks that admit only the given accounts and let each publish and subscribe only where
 * §3 allows. No authorizeForward: the hub's fixes are delivered to nobody, so a check on each
 * delivery to the bare subscriber would charge the bare broker for work the hub does not do.
 */
export function authHooks(
  accounts: readonly BareAccount[],
): Required<Pick<AedesOptions, "authenticate" | "authorizePublish" | "authorizeSubscribe">> {
  const byName = new Map(accounts.map((a) => [a.username, a]));
  const principals = new WeakMap<Client, Principal>();
  return {
    authenticate(client, username, password, done) {
      const account = username === undefined ? undefined : byName.get(username);
      if (account === undefined) return done(refused("not authorized"), false);
      verifyPassword(password ?? EMPTY, account.hash).then(
        (ok) => {
          if (!ok) return done(refused("not authorized"), false);
          principals.set(client, account.principal);
          done(null, true);
        },
        (err: Error) => done(Object.assign(err, { returnCode: 3 }) as AuthenticateError, false),
      );
    },
    authorizePublish(client, packet, callback) {
      const principal = client === null ? undefined : principals.get(client);
      const payload =
        typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
      if (
        principal === undefined ||
        !mayPublish(principal, packet.topic, packet.retain, payload).ok
      ) {
        drop(packet);
      }
      callback(null);
    },
    authorizeSubscribe(client, subscription, callback) {
      const principal = principals.get(client);
      const ok = principal !== undefined && maySubscribe(principal, subscription.topic);
      callback(null, ok ? subscription : null);
    },
  };
}
