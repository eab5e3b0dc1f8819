// YAML <-> protobuf for messages annotated with (pelican.v1.spec) field options.
//
//   YAML text ──yaml-cpp──► YAML::Node ──MergeYaml (typed, range-checked)──► Message
//   Message ──ToYaml──► YAML text that MergeYaml reads back to the same Message
//
// Errors are INVALID_ARGUMENT and start with "<source>:<line>:<column>: <key path>:", e.g.
// "run.yaml:12:5: actors.sampling.top_p: 1.5 is out of range (0, 1]". Works on any message;
// config.h applies it to RunConfig.
#ifndef PELICAN_COMMON_PROTO_YAML_H_
#define PELICAN_COMMON_PROTO_YAML_H_

#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/status/status.h"

namespace pelican {

// Sets every field that has a (spec).default to it, recursing into singular sub-messages (members
// of a oneof are left unset). A default that does not parse is a bug in the .proto and aborts.
void ApplyProtoDefaults(google::protobuf::Message* message);

// Merges `node` (a map, or null for "nothing") into `message`. Keys must be field names; scalars
// must parse as the field's type and lie in its (spec).range; enums are written lower case
// without their prefix; repeated fields take a sequence and replace what was there; new elements
// of repeated messages start from their defaults. `source` names the file in errors and
// `path` is the key path of `message` ("" at the top).
absl::Status MergeYaml(const YAML::Node& node, const std::string& source, const std::string& path,
                       google::protobuf::Message* message);

// Sets the one field named by `field_path` ("a.b.c", with "[i]" to pick an existing element of a
// repeated message: "reward.scorers[0].weight") from `node`, as MergeYaml would.
absl::Status SetYamlPath(const std::string& field_path, const YAML::Node& node,
                         const std::string& source, google::protobuf::Message* message);

// YAML text of `message` with every field written out, enums lower case; MergeYaml of the result
// into a default message gives back `message`. Doubles are written in their shortest exact form.
std::string ToYaml(const google::protobuf::Message& message);

// An enum value as configs spell it: its name without the enum's prefix, in lower case
// (GUARD_ACTION_RAISE_KL -> "raise_kl").
std::string EnumYamlName(const google::protobuf::EnumValueDescriptor* value);

// Clears every field whose spec says local, recursively.
void ClearLocalFields(google::protobuf::Message* message);

// Checks every numeric field (recursively) against its range; used after programmatic edits.
absl::Status CheckRanges(const google::protobuf::Message& message, const std::string& path);

}  // namespace pelican

#endif  // PELICAN_COMMON_PROTO_YAML_H_
