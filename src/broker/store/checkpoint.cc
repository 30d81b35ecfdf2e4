#include "broker/store/checkpoint.h"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <string_view>

#include "common/crc32c.h"
#include "common/file_util.h"

namespace mq::store {

Result<StoreCheckpoint> StoreCheckpoint::Load(const std::string& path) {
  MQ_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  size_t crc_pos = text.rfind("crc=");
  if (crc_pos == std::string::npos)
    return Status::Corruption(fmt::format("checkpoint '{}': no crc line", path));
  std::map<std::string, int64_t> values;
  std::string_view rest(text);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(line.data() + eq + 1, line.data() + line.size(), v);
    if (ec != std::errc())
      return Status::Corruption(fmt::format("checkpoint '{}': bad line '{}'", path, line));
    values[std::string(line.substr(0, eq))] = v;
  }
  if (static_cast<uint32_t>(values["crc"]) != crc32c::Value(text.data(), crc_pos)) {
    return Status::Corruption(fmt::format("checkpoint '{}': crc mismatch", path));
  }
  StoreCheckpoint cp;
  cp.physic_offset = values.count("physic_offset") ? values["physic_offset"] : -1;
  cp.logic_offset = values.count("logic_offset") ? values["logic_offset"] : -1;
  cp.physic_timestamp = values["physic_timestamp"];
  cp.logic_timestamp = values["logic_timestamp"];
  return cp;
}

Status StoreCheckpoint::Save(const std::string& path) const {
  std::string text =
      fmt::format("physic_offset={}\nlogic_offset={}\nphysic_timestamp={}\nlogic_timestamp={}\n",
                  physic_offset, logic_offset, physic_timestamp, logic_timestamp);
  text += fmt::format("crc={}\n", crc32c::Value(text));
  return WriteFileAtomically(path, text);
}

}  // namespace mq::store
