'use strict';
// Sends --count messages to --topic and prints one {"event":"sent"} line per message.
//   --mode normal (default) | fifo (messageGroup g0..g<groups-1>, round robin; body "<group>:<seq>")
//          | delay (deliveryTimestamp = now + --delay-ms)
//   --tags a,b,...  tags used round robin (default none)   --concurrency N  sends in flight
//   --prefix P      body prefix (default "m")               --body-size B  pad bodies to B bytes
const { run, emit } = require('./lib/scenario');

run(async ctx => {
  const topic = ctx.str('topic');
  const count = ctx.int('count', 10);
  const mode = ctx.str('mode', 'normal');
  const tags = ctx.list('tags', '');
  const groups = ctx.int('groups', 3);
  const delayMs = ctx.int('delay-ms', 2000);
  const concurrency = Math.max(1, ctx.int('concurrency', 1));
  const prefix = ctx.str('prefix', 'm');
  const bodySize = ctx.int('body-size', 0);
  if (![ 'normal', 'fifo', 'delay' ].includes(mode)) throw new Error(`unknown --mode ${mode}`);

  const producer = await ctx.producer({ topics: [ topic ] });
  const perGroupSeq = new Map();
  let next = 0;
  const sendOne = async () => {
    const i = next++;
    const message = { topic, keys: [ `${prefix}-key-${i}` ] };
    let body = `${prefix}-${i}`;
    if (tags.length > 0) message.tag = tags[i % tags.length];
    if (mode === 'fifo') {
      const group = `g${i % groups}`;
      const seq = perGroupSeq.get(group) ?? 0;
      perGroupSeq.set(group, seq + 1);
      message.messageGroup = group;
      body = `${group}:${seq}`;
    } else if (mode === 'delay') {
      message.deliveryTimestamp = new Date(Date.now() + delayMs);
    }
    if (bodySize > body.length) body = body.padEnd(bodySize, '.');
    message.body = Buffer.from(body);
    const receipt = await producer.send(message);
    emit('sent', {
      id: receipt.messageId,
      body: bodySize > 0 ? body.slice(0, 64) : body,
      tag: message.tag ?? '',
      group: message.messageGroup ?? '',
      delivery_ms: message.deliveryTimestamp ? message.deliveryTimestamp.getTime() : 0,
      offset: receipt.offset,
    });
  };
  // FIFO order is defined by send order, so FIFO sends are always sequential.
  const lanes = mode === 'fifo' ? 1 : Math.min(concurrency, count);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < count) await sendOne();
  }));
  const ms = Date.now() - t0;
  emit('done', { sent: count, ms, per_sec: ms > 0 ? Math.round(count * 1000 / ms) : count });
});
