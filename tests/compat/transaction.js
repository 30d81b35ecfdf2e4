'use strict';
// Transactional producer on --topic: sends --count messages, each in its own transaction (the
// 1.0.8 SDK allows one message per transaction), and then
//   --mode commit | rollback: ends each transaction itself;
//          check: leaves them open and waits until the broker's check-back reaches the
//          TransactionChecker (which answers COMMIT) and the SDK's EndTransaction(SERVER_CHECK)
//          for every message has completed.
// Prints "sent" per message, "checked" per checker call and "ended" per EndTransaction.
const { run, emit, waitFor, sdk } = require('./lib/scenario');
const { TransactionResolution, TransactionSource } =
  require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb');

run(async ctx => {
  const topic = ctx.str('topic');
  const count = ctx.int('count', 1);
  const mode = ctx.str('mode', 'commit');
  const prefix = ctx.str('prefix', 'tx');
  if (![ 'commit', 'rollback', 'check' ].includes(mode)) throw new Error(`unknown --mode ${mode}`);

  const checked = new Set();
  const ended = new Set();
  const checker = {
    async check(mv) {
      checked.add(mv.messageId);
      emit('checked', { id: mv.messageId, body: mv.body.toString('utf8'), resolution: 'COMMIT' });
      return TransactionResolution.COMMIT;
    },
  };
  const producer = await ctx.producer({ topics: [ topic ], checker });
  // Observe EndTransaction completions (the SDK calls this method for client and check-back ends).
  const endTransaction = producer.endTransaction.bind(producer);
  producer.endTransaction = async (...args) => {
    await endTransaction(...args);
    const [ , , messageId, transactionId, resolution, source ] = args;
    ended.add(messageId);
    emit('ended', {
      id: messageId,
      transaction_id: transactionId,
      resolution: resolution === TransactionResolution.COMMIT ? 'COMMIT' : 'ROLLBACK',
      source: source === TransactionSource.SOURCE_SERVER_CHECK ? 'SERVER_CHECK' : 'CLIENT',
    });
  };

  for (let i = 0; i < count; i++) {
    const tx = producer.beginTransaction();
    const body = `${prefix}-${i}`;
    const receipt = await producer.send({ topic, body: Buffer.from(body), keys: [ `${prefix}-key-${i}` ] }, tx);
    if (!receipt.transactionId) throw new Error(`send of ${body} returned no transaction id`);
    emit('sent', { id: receipt.messageId, body, transaction_id: receipt.transactionId });
    if (mode === 'commit') await tx.commit();
    if (mode === 'rollback') await tx.rollback();
  }
  if (mode === 'check') {
    await waitFor(`check-back of ${count} transactions`, () => ended.size >= count, ctx.int('timeout-ms', 20000));
  }
  emit('done', { sent: count, checked: checked.size, ended: ended.size });
});
