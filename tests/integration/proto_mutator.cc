#include "proto_mutator.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/reflection.h>

#include <limits>
#include <memory>

namespace mq::testing {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string ProtoMutator::Mutate(const Descriptor* type, const std::string& valid, Kind* kind) {
  size_t roll = Pick(100);
  if (roll < 10) {
    *kind = Kind::kValid;
    return valid;
  }
  if (roll < 55) {
    *kind = Kind::kStructured;
    return Structured(type, valid);
  }
  if (roll < 70) {
    *kind = Kind::kUnknownFields;
    return WithUnknownFields(Pick(2) ? valid : Structured(type, valid));
  }
  if (roll < 90) {
    *kind = Kind::kBytes;
    return Bytes(valid);
  }
  *kind = Kind::kGarbage;
  return Garbage();
}

std::string ProtoMutator::Structured(const Descriptor* type, const std::string& valid) {
  std::unique_ptr<Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
  m->ParseFromString(valid);
  const int rounds = 1 + static_cast<int>(Pick(3));
  for (int i = 0; i < rounds; ++i) MutateMessage(m.get(), 0);
  return m->SerializeAsString();
}

void ProtoMutator::MutateMessage(Message* m, int depth) {
  const Descriptor* d = m->GetDescriptor();
  if (d->field_count() == 0) return;
  MutateField(m, d->field(static_cast<int>(Pick(static_cast<size_t>(d->field_count())))), depth);
}

int64_t ProtoMutator::WildInt() {
  static constexpr int64_t kValues[] = {0,
                                        -1,
                                        1,
                                        std::numeric_limits<int32_t>::max(),
                                        std::numeric_limits<int32_t>::min(),
                                        std::numeric_limits<int64_t>::max(),
                                        std::numeric_limits<int64_t>::min(),
                                        1024,
                                        1025,
                                        65536,
                                        4 * 1024 * 1024};
  if (Pick(4) == 0) return static_cast<int64_t>(rng_());
  return kValues[Pick(std::size(kValues))];
}

std::string ProtoMutator::WildString(bool allow_big) {
  size_t choice = Pick(10);
  if (choice == 2 && !allow_big) choice = 1;
  switch (choice) {
    case 0:
      return "";
    case 1:
      return std::string(1 + Pick(300), 'A');  // past the 127/255-byte name limits
    case 2:
      return std::string(64 * 1024 + Pick(64 * 1024), 'x');  // big but under the port's limits
    case 3:
      return "\xff\xfe\xc0\x80 invalid utf8";
    case 4:
      return std::string("nul\0inside", 10);
    case 5:
      return "key\x01value\x02";  // the commit log's property separators
    case 6:
      return "../../etc/passwd";
    case 7:
      return "%s%n{}{0}";
    case 8:
      return "TagA || || *";
    default: {
      std::string s(Pick(40), '\0');
      for (auto& c : s) c = static_cast<char>(rng_());
      return s;
    }
  }
}

void ProtoMutator::MutateField(Message* m, const FieldDescriptor* f, int depth) {
  const Reflection* r = m->GetReflection();
  if (f->is_repeated()) {
    if (Pick(4) == 0) {
      r->ClearField(m, f);
      return;
    }
    // Many elements only at the top level: nested growth would multiply into gigabytes.
    const int adds =
        depth == 0 && Pick(3) == 0 ? 200 + static_cast<int>(Pick(800)) : 1 + static_cast<int>(Pick(3));
    for (int i = 0; i < adds; ++i) {
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          Message* sub = r->AddMessage(m, f);
          if (depth < 4) MutateMessage(sub, depth + 1);
          break;
        }
        case FieldDescriptor::CPPTYPE_STRING:
          r->AddString(m, f, WildString(/*allow_big=*/false));
          break;
        case FieldDescriptor::CPPTYPE_INT32:
          r->AddInt32(m, f, static_cast<int32_t>(WildInt()));
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          r->AddInt64(m, f, WildInt());
          break;
        default:
          return;  // no repeated fields of other types in our protos
      }
    }
    return;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (depth < 4) MutateMessage(r->MutableMessage(m, f), depth + 1);
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(m, f, WildString(/*allow_big=*/depth == 0));
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      r->SetInt32(m, f, static_cast<int32_t>(WildInt()));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      r->SetInt64(m, f, WildInt());
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      r->SetUInt32(m, f, static_cast<uint32_t>(WildInt()));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->SetUInt64(m, f, static_cast<uint64_t>(WildInt()));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      r->SetBool(m, f, !r->GetBool(*m, f));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      r->SetEnumValue(m, f, static_cast<int>(WildInt()));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      r->SetDouble(m, f, static_cast<double>(WildInt()));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      r->SetFloat(m, f, static_cast<float>(WildInt()));
      break;
  }
}

std::string ProtoMutator::WithUnknownFields(const std::string& valid) {
  std::string out = valid;
  const int n = 1 + static_cast<int>(Pick(3));
  for (int i = 0; i < n; ++i) {
    // Field numbers 900..1899 are unused by every request; wire types varint (0) or
    // length-delimited (2).
    const uint32_t number = 900 + static_cast<uint32_t>(Pick(1000));
    const bool length_delimited = Pick(2) == 0;
    uint64_t key = (uint64_t{number} << 3) | (length_delimited ? 2u : 0u);
    auto varint = [&out](uint64_t v) {
      while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
      }
      out.push_back(static_cast<char>(v));
    };
    varint(key);
    if (length_delimited) {
      std::string payload = WildString(/*allow_big=*/false).substr(0, 64);
      varint(payload.size());
      out += payload;
    } else {
      varint(static_cast<uint64_t>(WildInt()));
    }
  }
  return out;
}

std::string ProtoMutator::Bytes(std::string s) {
  const int rounds = 1 + static_cast<int>(Pick(4));
  for (int i = 0; i < rounds; ++i) {
    switch (Pick(5)) {
      case 0:
        if (!s.empty()) s[Pick(s.size())] ^= static_cast<char>(1u << Pick(8));
        break;
      case 1:
        if (!s.empty()) s[Pick(s.size())] = static_cast<char>(Pick(2) ? 0xFF : 0x80);
        break;
      case 2:
        s.insert(Pick(s.size() + 1), 1, static_cast<char>(rng_()));
        break;
      case 3:
        s.resize(Pick(s.size() + 1));
        break;
      default:
        if (!s.empty()) s.insert(Pick(s.size() + 1), s.substr(Pick(s.size()), 1 + Pick(32)));
        break;
    }
  }
  return s;
}

std::string ProtoMutator::Garbage() {
  std::string s(Pick(Pick(8) == 0 ? 4096 : 64), '\0');
  for (auto& c : s) c = static_cast<char>(rng_());
  return s;
}

}  // namespace mq::testing
