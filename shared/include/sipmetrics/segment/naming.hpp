// Which segment a process means: the default name, file paths versus POSIX shared-memory names,
// and the one spelling of a path. Used alike by workers (the client) and the daemon.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace sipmetrics::detail {

/// The segment name both sides use when none is given: $SIPMETRICS_SEGMENT, else "sipmetrics".
inline std::string default_segment_name() {
  const char* env = std::getenv("SIPMETRICS_SEGMENT");
  return (env != nullptr && *env != '\0') ? std::string(env) : std::string("sipmetrics");
}

/// The group a newly created segment is given, so that workers running as its members can
/// write it (mode 0660): $SIPMETRICS_SEGMENT_GROUP, read by the client and the daemon alike
/// (sipmetricsd's --segment-group too). Empty: the creating process's own group.
inline std::string default_segment_group() {
  const char* env = std::getenv("SIPMETRICS_SEGMENT_GROUP");
  return env != nullptr ? std::string(env) : std::string();
}

/// A name containing '/' is a file path (e.g. on a Kubernetes emptyDir); anything else is a
/// POSIX shared-memory object under /dev/shm.
inline bool segment_is_path(std::string_view name) {
  return name.find('/') != std::string_view::npos;
}

/// One spelling per segment, so that one process never opens the same segment twice: a path
/// made absolute and normalised (symlinks resolved where they exist).
inline std::string canonical_segment_name(const std::string& name) {
  if (!segment_is_path(name)) return name;
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(name, ec), ec);
  return ec ? name : p.string();
}

}  // namespace sipmetrics::detail
