import { DeliverPolicy } from "nats";
import { NatsCluster } from "./tests/support/nats-cluster.ts";
const cluster = await NatsCluster.start();
const nc = await cluster.connect();
const jsm = await nc.jetstreamManager();
const js = nc.jetstream({ timeout: 3000 });
await jsm.streams.add({ name: "G", subjects: ["g.>"], num_replicas: 3 });
let stop = false; let published = 0; const acked: [number, number][] = [];
(async () => { let i = 0; while (!stop) { i++; for (;;) { try { const a = await js.publish(`g.${i % 4}.x`, String(i), { msgID: `m${i}`, timeout: 2000 }); acked.push([a.seq, i % 4]); break; } catch { await new Promise(r => setTimeout(r, 100)); } } published++; await new Promise(r => setTimeout(r, 2)); } })();
// one reader per subject g.0, ordered consumers, record seqs
const seen = new Map<number, number[]>();
for (let p = 0; p < 4; p++) {
  seen.set(p, []);
  (async () => {
    for (;;) {
      try {
        const c = await js.consumers.get("G", { filterSubjects: `g.${p}.>`, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
        const it = await c.consume({ max_messages: 256, expires: 5000 });
        for await (const m of it) seen.get(p)!.push(m.seq);
      } catch (e) { console.log('reader', p, (e as Error).message); await new Promise(r => setTimeout(r, 500)); }
    }
  })();
}
const names = cluster.nodes.map(n => n.name);
const purger = setInterval(async () => {
  for (let p = 0; p < 4; p++) {
    const got = seen.get(p)!; const upTo = got[got.length - 1];
    if (upTo) await jsm.streams.purge("G", { filter: `g.${p}.>`, seq: upTo + 1 }).catch(() => {});
  }
}, 1000);
const t0 = Date.now();
let k = 0;
while (Date.now() - t0 < 40_000) {
  await new Promise(r => setTimeout(r, 3000 + Math.random() * 3000));
  const n = names[k++ % 3]!;
  await cluster.kill(n); await new Promise(r => setTimeout(r, 1000 + Math.random() * 2000)); await cluster.restart(n);
  console.log(`killed+restarted ${n}; published ${published}; read ${[...seen.values()].map(s=>s.length).join('/')}`);
}
stop = true; clearInterval(purger);
await new Promise(r => setTimeout(r, 15000));
let missing = 0, outOfOrder = 0; const examples: string[] = [];
for (let p = 0; p < 4; p++) { const got = seen.get(p)!; for (let i = 1; i < got.length; i++) if (got[i]! <= got[i-1]!) outOfOrder++; }
const sets = new Map([...seen].map(([p, g]) => [p, new Set(g)]));
for (const [seq, p] of acked) if (!sets.get(p)!.has(seq)) { missing++; if (examples.length < 5) examples.push(`${p}:${seq}`); }
const info = await jsm.streams.info("G");
console.log(`published ${published} acked ${acked.length} stored ${info.state.messages}; acked but never read ${missing} ${examples.join(",")}; out of order ${outOfOrder}`);
await nc.close(); await cluster.stop();
process.exit(0);
