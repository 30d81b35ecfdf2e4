// Receives and acks until N messages (argv[2], default 10) arrived or 30 s passed.
'use strict';
const { SimpleConsumer } = require('rocketmq-client-nodejs');
const { endpoints, topic, logger } = require('./common');

async function main() {
  const want = Number(process.argv[2] || 10);
  const consumer = new SimpleConsumer({
    endpoints,
    logger,
    consumerGroup: process.env.MQ_GROUP || 'nodejs-simple-group',
    subscriptions: new Map([[topic, '*']]),
    awaitDuration: 5000,
  });
  await consumer.startup();
  let got = 0;
  const deadline = Date.now() + 30000;
  while (got < want && Date.now() < deadline) {
    for (const message of await consumer.receive(16, 30000)) {
      console.log(`received ${message.messageId}: ${message.body.toString()}`);
      await consumer.ack(message);
      got++;
    }
  }
  await consumer.shutdown();
  if (got < want) throw new Error(`received ${got} of ${want} messages`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
