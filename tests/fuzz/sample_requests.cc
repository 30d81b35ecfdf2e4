#include "sample_requests.h"

#include "mq/v1/admin.pb.h"
#include "mq/v1/broker.pb.h"
#include "mq/v1/namesrv.pb.h"

namespace mq::fuzz {

const std::vector<std::string> kBrokerMethods = {
    "/mq.v1.Messaging/SendMessage",
    "/mq.v1.Messaging/PullMessage",
    "/mq.v1.Messaging/QueryConsumerOffset",
    "/mq.v1.Messaging/UpdateConsumerOffset",
    "/mq.v1.Messaging/GetQueueOffsets",
    "/mq.v1.Messaging/SearchOffset",
    "/mq.v1.Messaging/Heartbeat",
    "/mq.v1.Messaging/UnregisterClient",
    "/mq.v1.Messaging/GetConsumerIds",
    "/mq.v1.Messaging/LockBatchQueues",
    "/mq.v1.Messaging/UnlockBatchQueues",
    "/mq.v1.BrokerAdmin/CreateTopic",
    "/mq.v1.BrokerAdmin/DeleteTopic",
    "/mq.v1.BrokerAdmin/GetTopicConfig",
    "/mq.v1.BrokerAdmin/GetTopicStats",
    "/mq.v1.BrokerAdmin/CreateSubscriptionGroup",
    "/mq.v1.BrokerAdmin/DeleteSubscriptionGroup",
    "/mq.v1.BrokerAdmin/GetSubscriptionGroups",
    "/mq.v1.BrokerAdmin/GetConsumeStats",
    "/mq.v1.BrokerAdmin/GetConsumerConnections",
    "/mq.v1.BrokerAdmin/GetProducerConnections",
    "/mq.v1.BrokerAdmin/GetBrokerRuntimeInfo",
    "/mq.v1.BrokerAdmin/QueryMessage",
    "/mq.v1.BrokerAdmin/ResetOffsetByTimestamp",
    "/mq.v1.BrokerAdmin/GetBrokerConfig",
    "/mq.v1.BrokerAdmin/UpdateBrokerConfig",
    "/mq.v1.Messaging/EndTransaction",
    "/mq.v1.Messaging/QueryTransactionHalf",
};

const std::vector<std::string> kNamesrvMethods = {
    "/mq.v1.NameServer/RegisterBroker",  // a client stream; the others are unary
    "/mq.v1.NameServer/Heartbeat",        "/mq.v1.NameServer/UnregisterBroker",
    "/mq.v1.NameServer/QueryRoute",       "/mq.v1.NameServer/GetClusterInfo",
    "/mq.v1.NameServer/GetAllTopics",     "/mq.v1.NameServer/DeleteTopic",
    "/mq.v1.NameServer/WipeWritePerm",    "/mq.v1.NameServer/AddWritePerm",
    "/mq.v1.NameServer/PutKvConfig",      "/mq.v1.NameServer/GetKvConfig",
    "/mq.v1.NameServer/DeleteKvConfig",   "/mq.v1.NameServer/GetKvList",
    "/mq.v1.NameServer/GetNamesrvConfig",
};

namespace {

int BrokerIndex(const std::string& method) {
  for (size_t i = 0; i < kBrokerMethods.size(); ++i) {
    if (kBrokerMethods[i].ends_with("/" + method)) return static_cast<int>(i);
  }
  return -1;
}

int NamesrvIndex(const std::string& method) {
  for (size_t i = 0; i < kNamesrvMethods.size(); ++i) {
    if (kNamesrvMethods[i].ends_with("/" + method)) return static_cast<int>(i);
  }
  return -1;
}

void Queue(mq::v1::QueueRef* q, const std::string& topic) {
  q->set_topic(topic);
  q->set_queue_id(0);
}

}  // namespace

std::vector<SampleRequest> BrokerSamples(const std::string& topic, const std::string& group) {
  std::vector<SampleRequest> out;
  auto add = [&out](const char* method, const google::protobuf::Message& m) {
    out.push_back({BrokerIndex(method), m.SerializeAsString()});
  };
  const std::string client_id = "127.0.0.1@fuzz";
  {
    mq::v1::SendMessageRequest r;
    r.set_producer_group(group);
    r.set_topic(topic);
    r.set_default_topic_queue_nums(4);
    auto* m = r.add_messages();
    m->set_topic(topic);
    m->set_tags("TagA");
    m->add_keys("key-1");
    m->set_body("hello fuzz");
    (*m->mutable_user_properties())["color"] = "blue";
    m->set_born_timestamp(1700000000000);
    m->set_born_host("127.0.0.1:40000");
    m->set_unique_key("7F0000010000000000000001");  // as producers send it: the broker's wire path
    add("SendMessage", r);
  }
  {
    mq::v1::PullMessageRequest r;
    r.set_consumer_group(group);
    r.set_topic(topic);
    r.set_max_msg_nums(32);
    r.set_subscription("TagA || TagB");
    r.set_has_commit_offset(true);
    r.set_commit_offset(0);
    r.set_client_id(client_id);
    add("PullMessage", r);
  }
  {
    mq::v1::QueryConsumerOffsetRequest r;
    r.set_consumer_group(group);
    Queue(r.mutable_queue(), topic);
    add("QueryConsumerOffset", r);
    mq::v1::UpdateConsumerOffsetRequest u;
    u.set_consumer_group(group);
    Queue(u.mutable_queue(), topic);
    u.set_offset(1);
    add("UpdateConsumerOffset", u);
    mq::v1::GetQueueOffsetsRequest g;
    Queue(g.mutable_queue(), topic);
    add("GetQueueOffsets", g);
    mq::v1::SearchOffsetRequest s;
    Queue(s.mutable_queue(), topic);
    s.set_timestamp(1700000000000);
    add("SearchOffset", s);
  }
  {
    mq::v1::HeartbeatRequest r;
    r.set_client_id(client_id);
    r.add_producers()->set_group(group);
    auto* c = r.add_consumers();
    c->set_group(group);
    auto* sub = c->add_subscriptions();
    sub->set_topic(topic);
    sub->set_expression("*");
    add("Heartbeat", r);
    mq::v1::UnregisterClientRequest u;
    u.set_client_id(client_id);
    u.add_consumer_groups(group);
    add("UnregisterClient", u);
    mq::v1::GetConsumerIdsRequest g;
    g.set_consumer_group(group);
    add("GetConsumerIds", g);
  }
  {
    mq::v1::LockBatchRequest r;
    r.set_consumer_group(group);
    r.set_client_id(client_id);
    Queue(r.add_queues(), topic);
    add("LockBatchQueues", r);
    add("UnlockBatchQueues", r);
  }
  {
    mq::v1::CreateTopicRequest r;
    auto* t = r.mutable_config();
    t->set_topic_name(topic);
    t->set_read_queue_nums(4);
    t->set_write_queue_nums(4);
    t->set_perm(6);
    add("CreateTopic", r);
    mq::v1::DeleteTopicOnBrokerRequest d;
    d.set_topic(topic + "Gone");
    add("DeleteTopic", d);
    mq::v1::GetTopicConfigRequest g;
    g.set_topic(topic);
    add("GetTopicConfig", g);
    mq::v1::GetTopicStatsRequest s;
    s.set_topic(topic);
    add("GetTopicStats", s);
  }
  {
    mq::v1::CreateSubscriptionGroupRequest r;
    r.mutable_config()->set_group_name(group);
    r.mutable_config()->set_consume_enable(true);
    r.mutable_config()->set_retry_queue_nums(1);
    r.mutable_config()->set_retry_max_times(16);
    add("CreateSubscriptionGroup", r);
    mq::v1::DeleteSubscriptionGroupRequest d;
    d.set_group(group + "Gone");
    add("DeleteSubscriptionGroup", d);
    mq::v1::GetSubscriptionGroupsRequest g;
    add("GetSubscriptionGroups", g);
    mq::v1::GetConsumeStatsRequest s;
    s.set_group(group);
    s.set_topic(topic);
    add("GetConsumeStats", s);
    mq::v1::GetConnectionsRequest c;
    c.set_group(group);
    add("GetConsumerConnections", c);
    add("GetProducerConnections", c);
  }
  {
    add("GetBrokerRuntimeInfo", mq::v1::GetBrokerRuntimeInfoRequest());
    mq::v1::QueryMessageRequest q;
    q.set_topic(topic);
    q.set_key("key-1");
    q.set_max_num(8);
    q.set_end_timestamp(4102444800000);
    add("QueryMessage", q);
    mq::v1::ResetOffsetRequest r;
    r.set_group(group);
    r.set_topic(topic);
    r.set_timestamp(0);
    add("ResetOffsetByTimestamp", r);
    add("GetBrokerConfig", mq::v1::GetBrokerConfigRequest());
    mq::v1::UpdateBrokerConfigRequest u;
    (*u.mutable_config())["shortPollingTimeMills"] = "1000";
    add("UpdateBrokerConfig", u);
  }
  {
    mq::v1::EndTransactionRequest r;
    r.set_producer_group(group);
    r.set_transaction_id("7F0000010001000000000000000000AA");
    r.set_commit_log_offset(0);
    r.set_resolution(mq::v1::TRANSACTION_COMMIT);
    add("EndTransaction", r);
  }
  {
    mq::v1::QueryTransactionHalfRequest r;
    r.set_topic(topic);
    r.set_max_num(8);
    add("QueryTransactionHalf", r);
  }
  return out;
}

std::vector<SampleRequest> NamesrvSamples(const std::string& topic, const std::string& broker_addr) {
  std::vector<SampleRequest> out;
  auto add = [&out](const char* method, const google::protobuf::Message& m) {
    out.push_back({NamesrvIndex(method), m.SerializeAsString()});
  };
  mq::v1::BrokerIdentity broker;
  broker.set_cluster_name("FuzzCluster");
  broker.set_broker_name("fuzz-broker");
  broker.set_broker_id(0);
  broker.set_broker_addr(broker_addr);
  {
    mq::v1::RegisterBrokerChunk r;
    *r.mutable_broker() = broker;
    r.mutable_data_version()->set_timestamp(1700000000000);
    r.mutable_data_version()->set_counter(1);
    r.set_total_topics(1);
    auto* t = r.add_topic_configs();
    t->set_topic_name(topic);
    t->set_read_queue_nums(4);
    t->set_write_queue_nums(4);
    t->set_perm(6);
    add("RegisterBroker", r);
  }
  {
    mq::v1::BrokerHeartbeatRequest h;
    *h.mutable_broker() = broker;
    h.mutable_data_version()->set_counter(1);
    add("Heartbeat", h);
    mq::v1::UnregisterBrokerRequest u;
    *u.mutable_broker() = broker;
    u.mutable_broker()->set_broker_name("other-broker");
    add("UnregisterBroker", u);
  }
  {
    mq::v1::QueryRouteRequest q;
    q.set_topic(topic);
    add("QueryRoute", q);
    add("GetClusterInfo", mq::v1::GetClusterInfoRequest());
    mq::v1::GetAllTopicsRequest a;
    a.set_cluster("FuzzCluster");
    add("GetAllTopics", a);
    mq::v1::DeleteTopicRequest d;
    d.set_topic(topic + "Gone");
    add("DeleteTopic", d);
    mq::v1::WritePermRequest w;
    w.set_broker_name("other-broker");
    add("WipeWritePerm", w);
    add("AddWritePerm", w);
  }
  {
    mq::v1::KvConfigRequest kv;
    kv.set_namespace_("ORDER_TOPIC_CONFIG");
    kv.set_key(topic);
    kv.set_value("fuzz-broker:4");
    add("PutKvConfig", kv);
    add("GetKvConfig", kv);
    kv.set_key(topic + "Gone");
    add("DeleteKvConfig", kv);
    mq::v1::GetKvListRequest l;
    l.set_namespace_("ORDER_TOPIC_CONFIG");
    add("GetKvList", l);
    add("GetNamesrvConfig", mq::v1::GetNamesrvConfigRequest());
  }
  return out;
}

}  // namespace mq::fuzz
