'use strict';
// Shared plumbing for the compat scenarios (tests/compat/*.js). Each scenario is a small CLI run
// by the ctest harness (compat_*_test.cc) with the real rocketmq-client-nodejs@1.0.8 against real
// mqnamesrv + mqbroker processes. Contract with the harness:
//   * options come as `--key value` pairs (or MQ_COMPAT_<KEY> environment variables);
//   * stdout carries one JSON object per line ({"event": ...}); nothing else goes to stdout;
//   * the SDK's own log goes to stderr (warn/error only unless --verbose 1), never to
//     ~/logs/rocketmq (the SDK default), so runs leave nothing behind;
//   * exit 0 = the scenario's own checks passed, 1 = a check or call failed, 2 = the scenario
//     deadline passed, 3 = an uncaught exception escaped the SDK (a client crash).
// Every wait is bounded: --timeout-ms caps the whole run.

const { format } = require('node:util');
const sdk = require('rocketmq-client-nodejs');

function parseArgs(argv) {
  const opts = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('MQ_COMPAT_')) {
      opts[key.slice('MQ_COMPAT_'.length).toLowerCase().replace(/_/g, '-')] = value;
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument: ${arg}`);
    if (i + 1 >= argv.length) throw new Error(`missing value for ${arg}`);
    opts[arg.slice(2)] = argv[++i];
  }
  return opts;
}

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

function makeLogger(verbose) {
  const write = level => (...args) => {
    process.stderr.write(`[sdk ${level}] ${format(...args)}\n`);
  };
  const quiet = () => {};
  return { info: verbose ? write('info') : quiet, debug: quiet, warn: write('warn'), error: write('error') };
}

// Wraps the scenario: option parsing, the overall deadline, and the exit code contract above.
function run(main) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    emit('error', { where: 'arguments', message: err.message });
    process.exit(1);
  }
  const timeoutMs = intOpt(opts, 'timeout-ms', 20000);
  const timer = setTimeout(() => {
    emit('timeout', { after_ms: timeoutMs });
    process.exit(2);
  }, timeoutMs);
  timer.unref();
  process.on('uncaughtException', err => {
    emit('crash', describeError(err));
    process.exit(3);
  });
  process.on('unhandledRejection', err => {
    emit('crash', describeError(err));
    process.exit(3);
  });
  const ctx = new Context(opts);
  Promise.resolve()
    .then(() => main(ctx))
    .then(() => ctx.closeAll())
    .then(() => {
      emit('exit', { code: 0 });
      process.exit(0);
    }, async err => {
      emit('error', describeError(err));
      await ctx.closeAll().catch(() => {});
      process.exit(1);
    });
}

function intOpt(opts, key, fallback) {
  if (opts[key] === undefined) return fallback;
  const n = Number(opts[key]);
  if (!Number.isFinite(n)) throw new Error(`--${key} must be a number, got ${opts[key]}`);
  return n;
}

// The SDK nests the server's status deep in causes (startup wraps twice); report the chain.
function describeError(err) {
  const chain = [];
  for (let e = err, depth = 0; e && depth < 5; e = e.cause, depth++) {
    chain.push({ name: e.name || e.constructor?.name, code: e.code, message: String(e.message || e) });
  }
  return { name: chain[0]?.name, code: chain[0]?.code, message: chain[0]?.message, chain };
}

function view(mv) {
  return {
    id: mv.messageId,
    topic: mv.topic,
    body: mv.body.toString('utf8'),
    body_size: mv.body.length,
    tag: mv.tag ?? '',
    keys: mv.keys ?? [],
    group: mv.messageGroup ?? '',
    attempt: mv.deliveryAttempt ?? 0,
    delivery_ms: mv.deliveryTimestamp ? mv.deliveryTimestamp.getTime() : 0,
    born_ms: mv.bornTimestamp ? mv.bornTimestamp.getTime() : 0,
    corrupted: mv.corrupted,
    handle: mv.receiptHandle,
    properties: Object.fromEntries(mv.properties ?? []),
    at_ms: Date.now(),
  };
}

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

// Resolves when check() returns truthy, rejects after timeoutMs; polls every pollMs.
async function waitFor(what, check, timeoutMs, pollMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

// Races a promise against a deadline so a hanging SDK call names itself instead of hanging.
function within(what, promise, timeoutMs) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([ promise, timeout ]).finally(() => clearTimeout(timer));
}

class Context {
  constructor(opts) {
    this.opts = opts;
    this.clients = [];
    this.logger = makeLogger(opts.verbose === '1');
  }

  str(key, fallback) {
    const v = this.opts[key];
    if (v === undefined) {
      if (fallback === undefined) throw new Error(`--${key} is required`);
      return fallback;
    }
    return v;
  }

  int(key, fallback) {
    if (this.opts[key] === undefined && fallback === undefined) throw new Error(`--${key} is required`);
    return intOpt(this.opts, key, fallback);
  }

  list(key, fallback) {
    return this.str(key, fallback).split(',').filter(s => s.length > 0);
  }

  base() {
    return {
      endpoints: this.str('endpoints'),
      namespace: this.str('namespace', ''),
      requestTimeout: this.int('request-timeout-ms', 3000),
      logger: this.logger,
    };
  }

  // Starts an SDK client under a deadline and remembers it for shutdown at exit.
  async start(kind, client) {
    const t0 = Date.now();
    await within(`${kind} startup`, client.startup(), this.int('startup-timeout-ms', 10000));
    emit('started', { client: kind, ms: Date.now() - t0 });
    this.clients.push({ kind, client });
    return client;
  }

  producer(extra = {}) {
    return this.start('producer', new sdk.Producer({ ...this.base(), ...extra }));
  }

  simpleConsumer(subscriptions, extra = {}) {
    return this.start('simple-consumer', new sdk.SimpleConsumer({
      ...this.base(),
      consumerGroup: this.str('group'),
      subscriptions,
      awaitDuration: this.int('await-ms', 2000),
      ...extra,
    }));
  }

  pushConsumer(subscriptions, messageListener, extra = {}) {
    return this.start('push-consumer', new sdk.PushConsumer({
      ...this.base(),
      consumerGroup: this.str('group'),
      subscriptions,
      messageListener,
      ...extra,
    }));
  }

  // Shuts clients down in reverse start order; a rejected or hanging shutdown fails the run.
  async closeAll() {
    while (this.clients.length > 0) {
      const { kind, client } = this.clients.pop();
      const t0 = Date.now();
      await within(`${kind} shutdown`, client.shutdown(), this.int('shutdown-timeout-ms', 10000));
      emit('shutdown', { client: kind, ms: Date.now() - t0 });
    }
  }
}

module.exports = { sdk, run, emit, view, sleep, waitFor, within, describeError };
