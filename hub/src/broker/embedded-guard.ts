// Who is on each connection of the embedded broker and what they may do (CONTRACT §3): aedes's
// authenticate, authorizeSubscribe and authorizeForward hooks, the verdict on each publish, and
// the live sessions of each username, so a rotated or revoked password ends them at once.

import type {
  AedesPublishPacket,
  AuthenticateError,
  Client,
  PublishPacket,
  Subscription,
} from "aedes";
import type { Logger } from "pino";
import { type MqttRefusal, mayPublish, mayReceive, maySubscribe } from "../identity/access.ts";
import type { MqttAuthenticator, Principal } from "../identity/principal.ts";
import { RetainedLedger, type RetainedLimits } from "./retained-ledger.ts";

/**
 * Where a refused publish goes instead of its topic: aedes acknowledges it as usual (MQTT 3.1.1
 * has no way to refuse one short of closing the connection, after which the device would send it
 * again forever), and nobody can subscribe to this topic, so it reaches no one.
 */
export const DROPPED_TOPIC = "$SYS/locus/dropped";

const EMPTY = Buffer.alloc(0);

/** Turns a publish aedes will still acknowledge into one that reaches nobody and is not retained. */
export function dropPublish(packet: PublishPacket): void {
  packet.topic = DROPPED_TOPIC;
  packet.retain = false;
  packet.payload = EMPTY;
}

export interface GuardOptions {
  /** Checks a username and password; absent, every username is refused. */
  authenticate?: MqttAuthenticator;
  /** Whether clients without a username may connect (with the anonymous rights of §3). */
  allowAnonymous: boolean;
  retainedLimits: RetainedLimits;
  onRefused: (reason: MqttRefusal) => void;
  logger: Logger;
}

type AuthDone = (error: AuthenticateError | null, success: boolean | null) => void;

function connackError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** Equal for two connections of the same account (or two anonymous ones). */
function identityOf(principal: Principal): string {
  switch (principal.kind) {
    case "vehicle":
      return `vehicle:${principal.id}`;
    case "client":
      return `client:${principal.name}`;
    case "anonymous":
      return "anonymous";
  }
}

export class AccessGuard {
  readonly #o: GuardOptions;
  readonly #principals = new WeakMap<Client, Principal>();
  /** Live connections by the username they logged in with. */
  readonly #sessions = new Map<string, Set<Client>>();
  /** Bumped by each disconnect, so a login checked against the old password cannot slip in after. */
  readonly #generations = new Map<string, number>();
  /** Who holds each client id now: another account may not take the connection over. */
  readonly #holders = new Map<string, { client: Client; identity: string }>();
  readonly #retained: RetainedLedger;

  constructor(options: GuardOptions) {
    this.#o = options;
    this.#retained = new RetainedLedger(options.retainedLimits);
  }

  /** aedes `authenticate`: sets the connection's principal, or refuses with CONNACK 5 (or 2, 3). */
  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: AuthDone,
  ): void {
    if (username === undefined) {
      if (!this.#o.allowAnonymous) {
        this.#refuse("anonymous_not_allowed", client);
        done(connackError("anonymous clients are not allowed", 5), false);
        return;
      }
      this.#admit(client, undefined, { kind: "anonymous" }, done);
      return;
    }
    const check = this.#o.authenticate;
    if (check === undefined) {
      this.#refuse("bad_credentials", client, username);
      done(connackError("not authorized", 5), false);
      return;
    }
    const generation = this.#generations.get(username) ?? 0;
    check(username, password ?? EMPTY).then(
      (principal) => {
        if (principal === null || (this.#generations.get(username) ?? 0) !== generation) {
          this.#refuse("bad_credentials", client, username);
          return done(connackError("not authorized", 5), false);
        }
        this.#admit(client, username, principal, done);
      },
      (err: Error) => {
        this.#o.logger.warn({ err: err.message }, "could not check MQTT credentials");
        done(connackError("credentials cannot be checked now", 3), false);
      },
    );
  }

  #admit(client: Client, username: string | undefined, principal: Principal, done: AuthDone): void {
    // Gone while its password was checked: nothing to register (aedes ignores the answer).
    if (client.closed) {
      done(connackError("connection closed", 5), false);
      return;
    }
    const identity = identityOf(principal);
    const holder = this.#holders.get(client.id);
    if (holder !== undefined && !holder.client.closed && holder.identity !== identity) {
      this.#refuse("client_id_taken", client, username);
      done(connackError("client id in use by another account", 2), false);
      return;
    }
    this.#principals.set(client, principal);
    this.#holders.set(client.id, { client, identity });
    let live: Set<Client> | undefined;
    if (username !== undefined) {
      live = this.#sessions.get(username) ?? new Set();
      this.#sessions.set(username, live);
      live.add(client);
    }
    client.conn.once("close", () => {
      if (this.#holders.get(client.id)?.client === client) this.#holders.delete(client.id);
      if (live === undefined || username === undefined) return;
      live.delete(client);
      if (live.size === 0 && this.#sessions.get(username) === live) this.#sessions.delete(username);
    });
    done(null, true);
  }

  /**
   * The verdict on a publish: null when it may go on, else why not. A refused packet is turned
   * into one that reaches nobody and is not retained; the caller still acknowledges it in order.
   */
  judgePublish(client: Client, packet: PublishPacket, payload: Uint8Array): MqttRefusal | null {
    const principal = this.#principals.get(client);
    let refusal: MqttRefusal | null = null;
    if (principal === undefined) refusal = "forbidden_publish";
    else {
      const verdict = mayPublish(principal, packet.topic, packet.retain, payload);
      if (!verdict.ok) refusal = verdict.reason;
      else if (packet.retain && !this.#retained.admit(packet.topic, payload.byteLength)) {
        refusal = "retained_limit";
      }
    }
    if (refusal === null) return null;
    this.#refuse(refusal, client, undefined, packet.topic);
    dropPublish(packet);
    return refusal;
  }

  /** aedes `authorizeSubscribe`: a refused filter gets return code 0x80 in SUBACK. */
  authorizeSubscribe(
    client: Client,
    subscription: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const principal = this.#principals.get(client);
    if (principal !== undefined && maySubscribe(principal, subscription.topic)) {
      done(null, subscription);
      return;
    }
    this.#refuse("forbidden_subscribe", client, undefined, subscription.topic);
    done(null, null);
  }

  /**
   * aedes `authorizeForward`: checked again at delivery, where a persistent session's queued
   * messages would otherwise reach whoever takes the session over with other rights.
   */
  authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    if (packet.topic === DROPPED_TOPIC) return null;
    const principal = this.#principals.get(client);
    return principal !== undefined && mayReceive(principal, packet.topic) ? packet : null;
  }

  /** Closes every live connection that logged in as `username`; resolves once all are closed. */
  async disconnect(username: string): Promise<number> {
    this.#generations.set(username, (this.#generations.get(username) ?? 0) + 1);
    const live = [...(this.#sessions.get(username) ?? [])];
    this.#sessions.delete(username);
    await Promise.all(
      live.map((client) => new Promise<void>((resolve) => client.close(() => resolve()))),
    );
    return live.length;
  }

  /**
   * Records a retained message stored for another hub's client (MQTT across hubs), within the
   * same limits; false, recording nothing, when it would pass one.
   */
  admitRetained(topic: string, bytes: number): boolean {
    return this.#retained.admit(topic, bytes);
  }

  /** Retained messages held now, and their payload bytes. */
  get retained(): { messages: number; bytes: number } {
    return { messages: this.#retained.messages, bytes: this.#retained.bytes };
  }

  #refuse(reason: MqttRefusal, client: Client, username?: string, topic?: string): void {
    this.#o.onRefused(reason);
    this.#o.logger.debug({ client: client.id, username, topic, reason }, "mqtt refused");
  }
}
