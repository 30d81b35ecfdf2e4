// Sends N messages (argv[2], default 10) to MQ_TOPIC through the broker's v2 endpoint.
'use strict';
const { Producer } = require('rocketmq-client-nodejs');
const { endpoints, topic, logger } = require('./common');

async function main() {
  const count = Number(process.argv[2] || 10);
  const producer = new Producer({ endpoints, topic, logger });
  await producer.startup();
  for (let i = 0; i < count; i++) {
    const receipt = await producer.send({
      topic,
      tag: 'nodejs',
      keys: [`key-${i}`],
      body: Buffer.from(`hello ${i} from Node.js`),
    });
    console.log(`sent ${receipt.messageId} (queue offset ${receipt.offset})`);
  }
  await producer.shutdown();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
