'use strict';
// PushConsumer of --group on --topics (--tag filter, default "*"). Prints "received" per listener
// call and "consumed" per SUCCESS; stops --idle-ms after --expect distinct messages succeeded.
//   --mode success (default): every call returns SUCCESS
//          fail-once: a message's first delivery returns FAILURE (the SDK nacks it with
//          ChangeInvisibleDuration), later deliveries return SUCCESS
const { run, emit, view, waitFor, sleep, sdk } = require('./lib/scenario');

run(async ctx => {
  const topics = ctx.list('topics', ctx.str('topic', ''));
  if (topics.length === 0) throw new Error('--topics (or --topic) is required');
  const tag = ctx.str('tag', '*');
  const expect = ctx.int('expect', 0);
  const idleMs = ctx.int('idle-ms', 0);
  const mode = ctx.str('mode', 'success');
  if (![ 'success', 'fail-once' ].includes(mode)) throw new Error(`unknown --mode ${mode}`);

  const consumed = new Set();
  const failed = new Set();
  const listener = {
    consume(mv) {
      const rec = view(mv);
      emit('received', rec);
      if (mode === 'fail-once' && !failed.has(rec.id)) {
        failed.add(rec.id);
        emit('failed', { id: rec.id, attempt: rec.attempt });
        return sdk.ConsumeResult.FAILURE;
      }
      consumed.add(rec.id);
      emit('consumed', { id: rec.id, attempt: rec.attempt });
      return sdk.ConsumeResult.SUCCESS;
    },
  };
  await ctx.pushConsumer(new Map(topics.map(t => [ t, tag ])), listener);
  await waitFor(`${expect} consumed messages`, () => consumed.size >= expect, ctx.int('timeout-ms', 20000));
  // Watching for extras (duplicates after SUCCESS) needs time to pass, not a condition.
  if (idleMs > 0) await sleep(idleMs);
  emit('done', { consumed: consumed.size });
});
