// Consumes until N messages (argv[2], default 10) arrived or 30 s passed, then shuts down.
// The SDK's PushConsumer.shutdown() first waits for its in-flight long poll (up to the broker's
// 20 s), and afterwards a file-logger timer of the SDK keeps Node running: exit explicitly.
'use strict';
const { PushConsumer, ConsumeResult } = require('rocketmq-client-nodejs');
const { endpoints, topic, logger } = require('./common');

async function main() {
  const want = Number(process.argv[2] || 10);
  let got = 0;
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  const consumer = new PushConsumer({
    endpoints,
    logger,
    consumerGroup: process.env.MQ_GROUP || 'nodejs-push-group',
    subscriptions: new Map([[topic, '*']]),
    messageListener: {
      async consume(message) {
        console.log(`consumed ${message.messageId}: ${message.body.toString()}`);
        if (++got >= want) done();
        return ConsumeResult.SUCCESS;
      },
    },
  });
  await consumer.startup();
  const timer = setTimeout(done, 30000);
  await finished;
  clearTimeout(timer);
  await consumer.shutdown();
  if (got < want) throw new Error(`consumed ${got} of ${want} messages`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  });
