// Scenario 8: webhook delivery throughput (bench/webhooks.ts): events committed to a real SQLite
// store and POSTed, signed, in order, one at a time per webhook, to local receivers.

import { fmt, type Scenario, type ScenarioOutcome } from "../harness/context.ts";
import { runWebhookBench } from "../webhooks.ts";

export const webhooks: Scenario = {
  name: "webhooks",
  title: "8. Webhook delivery to local receivers (bench/webhooks.ts)",
  async run(ctx): Promise<ScenarioOutcome> {
    const events = ctx.options.webhookEvents;
    const one = await runWebhookBench(events, 1);
    const four = await runWebhookBench(events, 4);
    return {
      parameters: { events, webhooks: [1, 4] },
      figures: { one, four },
      rows: [
        {
          measure: "events/s to one webhook (in order, signed)",
          value: `${fmt.rate(one.deliveriesPerSecond)} (${fmt.int(events)} events)`,
        },
        {
          measure: "deliveries/s to four webhooks at once",
          value: `${fmt.rate(four.deliveriesPerSecond)} (${fmt.int(events * 4)} deliveries)`,
        },
      ],
    };
  },
};
