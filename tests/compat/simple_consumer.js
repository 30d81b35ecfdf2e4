'use strict';
// SimpleConsumer of --group on --topics (comma list; --tag filters, default "*"). Receives until
// --expect distinct messages are acked, then keeps receiving for --idle-ms to catch extras
// (duplicates, filtered tags, rolled-back messages). Prints "received", "acked", "changed",
// "held" lines; the harness asserts exact sets and attempts.
//   --mode ack (default): ack every delivery
//          redeliver: hold (never ack) attempt 1, ack the redelivery (deliveryAttempt 2)
//          change-invisible: attempt 1 -> changeInvisibleDuration(--change-ms, default 1000);
//                 attempt 2 -> changeInvisibleDuration(30000), then ack with the refreshed handle
//   --invisible-ms (default 15000)  --batch (default 16)
//   --check-fifo 1: bodies "<group>:<seq>" must arrive in seq order per message group
//   --check-delay 1: no message may arrive before its delivery timestamp
const { run, emit, view, sleep } = require('./lib/scenario');

run(async ctx => {
  const topics = ctx.list('topics', ctx.str('topic', ''));
  if (topics.length === 0) throw new Error('--topics (or --topic) is required');
  const tag = ctx.str('tag', '*');
  const expect = ctx.int('expect', 0);
  const idleMs = ctx.int('idle-ms', 0);
  const mode = ctx.str('mode', 'ack');
  const invisibleMs = ctx.int('invisible-ms', 15000);
  const changeMs = ctx.int('change-ms', 1000);
  const batch = ctx.int('batch', 16);
  const checkFifo = ctx.str('check-fifo', '0') === '1';
  const checkDelay = ctx.str('check-delay', '0') === '1';
  if (![ 'ack', 'redeliver', 'change-invisible' ].includes(mode)) throw new Error(`unknown --mode ${mode}`);

  const subscriptions = new Map(topics.map(t => [ t, tag ]));
  const consumer = await ctx.simpleConsumer(subscriptions);
  const acked = new Set();
  const nextSeq = new Map();
  let idleUntil = expect === 0 ? Date.now() + idleMs : 0;
  const t0 = Date.now();
  let doneMs = 0;

  const ack = async (mv, rec) => {
    await consumer.ack(mv);
    acked.add(rec.id);
    emit('acked', { id: rec.id, attempt: rec.attempt });
  };

  while (acked.size < expect || Date.now() < idleUntil) {
    const asked = Date.now();
    const messages = await consumer.receive(batch, invisibleMs);
    // A server that answers an empty receive at once (no long polling) must not make this a
    // busy loop; with long polling the empty answer takes --await-ms and this never waits.
    if (messages.length === 0 && Date.now() - asked < 50) await sleep(50);
    for (const mv of messages) {
      const rec = view(mv);
      emit('received', rec);
      if (rec.corrupted) throw new Error(`message ${rec.id} arrived corrupted (body digest mismatch)`);
      if (checkDelay && rec.delivery_ms > 0 && rec.at_ms < rec.delivery_ms) {
        throw new Error(`message ${rec.id} arrived ${rec.delivery_ms - rec.at_ms} ms before its delivery time`);
      }
      if (checkFifo) {
        const [ group, seqText ] = rec.body.split(':');
        const seq = Number(seqText);
        const want = nextSeq.get(group) ?? 0;
        if (seq > want) throw new Error(`FIFO order broken in group ${group}: got ${seq}, expected ${want}`);
        if (seq === want) nextSeq.set(group, want + 1);
      }
      if (mode === 'ack' || rec.attempt >= 2) {
        if (mode === 'change-invisible') {
          // Extend, then ack with the handle the extension returned (the SDK swaps it in).
          await consumer.changeInvisibleDuration(mv, 30000);
          emit('changed', { id: rec.id, old_handle: rec.handle, new_handle: mv.receiptHandle, ms: 30000 });
        }
        await ack(mv, rec);
      } else if (mode === 'redeliver') {
        emit('held', { id: rec.id, attempt: rec.attempt });
      } else {
        await consumer.changeInvisibleDuration(mv, changeMs);
        emit('changed', { id: rec.id, old_handle: rec.handle, new_handle: mv.receiptHandle, ms: changeMs });
      }
    }
    if (idleUntil === 0 && acked.size >= expect) {
      doneMs = Date.now() - t0;
      idleUntil = Date.now() + idleMs;
    }
  }
  // Rate of the receive + ack loop up to the expected count (the benchmark reads it).
  emit('done', { acked: acked.size, ms: doneMs, per_sec: doneMs > 0 ? Math.round(expect * 1000 / doneMs) : 0 });
});
