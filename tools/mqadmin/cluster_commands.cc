// Cluster and broker verbs: clusterList, brokerStatus, getBrokerConfig, updateBrokerConfig,
// haStatus, wipeWritePerm, addWritePerm.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <tuple>

#include "admin_client.h"
#include "commands.h"
#include "common/naming.h"
#include "fan_out.h"
#include "output.h"

namespace mq::admin {
namespace {

using NS = mq::v1::NameServer::Stub;
using BA = mq::v1::BrokerAdmin::Stub;

// Verbs addressed by -b brokerAddr may run without a NameServer; -c needs one.
Result<std::unique_ptr<AdminClient>> ClientFor(const CommandArgs& a) {
  if (a.cluster.empty() && a.namesrv.empty() && std::getenv("NAMESRV_ADDR") == nullptr) {
    return AdminClient::CreateWithoutNamesrv();
  }
  return AdminClient::Create(a.namesrv);
}

std::string Get(const google::protobuf::Map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? "-" : it->second;
}

// One key/value map per broker, printed as a table or {"brokers":[{"brokerAddr":..,<name>:{..}}]}.
void PrintPerBroker(const std::vector<std::pair<std::string, std::map<std::string, std::string>>>& per_broker,
                    const std::string& name, bool json) {
  if (json) {
    Json arr = Json::Array();
    for (const auto& [addr, kv] : per_broker) {
      Json obj = Json::Object();
      for (const auto& [k, v] : kv) obj.Set(k, v);
      arr.Push(Json::Object().Set("brokerAddr", addr).Set(name, std::move(obj)));
    }
    PrintJson(Json::Object().Set("brokers", std::move(arr)));
    return;
  }
  bool several = per_broker.size() > 1;
  Table table(several ? std::vector<std::string>{"#Broker Addr", "#Key", "#Value"}
                      : std::vector<std::string>{"#Key", "#Value"});
  for (const auto& [addr, kv] : per_broker) {
    for (const auto& [k, v] : kv) {
      if (several) {
        table.Add({addr, k, v});
      } else {
        table.Add({k, v});
      }
    }
  }
  table.Print(std::cout);
}

Status ChangeWritePerm(const CommandArgs& a, bool wipe) {
  MQ_RETURN_IF_ERROR(ValidateName("broker_name", a.broker_name));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  mq::v1::WritePermRequest req;
  req.set_broker_name(a.broker_name);
  FanOut fan_out(client->namesrv_addrs().size());
  for (const auto& ns : client->namesrv_addrs()) {
    mq::v1::WritePermResponse resp;
    if (!fan_out.Ok(client->CallNamesrvAt(ns, wipe ? &NS::WipeWritePerm : &NS::AddWritePerm, req, &resp))) {
      continue;
    }
    std::cout << fmt::format("{} write perm of broker[{}] in name server[{}] OK, {}\n", wipe ? "wipe" : "add",
                             a.broker_name, ns, resp.topics_changed());
  }
  return fan_out.Result("NameServers");
}

}  // namespace

Status RunClusterList(const CommandArgs& a) {
  if (!a.cluster.empty()) MQ_RETURN_IF_ERROR(ValidateName("cluster", a.cluster));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  MQ_ASSIGN_OR_RETURN(auto info, client->ClusterInfo());
  if (!a.cluster.empty() && info.cluster_addr_table().count(a.cluster) == 0) {
    return Status::NotFound(fmt::format("cluster: cluster '{}' is unknown to the NameServer", a.cluster));
  }
  std::vector<mq::v1::BrokerLiveInfo> live(info.live_brokers().begin(), info.live_brokers().end());
  std::sort(live.begin(), live.end(), [](const auto& x, const auto& y) {
    return std::make_tuple(x.cluster_name(), x.broker_name(), x.broker_id()) <
           std::make_tuple(y.cluster_name(), y.broker_name(), y.broker_id());
  });
  Table table({"#Cluster Name", "#Broker Name", "#BID", "#Addr", "#Version", "#Role", "#InTPS", "#OutTPS",
               "#Topics", "#Last Update"});
  Json arr = Json::Array();
  for (const auto& b : live) {
    if (!a.cluster.empty() && b.cluster_name() != a.cluster) continue;
    mq::v1::GetBrokerRuntimeInfoRequest req;
    mq::v1::GetBrokerRuntimeInfoResponse resp;
    // A broker that does not answer still shows what the NameServer knows about it.
    Status s = client->CallAdmin(b.broker_addr(), &BA::GetBrokerRuntimeInfo, req, &resp, 2'000);
    const auto& t = resp.table();
    std::string version = s.ok() ? Get(t, "brokerVersionDesc") : "unreachable";
    std::string role = s.ok() ? Get(t, "brokerRole") : "-";
    std::string in_tps = s.ok() ? Get(t, "putTps") : "-";
    std::string out_tps = s.ok() ? Get(t, "getTransferedTps") : "-";
    table.Add({b.cluster_name(), b.broker_name(), std::to_string(b.broker_id()), b.broker_addr(), version,
               role, in_tps, out_tps, std::to_string(b.topic_count()),
               FormatTime(b.last_update_timestamp())});
    arr.Push(Json::Object()
                 .Set("cluster", b.cluster_name())
                 .Set("brokerName", b.broker_name())
                 .Set("brokerId", b.broker_id())
                 .Set("addr", b.broker_addr())
                 .Set("version", version)
                 .Set("role", role)
                 .Set("inTps", in_tps)
                 .Set("outTps", out_tps)
                 .Set("topicCount", b.topic_count())
                 .Set("lastUpdateTimestamp", b.last_update_timestamp()));
  }
  if (a.json) {
    PrintJson(Json::Object().Set("brokers", std::move(arr)));
  } else {
    table.Print(std::cout);
  }
  return Status::OK();
}

Status RunBrokerStatus(const CommandArgs& a) {
  MQ_ASSIGN_OR_RETURN(auto client, ClientFor(a));
  MQ_ASSIGN_OR_RETURN(auto targets, client->ResolveMasters(a.broker_addr, a.cluster));
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> out;
  FanOut fan_out(targets.size());
  for (const auto& t : targets) {
    mq::v1::GetBrokerRuntimeInfoRequest req;
    mq::v1::GetBrokerRuntimeInfoResponse resp;
    if (!fan_out.Ok(client->CallAdmin(t.addr, &BA::GetBrokerRuntimeInfo, req, &resp))) continue;
    out.emplace_back(t.addr, std::map<std::string, std::string>(resp.table().begin(), resp.table().end()));
  }
  if (!out.empty()) PrintPerBroker(out, "status", a.json);
  return fan_out.Result("brokers");
}

Status RunGetBrokerConfig(const CommandArgs& a) {
  MQ_ASSIGN_OR_RETURN(auto client, ClientFor(a));
  MQ_ASSIGN_OR_RETURN(auto targets, client->ResolveMasters(a.broker_addr, a.cluster));
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> out;
  FanOut fan_out(targets.size());
  for (const auto& t : targets) {
    mq::v1::GetBrokerConfigRequest req;
    mq::v1::GetBrokerConfigResponse resp;
    if (!fan_out.Ok(client->CallAdmin(t.addr, &BA::GetBrokerConfig, req, &resp))) continue;
    out.emplace_back(t.addr, std::map<std::string, std::string>(resp.config().begin(), resp.config().end()));
  }
  if (!out.empty()) PrintPerBroker(out, "config", a.json);
  return fan_out.Result("brokers");
}

Status RunUpdateBrokerConfig(const CommandArgs& a) {
  if (a.key.empty()) return Status::InvalidArgument("key: -k is required");
  MQ_ASSIGN_OR_RETURN(auto client, ClientFor(a));
  MQ_ASSIGN_OR_RETURN(auto targets, client->ResolveMasters(a.broker_addr, a.cluster));
  mq::v1::UpdateBrokerConfigRequest req;
  (*req.mutable_config())[a.key] = a.value;
  FanOut fan_out(targets.size());
  for (const auto& t : targets) {
    mq::v1::UpdateBrokerConfigResponse resp;
    if (!fan_out.Ok(client->CallAdmin(t.addr, &BA::UpdateBrokerConfig, req, &resp))) continue;
    std::cout << fmt::format("update broker config success, {} {}={}{}\n", t.addr, a.key, a.value,
                             resp.config_file().empty() ? "" : ", written to " + resp.config_file());
    if (!resp.persist_error().empty()) {
      std::cerr << fmt::format("warning: {}: in effect until the broker restarts, not written: {}\n", t.addr,
                               resp.persist_error());
    } else if (resp.config_file().empty()) {
      std::cerr << fmt::format("note: {} runs without a config file (-c): in effect until it restarts\n",
                               t.addr);
    }
  }
  return fan_out.Result("brokers");
}

// Per master: its commit log end and, per connected slave, the acknowledged offset, lag (bytes
// and ms) and whether it counts for SYNC_MASTER, as the master's HaService reports them in its
// runtime info; then each slave the replication handshake refused, with the master's reason.
Status RunHaStatus(const CommandArgs& a) {
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  std::vector<BrokerTarget> masters;
  if (a.broker_addr.empty() && a.cluster.empty()) {
    MQ_ASSIGN_OR_RETURN(masters, client->AllMasters());
  } else {
    MQ_ASSIGN_OR_RETURN(masters, client->ResolveMasters(a.broker_addr, a.cluster));
  }
  Table table({"#Broker Name", "#Addr", "#Role", "#Max Offset", "#Slave ID", "#Slave Addr", "#Ack Offset",
               "#Lag Bytes", "#Lag ms", "#In Sync"});
  std::vector<std::string> refusals;  // printed under the table: reasons are long
  Json arr = Json::Array();
  for (const auto& m : masters) {
    mq::v1::GetBrokerRuntimeInfoRequest req;
    mq::v1::GetBrokerRuntimeInfoResponse resp;
    MQ_RETURN_IF_ERROR(client->CallAdmin(m.addr, &BA::GetBrokerRuntimeInfo, req, &resp));
    const auto& t = resp.table();
    std::string name = Get(t, "brokerName");
    std::string role = Get(t, "brokerRole");
    std::string max_offset = Get(t, "commitLogMaxOffset");
    Json jslaves = Json::Array();
    int slave_rows = 0;
    constexpr std::string_view kAddrPrefix = "haSlaveAddr_";
    std::map<std::string, std::string> sorted(t.begin(), t.end());
    for (const auto& [key, addr] : sorted) {
      if (key.rfind(kAddrPrefix, 0) != 0) continue;
      std::string id = key.substr(kAddrPrefix.size());
      std::string ack = Get(t, "haSlaveAckOffset_" + id);
      std::string lag_bytes = Get(t, "haLagBytes_" + id);
      std::string lag_ms = Get(t, "haLagTimeMills_" + id);
      std::string in_sync = Get(t, "haSlaveInSync_" + id);
      table.Add({name, m.addr, role, max_offset, id, addr, ack, lag_bytes, lag_ms, in_sync});
      ++slave_rows;
      jslaves.Push(Json::Object()
                       .Set("brokerId", id)
                       .Set("addr", addr)
                       .Set("ackOffset", ack)
                       .Set("lagBytes", lag_bytes)
                       .Set("lagTimeMills", lag_ms)
                       .Set("inSync", in_sync));
    }
    if (slave_rows == 0)
      table.Add({name, m.addr, role, max_offset, "-", "no slave connected", "-", "-", "-", "-"});
    Json jrefused = Json::Array();
    constexpr std::string_view kRefusedPrefix = "haRefusedReason_";
    for (const auto& [key, reason] : sorted) {
      if (key.rfind(kRefusedPrefix, 0) != 0) continue;
      std::string id = key.substr(kRefusedPrefix.size());
      std::string addr = Get(t, "haRefusedAddr_" + id);
      std::string count = Get(t, "haRefusedCount_" + id);
      refusals.push_back(fmt::format("{} ({}): slave {} ({}) refused {} time(s): {}", name, m.addr, id, addr,
                                     count, reason));
      jrefused.Push(
          Json::Object().Set("brokerId", id).Set("addr", addr).Set("count", count).Set("reason", reason));
    }
    arr.Push(Json::Object()
                 .Set("brokerName", name)
                 .Set("addr", m.addr)
                 .Set("role", role)
                 .Set("maxOffset", max_offset)
                 .Set("slaveCount", Get(t, "haSlaveCount"))
                 .Set("slaves", std::move(jslaves))
                 .Set("refused", std::move(jrefused)));
  }
  if (a.json) {
    PrintJson(Json::Object().Set("brokers", std::move(arr)));
  } else {
    table.Print(std::cout);
    for (const auto& line : refusals) std::cout << "REFUSED " << line << "\n";
  }
  return Status::OK();
}

Status RunWipeWritePerm(const CommandArgs& a) { return ChangeWritePerm(a, true); }
Status RunAddWritePerm(const CommandArgs& a) { return ChangeWritePerm(a, false); }

}  // namespace mq::admin
