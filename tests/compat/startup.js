'use strict';
// Start-up with several topics (the 1.0.8 SDK's Settings race: its Settings reply wait hangs for
// 5 minutes unless the server re-sends Settings). Starts a Producer and a SimpleConsumer on all
// --topics, each under --startup-timeout-ms, sends one message per topic and receives them all.
const { run, emit, view, waitFor } = require('./lib/scenario');

run(async ctx => {
  const topics = ctx.list('topics');
  const producer = await ctx.producer({ topics });
  const consumer = await ctx.simpleConsumer(new Map(topics.map(t => [ t, '*' ])));
  const sent = new Map();
  for (const topic of topics) {
    const receipt = await producer.send({ topic, body: Buffer.from(`hello ${topic}`) });
    sent.set(receipt.messageId, topic);
    emit('sent', { id: receipt.messageId, topic, body: `hello ${topic}` });
  }
  const got = new Set();
  await waitFor(`one message on each of ${topics.length} topics`, async () => {
    for (const mv of await consumer.receive(16, 15000)) {
      const rec = view(mv);
      emit('received', rec);
      await consumer.ack(mv);
      got.add(rec.id);
    }
    return [ ...sent.keys() ].every(id => got.has(id));
  }, ctx.int('timeout-ms', 20000));
  emit('done', { topics: topics.length, received: got.size });
});
