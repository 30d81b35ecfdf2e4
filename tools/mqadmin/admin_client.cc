#include "admin_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "common/naming.h"
#include "common/rpc/grpc_defaults.h"

namespace mq::admin {

namespace {

// Operators type "a:9876; b:9876": parts are trimmed, unlike the daemons' config.
std::vector<std::string> SplitNamesrvList(const std::string& list) {
  std::vector<std::string> out;
  for (std::string item : SplitList(list)) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

bool IsUnreachable(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kTimeout;
}

std::vector<std::string> ShuffledCopy(const std::vector<std::string>& v) {
  std::vector<std::string> out = v;
  std::shuffle(out.begin(), out.end(), std::mt19937(std::random_device{}()));
  return out;
}

Result<std::unique_ptr<AdminClient>> AdminClient::Create(const std::string& namesrv_arg) {
  std::string list = namesrv_arg;
  if (list.empty()) {
    const char* env = std::getenv("NAMESRV_ADDR");
    if (env != nullptr) list = env;
  }
  std::vector<std::string> addrs = SplitNamesrvList(list);
  if (addrs.empty()) {
    return Status::InvalidArgument(
        "namesrv: no NameServer given; use -n host:port;host:port or set NAMESRV_ADDR");
  }
  for (const auto& a : addrs) {
    auto hp = ParseHostPort("namesrv", a);
    if (!hp.ok()) return hp.status();
  }
  return std::unique_ptr<AdminClient>(new AdminClient(std::move(addrs)));
}

std::unique_ptr<AdminClient> AdminClient::CreateWithoutNamesrv() {
  return std::unique_ptr<AdminClient>(new AdminClient({}));
}

std::shared_ptr<grpc::Channel> AdminClient::Channel(const std::string& addr) {
  auto it = channels_.find(addr);
  if (it != channels_.end()) return it->second;
  auto ch = rpc::CreateChannel(addr);
  channels_.emplace(addr, ch);
  return ch;
}

Status AdminClient::Convert(const grpc::Status& s, const std::string& who) {
  if (s.ok()) return Status::OK();
  Status st = rpc::FromGrpcStatus(s);
  if (IsUnreachable(st)) {
    return Status(st.code(), fmt::format("{} unreachable: {}", who, st.message()));
  }
  return st.WithContext(who);
}

Result<mq::v1::GetClusterInfoResponse> AdminClient::ClusterInfo() {
  mq::v1::GetClusterInfoRequest req;
  mq::v1::GetClusterInfoResponse resp;
  MQ_RETURN_IF_ERROR(CallNamesrv(&mq::v1::NameServer::Stub::GetClusterInfo, req, &resp));
  return resp;
}

Result<mq::v1::TopicRouteData> AdminClient::Route(const std::string& topic) {
  mq::v1::QueryRouteRequest req;
  req.set_topic(topic);
  mq::v1::QueryRouteResponse resp;
  MQ_RETURN_IF_ERROR(CallNamesrv(&mq::v1::NameServer::Stub::QueryRoute, req, &resp));
  if (resp.route().broker_datas_size() == 0) {
    return Status::NotFound(fmt::format("topic: no route for topic '{}'", topic));
  }
  return resp.route();
}

Result<std::string> AdminClient::MasterAddr(const mq::v1::BrokerData& data) {
  auto it = data.broker_addrs().find(0);
  if (it == data.broker_addrs().end() || it->second.empty()) {
    return Status::Unavailable(fmt::format("broker: broker set '{}' has no live master", data.broker_name()));
  }
  return it->second;
}

Result<std::vector<BrokerTarget>> AdminClient::AllMasters() {
  MQ_ASSIGN_OR_RETURN(auto info, ClusterInfo());
  std::vector<BrokerTarget> out;
  for (const auto& [name, data] : info.broker_addr_table()) {
    auto it = data.broker_addrs().find(0);
    if (it == data.broker_addrs().end()) continue;
    out.push_back(BrokerTarget{it->second, data.cluster(), name, 0});
  }
  std::sort(out.begin(), out.end(),
            [](const BrokerTarget& x, const BrokerTarget& y) { return x.broker_name < y.broker_name; });
  return out;
}

Result<std::vector<BrokerSet>> AdminClient::AllBrokerSets() {
  MQ_ASSIGN_OR_RETURN(auto info, ClusterInfo());
  std::vector<BrokerSet> out;
  for (const auto& [name, data] : info.broker_addr_table()) {
    if (data.broker_addrs().empty()) continue;
    out.push_back(BrokerSet{data.cluster(), name, AddrsMasterFirst(data)});
  }
  std::sort(out.begin(), out.end(),
            [](const BrokerSet& x, const BrokerSet& y) { return x.broker_name < y.broker_name; });
  return out;
}

std::vector<std::string> AdminClient::AddrsMasterFirst(const mq::v1::BrokerData& data) {
  std::map<int64_t, std::string> by_id(data.broker_addrs().begin(), data.broker_addrs().end());
  std::vector<std::string> out;
  for (const auto& [id, addr] : by_id) out.push_back(addr);
  return out;
}

Result<std::vector<BrokerTarget>> AdminClient::ResolveMasters(const std::string& broker_addr,
                                                              const std::string& cluster) {
  if (broker_addr.empty() == cluster.empty()) {
    return Status::InvalidArgument("broker: give exactly one of -b brokerAddr or -c clusterName");
  }
  if (!broker_addr.empty()) {
    auto hp = ParseHostPort("broker_addr", broker_addr);
    if (!hp.ok()) return hp.status();
    return std::vector<BrokerTarget>{BrokerTarget{broker_addr, "", "", 0}};
  }
  MQ_RETURN_IF_ERROR(ValidateName("cluster", cluster));
  MQ_ASSIGN_OR_RETURN(auto info, ClusterInfo());
  auto it = info.cluster_addr_table().find(cluster);
  if (it == info.cluster_addr_table().end()) {
    return Status::NotFound(fmt::format("cluster: cluster '{}' is unknown to the NameServer", cluster));
  }
  std::vector<BrokerTarget> out;
  for (const auto& name : it->second.broker_names()) {
    auto data = info.broker_addr_table().find(name);
    if (data == info.broker_addr_table().end()) continue;
    auto master = data->second.broker_addrs().find(0);
    if (master == data->second.broker_addrs().end()) continue;
    out.push_back(BrokerTarget{master->second, cluster, name, 0});
  }
  if (out.empty())
    return Status::Unavailable(fmt::format("cluster: cluster '{}' has no live master", cluster));
  std::sort(out.begin(), out.end(),
            [](const BrokerTarget& x, const BrokerTarget& y) { return x.broker_name < y.broker_name; });
  return out;
}

}  // namespace mq::admin
