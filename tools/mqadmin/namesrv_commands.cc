// NameServer verbs: updateKvConfig, deleteKvConfig, getNamesrvConfig. As in RocketMQ, writes
// go to every NameServer given in -n (NameServers never talk to each other).
#include <fmt/format.h>

#include <iostream>
#include <map>

#include "admin_client.h"
#include "commands.h"
#include "fan_out.h"
#include "output.h"

namespace mq::admin {
namespace {

using NS = mq::v1::NameServer::Stub;

Status CheckKv(const CommandArgs& a) {
  if (a.kv_namespace.empty()) return Status::InvalidArgument("namespace: -s is required");
  if (a.key.empty()) return Status::InvalidArgument("key: -k is required");
  return Status::OK();
}

}  // namespace

Status RunUpdateKvConfig(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(CheckKv(a));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  mq::v1::KvConfigRequest req;
  req.set_namespace_(a.kv_namespace);
  req.set_key(a.key);
  req.set_value(a.value);
  FanOut fan_out(client->namesrv_addrs().size());
  for (const auto& ns : client->namesrv_addrs()) {
    mq::v1::KvConfigResponse resp;
    if (!fan_out.Ok(client->CallNamesrvAt(ns, &NS::PutKvConfig, req, &resp))) continue;
    std::cout << fmt::format(
        "create or update kv config to namespace [{}] in name server[{}] success: {}={}\n", a.kv_namespace,
        ns, a.key, a.value);
  }
  return fan_out.Result("NameServers");
}

Status RunDeleteKvConfig(const CommandArgs& a) {
  MQ_RETURN_IF_ERROR(CheckKv(a));
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  mq::v1::KvConfigRequest req;
  req.set_namespace_(a.kv_namespace);
  req.set_key(a.key);
  FanOut fan_out(client->namesrv_addrs().size());
  for (const auto& ns : client->namesrv_addrs()) {
    mq::v1::KvConfigResponse resp;
    if (!fan_out.Ok(client->CallNamesrvAt(ns, &NS::DeleteKvConfig, req, &resp))) continue;
    std::cout << fmt::format("delete kv config from namespace [{}] in name server[{}] success: {}\n",
                             a.kv_namespace, ns, a.key);
  }
  return fan_out.Result("NameServers");
}

Status RunGetNamesrvConfig(const CommandArgs& a) {
  MQ_ASSIGN_OR_RETURN(auto client, AdminClient::Create(a.namesrv));
  Json arr = Json::Array();
  Table table({"#NameServer", "#Key", "#Value"});
  FanOut fan_out(client->namesrv_addrs().size());
  for (const auto& ns : client->namesrv_addrs()) {
    mq::v1::GetNamesrvConfigRequest req;
    mq::v1::GetNamesrvConfigResponse resp;
    if (!fan_out.Ok(client->CallNamesrvAt(ns, &NS::GetNamesrvConfig, req, &resp))) continue;
    std::map<std::string, std::string> sorted(resp.config().begin(), resp.config().end());
    Json cfg = Json::Object();
    for (const auto& [k, v] : sorted) {
      table.Add({ns, k, v});
      cfg.Set(k, v);
    }
    arr.Push(Json::Object().Set("addr", ns).Set("config", std::move(cfg)));
  }
  if (a.json) {
    PrintJson(Json::Object().Set("namesrvs", std::move(arr)));
  } else {
    table.Print(std::cout);
  }
  return fan_out.Result("NameServers");
}

}  // namespace mq::admin
