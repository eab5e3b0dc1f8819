#include "common/proto_yaml.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "pelican/v1/config.pb.h"

namespace pelican {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

const v1::FieldSpec& SpecOf(const FD* field) { return field->options().GetExtension(v1::spec); }

// A numeric interval parsed from "[lo, hi]" / "(lo, hi)" notation; "inf" is unbounded.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;
  std::string text;

  bool Contains(double v) const {
    if (std::isnan(v)) return false;
    if (lo_open ? !(v > lo) : !(v >= lo)) return false;
    if (hi_open ? !(v < hi) : !(v <= hi)) return false;
    return true;
  }
};

bool ParseBound(absl::string_view s, double* out) {
  s = absl::StripAsciiWhitespace(s);
  if (s == "inf" || s == "+inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  return absl::SimpleAtod(s, out);
}

// The field's range, or nullopt-like empty text when none. A malformed range is a .proto bug.
Range RangeOf(const FD* field) {
  Range r;
  const std::string& text = SpecOf(field).range();
  if (text.empty()) return r;
  r.text = text;
  PELICAN_CHECK(text.size() >= 5 && (text.front() == '[' || text.front() == '(') &&
                (text.back() == ']' || text.back() == ')'))
      << "bad range '" << text << "' on " << field->full_name();
  r.lo_open = text.front() == '(';
  r.hi_open = text.back() == ')';
  const std::string inner = text.substr(1, text.size() - 2);
  std::vector<absl::string_view> parts = absl::StrSplit(inner, ',');
  PELICAN_CHECK(parts.size() == 2 && ParseBound(parts[0], &r.lo) && ParseBound(parts[1], &r.hi))
      << "bad range '" << text << "' on " << field->full_name();
  return r;
}

std::string Where(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  // Overrides are one-liners: their line and column say nothing.
  if (mark.is_null() || absl::StartsWith(source, "--set ")) return source;
  return absl::StrCat(source, ":", mark.line + 1, ":", mark.column + 1);
}

absl::Status Error(const std::string& source, const YAML::Node& node, const std::string& path,
                   absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(Where(source, node), ": ", path, ": ", message));
}

std::string Join(const std::string& path, absl::string_view name) {
  return path.empty() ? std::string(name) : absl::StrCat(path, ".", name);
}

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a scalar";
  }
}

// Prefix shared by an enum's value names, taken from its zero value ("DTYPE_NAME_UNSPECIFIED").
std::string EnumPrefix(const pb::EnumDescriptor* e) {
  const std::string& zero = e->FindValueByNumber(0)->name();
  const auto pos = zero.rfind("UNSPECIFIED");
  return pos == std::string::npos ? "" : zero.substr(0, pos);
}

// Levenshtein distance, for "did you mean" hints on unknown keys.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string UnknownKeyMessage(const pb::Descriptor* d, const std::string& key) {
  std::string best;
  size_t best_d = 3;  // suggest only close names
  std::vector<std::string> names;
  for (int i = 0; i < d->field_count(); ++i) {
    const std::string& name = d->field(i)->name();
    names.push_back(name);
    const size_t dist = EditDistance(key, name);
    if (dist < best_d) {
      best_d = dist;
      best = name;
    }
  }
  std::string msg = absl::StrCat("unknown key '", key, "'");
  if (!best.empty()) {
    absl::StrAppend(&msg, " (did you mean '", best, "'?)");
  } else {
    absl::StrAppend(&msg, " (known keys: ", absl::StrJoin(names, ", "), ")");
  }
  return msg;
}

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, res.ptr);
  // Keep floats recognisable as floats when read by other YAML tools.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// Parses one scalar YAML node as `field`'s type and range and stores it (appending when repeated).
absl::Status SetScalar(const YAML::Node& node, const std::string& source, const std::string& path,
                       const FD* field, pb::Message* msg) {
  const pb::Reflection* r = msg->GetReflection();
  const bool rep = field->is_repeated();
  if (!node.IsScalar()) {
    return Error(source, node, path,
                 absl::StrCat("expected a ", field->cpp_type_name(), ", got ", KindName(node)));
  }
  const std::string text = node.Scalar();
  const Range range = RangeOf(field);
  auto check_range = [&](double v) -> absl::Status {
    if (!range.text.empty() && !range.Contains(v)) {
      return Error(source, node, path, absl::StrCat(text, " is out of range ", range.text));
    }
    return absl::OkStatus();
  };
  auto bad = [&](absl::string_view what) {
    return Error(source, node, path, absl::StrCat("'", text, "' is not ", what));
  };
  switch (field->cpp_type()) {
    case FD::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a 32-bit integer");
      RETURN_IF_ERROR(check_range(v));
      rep ? r->AddInt32(msg, field, v) : r->SetInt32(msg, field, v);
      break;
    }
    case FD::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a 64-bit integer");
      RETURN_IF_ERROR(check_range(static_cast<double>(v)));
      rep ? r->AddInt64(msg, field, v) : r->SetInt64(msg, field, v);
      break;
    }
    case FD::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a non-negative 32-bit integer");
      RETURN_IF_ERROR(check_range(v));
      rep ? r->AddUInt32(msg, field, v) : r->SetUInt32(msg, field, v);
      break;
    }
    case FD::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a non-negative 64-bit integer");
      RETURN_IF_ERROR(check_range(static_cast<double>(v)));
      rep ? r->AddUInt64(msg, field, v) : r->SetUInt64(msg, field, v);
      break;
    }
    case FD::CPPTYPE_DOUBLE:
    case FD::CPPTYPE_FLOAT: {
      double v;
      absl::string_view t = text;
      if (t == ".inf" || t == "+.inf") {
        v = std::numeric_limits<double>::infinity();
      } else if (t == "-.inf") {
        v = -std::numeric_limits<double>::infinity();
      } else if (!absl::SimpleAtod(t, &v) || std::isnan(v)) {
        return bad("a number");
      }
      RETURN_IF_ERROR(check_range(v));
      if (field->cpp_type() == FD::CPPTYPE_DOUBLE) {
        rep ? r->AddDouble(msg, field, v) : r->SetDouble(msg, field, v);
      } else {
        rep ? r->AddFloat(msg, field, static_cast<float>(v))
            : r->SetFloat(msg, field, static_cast<float>(v));
      }
      break;
    }
    case FD::CPPTYPE_BOOL: {
      bool v;
      if (text == "true" || text == "True" || text == "TRUE") {
        v = true;
      } else if (text == "false" || text == "False" || text == "FALSE") {
        v = false;
      } else {
        return bad("true or false");
      }
      rep ? r->AddBool(msg, field, v) : r->SetBool(msg, field, v);
      break;
    }
    case FD::CPPTYPE_STRING:
      rep ? r->AddString(msg, field, text) : r->SetString(msg, field, text);
      break;
    case FD::CPPTYPE_ENUM: {
      const pb::EnumDescriptor* e = field->enum_type();
      const std::string prefix = EnumPrefix(e);
      const pb::EnumValueDescriptor* v =
          e->FindValueByName(absl::StrCat(prefix, absl::AsciiStrToUpper(text)));
      if (v == nullptr || v->number() == 0 || absl::AsciiStrToLower(text) != text) {
        std::vector<std::string> names;
        for (int i = 1; i < e->value_count(); ++i) names.push_back(EnumYamlName(e->value(i)));
        return Error(source, node, path,
                     absl::StrCat("'", text, "' is not one of: ", absl::StrJoin(names, ", ")));
      }
      rep ? r->AddEnumValue(msg, field, v->number()) : r->SetEnumValue(msg, field, v->number());
      break;
    }
    case FD::CPPTYPE_MESSAGE:
      PELICAN_CHECK(false) << "SetScalar on a message field " << field->full_name();
  }
  return absl::OkStatus();
}

absl::Status SetField(const YAML::Node& node, const std::string& source, const std::string& path,
                      const FD* field, pb::Message* msg) {
  const pb::Reflection* r = msg->GetReflection();
  if (field->is_repeated()) {
    if (node.IsNull()) {
      r->ClearField(msg, field);
      return absl::OkStatus();
    }
    if (!node.IsSequence()) {
      return Error(source, node, path, absl::StrCat("expected a list, got ", KindName(node)));
    }
    r->ClearField(msg, field);
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string elem_path = absl::StrCat(path, "[", i, "]");
      if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
        pb::Message* elem = r->AddMessage(msg, field);
        ApplyProtoDefaults(elem);
        RETURN_IF_ERROR(MergeYaml(node[i], source, elem_path, elem));
      } else {
        RETURN_IF_ERROR(SetScalar(node[i], source, elem_path, field, msg));
      }
    }
    return absl::OkStatus();
  }
  if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
    pb::Message* sub = r->MutableMessage(msg, field);
    if (field->containing_oneof() != nullptr && !node.IsNull()) ApplyProtoDefaults(sub);
    return MergeYaml(node, source, path, sub);
  }
  if (node.IsNull()) {
    return Error(source, node, path,
                 absl::StrCat("expected a ", field->cpp_type_name(), ", got nothing"));
  }
  return SetScalar(node, source, path, field, msg);
}

}  // namespace

std::string EnumYamlName(const pb::EnumValueDescriptor* v) {
  return absl::AsciiStrToLower(absl::StripPrefix(v->name(), EnumPrefix(v->type())));
}

void ApplyProtoDefaults(pb::Message* message) {
  const pb::Descriptor* d = message->GetDescriptor();
  const pb::Reflection* r = message->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* field = d->field(i);
    if (field->containing_oneof() != nullptr || field->is_repeated()) continue;
    if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
      ApplyProtoDefaults(r->MutableMessage(message, field));
      continue;
    }
    const std::string& def = SpecOf(field).default_();
    if (def.empty()) continue;
    const absl::Status st =
        SetScalar(YAML::Load(def), "<default>", field->full_name(), field, message);
    PELICAN_CHECK(st.ok()) << "bad default in the .proto: " << st;
  }
}

absl::Status MergeYaml(const YAML::Node& node, const std::string& source, const std::string& path,
                       pb::Message* message) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    return Error(source, node, path.empty() ? "<top>" : path,
                 absl::StrCat("expected a map, got ", KindName(node)));
  }
  const pb::Descriptor* d = message->GetDescriptor();
  const pb::OneofDescriptor* oneof_seen = nullptr;
  std::string oneof_key;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    const FD* field = d->FindFieldByName(key);
    if (field == nullptr) {
      return Error(source, it->first, Join(path, key), UnknownKeyMessage(d, key));
    }
    if (const pb::OneofDescriptor* o = field->containing_oneof()) {
      if (o == oneof_seen) {
        return Error(source, it->first, Join(path, key),
                     absl::StrCat("'", key, "' and '", oneof_key, "' cannot both be set (one of ",
                                  o->name(), ")"));
      }
      oneof_seen = o;
      oneof_key = key;
    }
    RETURN_IF_ERROR(SetField(it->second, source, Join(path, key), field, message));
  }
  return absl::OkStatus();
}

absl::Status SetYamlPath(const std::string& field_path, const YAML::Node& node,
                         const std::string& source, pb::Message* message) {
  if (field_path.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": empty key"));
  std::vector<std::string> parts = absl::StrSplit(field_path, '.');
  pb::Message* cur = message;
  std::string path;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string name = parts[i];
    int index = -1;
    if (const auto lb = name.find('['); lb != std::string::npos) {
      if (name.back() != ']' ||
          !absl::SimpleAtoi(name.substr(lb + 1, name.size() - lb - 2), &index) || index < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": ", field_path, ": bad index in '", name, "'"));
      }
      name = name.substr(0, lb);
    }
    const FD* field = cur->GetDescriptor()->FindFieldByName(name);
    const std::string here = Join(path, name);
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", here, ": ", UnknownKeyMessage(cur->GetDescriptor(), name)));
    }
    const bool last = i + 1 == parts.size();
    if (last && index < 0) {
      if (field->containing_oneof() != nullptr) {
        cur->GetReflection()->ClearOneof(cur, field->containing_oneof());
      }
      return SetField(node, source, here, field, cur);
    }
    if (field->cpp_type() != FD::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", here, ": is a ", field->cpp_type_name(), ", not a section"));
    }
    const pb::Reflection* r = cur->GetReflection();
    if (field->is_repeated()) {
      if (index < 0 || index >= r->FieldSize(*cur, field)) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": ", here, ": index [", index,
                                                       "] out of range (the list has ",
                                                       r->FieldSize(*cur, field), " elements)"));
      }
      path = absl::StrCat(here, "[", index, "]");
      cur = r->MutableRepeatedMessage(cur, field, index);
      if (last) return MergeYaml(node, source, path, cur);
    } else {
      if (index >= 0) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": ", here, ": is not a list"));
      }
      path = here;
      cur = r->MutableMessage(cur, field);
    }
  }
  return absl::OkStatus();
}

namespace {

void EmitScalar(YAML::Emitter& out, const pb::Message& msg, const FD* field, int index) {
  const pb::Reflection* r = msg.GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case FD::CPPTYPE_INT32:
      out << (rep ? r->GetRepeatedInt32(msg, field, index) : r->GetInt32(msg, field));
      break;
    case FD::CPPTYPE_INT64:
      out << (rep ? r->GetRepeatedInt64(msg, field, index) : r->GetInt64(msg, field));
      break;
    case FD::CPPTYPE_UINT32:
      out << (rep ? r->GetRepeatedUInt32(msg, field, index) : r->GetUInt32(msg, field));
      break;
    case FD::CPPTYPE_UINT64:
      out << (rep ? r->GetRepeatedUInt64(msg, field, index) : r->GetUInt64(msg, field));
      break;
    case FD::CPPTYPE_DOUBLE:
      out << FormatDouble(rep ? r->GetRepeatedDouble(msg, field, index) : r->GetDouble(msg, field));
      break;
    case FD::CPPTYPE_FLOAT:
      out << FormatDouble(rep ? r->GetRepeatedFloat(msg, field, index) : r->GetFloat(msg, field));
      break;
    case FD::CPPTYPE_BOOL:
      out << ((rep ? r->GetRepeatedBool(msg, field, index) : r->GetBool(msg, field)) ? "true"
                                                                                     : "false");
      break;
    case FD::CPPTYPE_STRING: {
      const std::string s =
          rep ? r->GetRepeatedString(msg, field, index) : r->GetString(msg, field);
      out << YAML::DoubleQuoted << s;
      break;
    }
    case FD::CPPTYPE_ENUM:
      out << EnumYamlName(rep ? r->GetRepeatedEnum(msg, field, index) : r->GetEnum(msg, field));
      break;
    case FD::CPPTYPE_MESSAGE:
      break;
  }
}

void EmitMessage(YAML::Emitter& out, const pb::Message& msg) {
  const pb::Descriptor* d = msg.GetDescriptor();
  const pb::Reflection* r = msg.GetReflection();
  out << YAML::BeginMap;
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* field = d->field(i);
    if (field->containing_oneof() != nullptr && !r->HasField(msg, field)) continue;
    out << YAML::Key << field->name() << YAML::Value;
    if (field->is_repeated()) {
      const int n = r->FieldSize(msg, field);
      out << YAML::Flow << YAML::BeginSeq;
      if (field->cpp_type() == FD::CPPTYPE_MESSAGE) out << YAML::Block;
      for (int j = 0; j < n; ++j) {
        if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
          EmitMessage(out, r->GetRepeatedMessage(msg, field, j));
        } else {
          EmitScalar(out, msg, field, j);
        }
      }
      out << YAML::EndSeq;
    } else if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
      EmitMessage(out, r->GetMessage(msg, field));
    } else {
      EmitScalar(out, msg, field, -1);
    }
  }
  out << YAML::EndMap;
}

}  // namespace

std::string ToYaml(const pb::Message& message) {
  YAML::Emitter out;
  out.SetIndent(2);
  EmitMessage(out, message);
  return std::string(out.c_str()) + "\n";
}

void ClearLocalFields(pb::Message* message) {
  const pb::Descriptor* d = message->GetDescriptor();
  const pb::Reflection* r = message->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* field = d->field(i);
    if (SpecOf(field).local()) {
      r->ClearField(message, field);
    } else if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int j = 0; j < r->FieldSize(*message, field); ++j) {
          ClearLocalFields(r->MutableRepeatedMessage(message, field, j));
        }
      } else if (r->HasField(*message, field)) {
        ClearLocalFields(r->MutableMessage(message, field));
      }
    }
  }
}

absl::Status CheckRanges(const pb::Message& message, const std::string& path) {
  const pb::Descriptor* d = message.GetDescriptor();
  const pb::Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* field = d->field(i);
    const std::string here = Join(path, field->name());
    if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int j = 0; j < r->FieldSize(message, field); ++j) {
          RETURN_IF_ERROR(CheckRanges(r->GetRepeatedMessage(message, field, j),
                                      absl::StrCat(here, "[", j, "]")));
        }
      } else if (r->HasField(message, field)) {
        RETURN_IF_ERROR(CheckRanges(r->GetMessage(message, field), here));
      }
      continue;
    }
    const Range range = RangeOf(field);
    if (range.text.empty()) continue;
    const int n = field->is_repeated() ? r->FieldSize(message, field) : 1;
    for (int j = 0; j < n; ++j) {
      double v = 0;
      const bool rep = field->is_repeated();
      switch (field->cpp_type()) {
        case FD::CPPTYPE_INT32:
          v = rep ? r->GetRepeatedInt32(message, field, j) : r->GetInt32(message, field);
          break;
        case FD::CPPTYPE_INT64:
          v = rep ? r->GetRepeatedInt64(message, field, j) : r->GetInt64(message, field);
          break;
        case FD::CPPTYPE_UINT32:
          v = rep ? r->GetRepeatedUInt32(message, field, j) : r->GetUInt32(message, field);
          break;
        case FD::CPPTYPE_UINT64:
          v = rep ? r->GetRepeatedUInt64(message, field, j) : r->GetUInt64(message, field);
          break;
        case FD::CPPTYPE_DOUBLE:
          v = rep ? r->GetRepeatedDouble(message, field, j) : r->GetDouble(message, field);
          break;
        case FD::CPPTYPE_FLOAT:
          v = rep ? r->GetRepeatedFloat(message, field, j) : r->GetFloat(message, field);
          break;
        default:
          continue;
      }
      if (!range.Contains(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(here, ": ", FormatDouble(v), " is out of range ", range.text));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace pelican
