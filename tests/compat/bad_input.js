'use strict';
// Bad input must give the documented error, never a crash of client or broker.
//   --case unknown-topic: a producer without topics sends to --topic (which must not exist, with
//          autoCreateTopicEnable=false) -> NotFoundException (TOPIC_NOT_FOUND 40402); a producer
//          created with that topic fails startup with the same error inside its cause chain.
//   --case oversized: a producer without topics (the SDK's 4 MiB default limit still applies)
//          sends a --body-size body above the broker's maxMessageSize -> PayloadTooLargeException
//          (41301 MESSAGE_BODY_TOO_LARGE or 41300); then a small message on the same producer
//          succeeds (client and broker still healthy).
// Prints one "rejected" line per expected failure with the error chain; exits 1 if a call that
// should fail succeeds or fails differently.
const { run, emit, describeError, sdk } = require('./lib/scenario');

async function expectRejection(what, promise, accept) {
  try {
    await promise;
  } catch (err) {
    const described = describeError(err);
    emit('rejected', { what, ...described });
    if (!described.chain.some(accept)) {
      throw new Error(`${what}: unexpected error ${JSON.stringify(described.chain)}`);
    }
    return;
  }
  throw new Error(`${what}: succeeded but should have failed`);
}

run(async ctx => {
  const topic = ctx.str('topic');
  const which = ctx.str('case');
  if (which === 'unknown-topic') {
    const notFound = e => e.name === 'NotFoundException' && e.code === 40402;
    const producer = await ctx.producer();
    await expectRejection('send to unknown topic',
      producer.send({ topic, body: Buffer.from('x') }), notFound);
    const withTopic = new sdk.Producer({ ...ctx.base(), topics: [ topic ] });
    await expectRejection('startup with unknown topic', withTopic.startup(), notFound);
  } else if (which === 'oversized') {
    const tooLarge = e => e.name === 'PayloadTooLargeException' && (e.code === 41301 || e.code === 41300);
    const producer = await ctx.producer();
    const size = ctx.int('body-size');
    await expectRejection(`send of a ${size}-byte body`,
      producer.send({ topic, body: Buffer.alloc(size, 'x') }), tooLarge);
    const receipt = await producer.send({ topic, body: Buffer.from('small after oversized') });
    emit('sent', { id: receipt.messageId, body: 'small after oversized' });
  } else {
    throw new Error(`unknown --case ${which}`);
  }
  emit('done', {});
});
