// nats_bench: the NATS JetStream side of tools/benchmark/peers.sh (docs/benchmarks.md).
// Built by peers.sh with cc and Debian's libnats-dev; not part of the CMake build, so neither
// the default build nor CI needs libnats.
//
//   nats_bench pub   -s URL --stream S --subject bench.x -w 2 --pending 4096 -b 1024 -d 10 [--count N]
//   nats_bench fetch -s URL --stream S --subject bench.x --durable D --batch 500 --count N [-d 60]
//
// pub:   creates the stream (file storage, server defaults otherwise) if it does not exist, then
//        runs W publisher threads, each on its own connection, publishing with
//        js_PublishAsync and at most --pending unacknowledged messages per publisher (the
//        library blocks the publisher at that bound). A message counts only when its publish
//        ack (jsPubAck from the stream) arrives; errors and timeouts count as failed. The clock
//        stops after the last outstanding ack, as mqbench's does after its last callback.
// fetch: one connection, a durable pull consumer (explicit ack) from the first message,
//        natsSubscription_Fetch of --batch messages at a time; every message is acked
//        (natsMsg_Ack, fire and forget, flushed before the clock stops). The clock starts
//        before the consumer is created, as mqbench consumer's starts before its consumer does.
//
// Both end with one JSON line on stdout: {"mode":..,"messages":<acked or received>,"failed":..,
// "seconds":..,"msgs_per_sec":..}. Exit code 0 only if nothing failed (pub) or --count was
// reached (fetch). Threads: the publisher threads; libnats's own threads call the ack handler
// (counters are atomics). Point it only at servers on this machine.
#include <errno.h>
#include <getopt.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  const char* url;
  const char* stream;
  const char* subject;
  const char* durable;
  int publishers;
  int64_t pending;
  int body_bytes;
  double seconds;
  int64_t count;
  int batch;
} Params;

typedef struct {
  const Params* p;
  const char* body;
  double deadline;
  atomic_llong claimed;  // messages handed to js_PublishAsync (for --count)
  atomic_llong acked;
  atomic_llong failed;
  atomic_int setup_errors;
} PubShared;

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void Die(const char* what, natsStatus s) {
  fprintf(stderr, "nats_bench: %s: %s\n", what, natsStatus_GetText(s));
  exit(2);
}

// Whole-string numbers only, in [lo, hi]; a bad value names its option and exits.
static long long ParseInt(const char* option, const char* text, long long lo, long long hi) {
  char* end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "nats_bench: %s must be an integer in [%lld, %lld], got '%s'\n", option, lo, hi, text);
    exit(2);
  }
  return v;
}

static double ParseSeconds(const char* text) {
  char* end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(v >= 0 && v <= 86400)) {
    fprintf(stderr, "nats_bench: --duration must be seconds in [0, 86400], got '%s'\n", text);
    exit(2);
  }
  return v;
}

static void Usage(void) {
  fprintf(stderr,
          "usage: nats_bench pub|fetch -s URL --stream NAME --subject SUBJ [-w PUBLISHERS] [--pending N]\n"
          "                 [-b BODY_BYTES] [-d SECONDS] [--count N] [--durable NAME] [--batch N]\n");
  exit(2);
}

// Runs on libnats's ack-subscription thread; the message is ours to destroy.
static void OnPubAck(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  (void)js;
  PubShared* sh = closure;
  if (pa != NULL && pae == NULL) {
    atomic_fetch_add(&sh->acked, 1);
  } else {
    atomic_fetch_add(&sh->failed, 1);
  }
  natsMsg_Destroy(msg);
}

static bool Claim(PubShared* sh) {
  if (Now() >= sh->deadline) return false;
  if (sh->p->count <= 0) return true;
  return atomic_fetch_add(&sh->claimed, 1) < sh->p->count;
}

static void* Publisher(void* arg) {
  PubShared* sh = arg;
  natsConnection* nc = NULL;
  jsCtx* js = NULL;
  jsOptions jo;
  natsStatus s = natsConnection_ConnectTo(&nc, sh->p->url);
  if (s == NATS_OK) s = jsOptions_Init(&jo);
  if (s == NATS_OK) {
    jo.PublishAsync.MaxPending = sh->p->pending;
    jo.PublishAsync.AckHandler = OnPubAck;
    jo.PublishAsync.AckHandlerClosure = sh;
    // At MaxPending the publisher waits for acks; a short stall would turn a slow ack into a
    // publish error instead of backpressure.
    jo.PublishAsync.StallWait = 30000;
    s = natsConnection_JetStream(&js, nc, &jo);
  }
  if (s != NATS_OK) {
    fprintf(stderr, "nats_bench: publisher setup: %s\n", natsStatus_GetText(s));
    atomic_fetch_add(&sh->setup_errors, 1);
    natsConnection_Destroy(nc);
    return NULL;
  }
  while (Claim(sh)) {
    s = js_PublishAsync(js, sh->p->subject, sh->body, sh->p->body_bytes, NULL);
    if (s != NATS_OK) {  // not handed over, so no ack will come for it
      atomic_fetch_add(&sh->failed, 1);
      if (s == NATS_CONNECTION_CLOSED) break;
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 60000;
  s = js_PublishAsyncComplete(js, &po);
  if (s != NATS_OK) {
    // Whatever is still pending never got its ack: count it as failed.
    natsMsgList pending = {0};
    if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) {
      atomic_fetch_add(&sh->failed, pending.Count);
      natsMsgList_Destroy(&pending);
    }
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return NULL;
}

static void EnsureStream(const Params* p) {
  natsConnection* nc = NULL;
  jsCtx* js = NULL;
  natsStatus s = natsConnection_ConnectTo(&nc, p->url);
  if (s != NATS_OK) Die("connect", s);
  if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK) Die("jetstream context", s);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = p->stream;
  const char* subjects[1] = {p->subject};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsStreamInfo* si = NULL;
  jsErrCode jerr = 0;
  s = js_AddStream(&si, js, &cfg, NULL, &jerr);
  if (s != NATS_OK && jerr != JSStreamNameExistErr) {
    fprintf(stderr, "nats_bench: add stream %s (jerr %d): %s\n", p->stream, (int)jerr, natsStatus_GetText(s));
    exit(2);
  }
  jsStreamInfo_Destroy(si);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

static int RunPub(const Params* p) {
  EnsureStream(p);
  char* body = malloc((size_t)p->body_bytes);
  if (body == NULL) Die("malloc", NATS_NO_MEMORY);
  memset(body, 'x', (size_t)p->body_bytes);
  PubShared sh = {.p = p, .body = body};
  atomic_init(&sh.claimed, 0);
  atomic_init(&sh.acked, 0);
  atomic_init(&sh.failed, 0);
  atomic_init(&sh.setup_errors, 0);
  double start = Now();
  sh.deadline = p->seconds > 0 ? start + p->seconds : 1e300;
  pthread_t* threads = calloc((size_t)p->publishers, sizeof(pthread_t));
  if (threads == NULL) Die("calloc", NATS_NO_MEMORY);
  for (int i = 0; i < p->publishers; ++i) pthread_create(&threads[i], NULL, Publisher, &sh);
  for (int i = 0; i < p->publishers; ++i) pthread_join(threads[i], NULL);
  double secs = Now() - start;
  long long acked = atomic_load(&sh.acked);
  long long failed = atomic_load(&sh.failed) + atomic_load(&sh.setup_errors);
  printf(
      "{\"mode\":\"pub\",\"messages\":%lld,\"failed\":%lld,\"seconds\":%.3f,\"msgs_per_sec\":%.1f,"
      "\"publishers\":%d,\"pending\":%lld,\"body_bytes\":%d}\n",
      acked, failed, secs, secs > 0 ? (double)acked / secs : 0.0, p->publishers, (long long)p->pending,
      p->body_bytes);
  free(threads);
  free(body);
  return failed == 0 && acked > 0 ? 0 : 1;
}

static int RunFetch(const Params* p) {
  if (p->count <= 0) {
    fprintf(stderr, "nats_bench: fetch needs --count (the backlog to drain)\n");
    exit(2);
  }
  double start = Now();
  double deadline = start + (p->seconds > 0 ? p->seconds : 60);
  natsConnection* nc = NULL;
  jsCtx* js = NULL;
  natsSubscription* sub = NULL;
  natsStatus s = natsConnection_ConnectTo(&nc, p->url);
  if (s != NATS_OK) Die("connect", s);
  if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK) Die("jetstream context", s);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = p->stream;
  so.Config.AckPolicy = js_AckExplicit;
  so.Config.DeliverPolicy = js_DeliverAll;
  // The server's default (1,000 unacked) would stall a batch-500 fetcher whose acks are still
  // in flight; the pull requests themselves bound what is outstanding.
  so.Config.MaxAckPending = -1;
  jsErrCode jerr = 0;
  if ((s = js_PullSubscribe(&sub, js, p->subject, p->durable, NULL, &so, &jerr)) != NATS_OK) {
    fprintf(stderr, "nats_bench: pull subscribe (jerr %d): %s\n", (int)jerr, natsStatus_GetText(s));
    exit(2);
  }
  long long received = 0;
  long long bad = 0;
  while (received < p->count && Now() < deadline) {
    natsMsgList list = {0};
    int want = p->batch;
    if (p->count - received < want) want = (int)(p->count - received);
    s = natsSubscription_Fetch(&list, sub, want, 2000, &jerr);
    if (s == NATS_TIMEOUT) continue;  // nothing yet; the deadline bounds the loop
    if (s != NATS_OK) {
      fprintf(stderr, "nats_bench: fetch (jerr %d): %s\n", (int)jerr, natsStatus_GetText(s));
      break;
    }
    for (int i = 0; i < list.Count; ++i) {
      if (natsMsg_GetDataLength(list.Msgs[i]) != p->body_bytes) ++bad;
      if (natsMsg_Ack(list.Msgs[i], NULL) == NATS_OK) {
        ++received;
      } else {
        ++bad;
      }
    }
    natsMsgList_Destroy(&list);
  }
  natsConnection_FlushTimeout(nc, 10000);  // the acks are out before the clock stops
  double secs = Now() - start;
  printf(
      "{\"mode\":\"fetch\",\"messages\":%lld,\"failed\":%lld,\"seconds\":%.3f,\"msgs_per_sec\":%.1f,"
      "\"batch\":%d}\n",
      received, bad, secs, secs > 0 ? (double)received / secs : 0.0, p->batch);
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return received >= p->count && bad == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc < 2) Usage();
  const char* mode = argv[1];
  Params p = {.url = "nats://127.0.0.1:4222",
              .stream = "BENCH",
              .subject = "bench.x",
              .durable = "bench",
              .publishers = 2,
              .pending = 4096,
              .body_bytes = 1024,
              .seconds = 10,
              .count = 0,
              .batch = 500};
  static const struct option kLong[] = {{"server", required_argument, NULL, 's'},
                                        {"stream", required_argument, NULL, 'S'},
                                        {"subject", required_argument, NULL, 'j'},
                                        {"durable", required_argument, NULL, 'D'},
                                        {"publishers", required_argument, NULL, 'w'},
                                        {"pending", required_argument, NULL, 'P'},
                                        {"bytes", required_argument, NULL, 'b'},
                                        {"duration", required_argument, NULL, 'd'},
                                        {"count", required_argument, NULL, 'n'},
                                        {"batch", required_argument, NULL, 'B'},
                                        {NULL, 0, NULL, 0}};
  optind = 2;
  int c;
  while ((c = getopt_long(argc, argv, "s:w:b:d:", kLong, NULL)) != -1) {
    switch (c) {
      case 's':
        p.url = optarg;
        break;
      case 'S':
        p.stream = optarg;
        break;
      case 'j':
        p.subject = optarg;
        break;
      case 'D':
        p.durable = optarg;
        break;
      case 'w':
        p.publishers = (int)ParseInt("--publishers", optarg, 1, 256);
        break;
      case 'P':
        p.pending = ParseInt("--pending", optarg, 1, 1 << 20);
        break;
      case 'b':
        p.body_bytes = (int)ParseInt("--bytes", optarg, 1, 1 << 20);
        break;
      case 'd':
        p.seconds = ParseSeconds(optarg);
        break;
      case 'n':
        p.count = ParseInt("--count", optarg, 0, 1LL << 40);
        break;
      case 'B':
        p.batch = (int)ParseInt("--batch", optarg, 1, 100000);
        break;
      default:
        Usage();
    }
  }
  if (optind != argc) Usage();
  if (p.seconds == 0 && p.count == 0) {
    fprintf(stderr, "nats_bench: give --duration or --count (or both), or it would never stop\n");
    return 2;
  }
  int rc;
  if (strcmp(mode, "pub") == 0) {
    rc = RunPub(&p);
  } else if (strcmp(mode, "fetch") == 0) {
    rc = RunFetch(&p);
  } else {
    Usage();
    return 2;
  }
  fflush(stdout);
  nats_Close();
  return rc;
}
