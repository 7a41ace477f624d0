// Who may write a segment: the group a new segment is given, and warnings about an existing
// one that any user can write or that belongs to another group. Cold path only.
#pragma once

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace sipmetrics::detail {

/// The gid of a group name (or a number), nullopt if there is no such group. Cold path.
inline std::optional<gid_t> find_group(const std::string& group_name) {
  struct group entry {};
  struct group* found = nullptr;
  std::vector<char> buf(std::size_t{16} * 1024);
  int rc = 0;
  while ((rc = ::getgrnam_r(group_name.c_str(), &entry, buf.data(), buf.size(), &found)) ==
             ERANGE &&
         buf.size() < (1u << 20))
    buf.resize(buf.size() * 2);
  if (rc == 0 && found != nullptr) return found->gr_gid;
  if (!group_name.empty() && group_name.size() < 10 &&
      group_name.find_first_not_of("0123456789") == std::string::npos)
    return static_cast<gid_t>(std::stoul(group_name));
  return std::nullopt;
}

/// Gives the segment file behind `fd` to `group_name`, keeping mode 0660. Empty on success,
/// else why not (one line).
inline std::string give_segment_to_group(int fd, const std::string& group_name) {
  const auto gid = find_group(group_name);
  if (!gid) return "no such group";
  if (::fchown(fd, static_cast<uid_t>(-1), *gid) != 0)
    return std::string(std::strerror(errno)) +
           (errno == EPERM ? " (the creating process must run as root or as a member of it)" : "");
  (void)::fchmod(fd, 0660);  // a chown may clear mode bits
  return {};
}

/// What is wrong with who may write the segment behind `fd`: writable by every user, or not
/// owned by `group_name` (when set). One line each; empty when all is well. Cold path.
inline std::vector<std::string> segment_access_warnings(int fd, const std::string& group_name) {
  std::vector<std::string> out;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return out;
  char mode[16];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if ((st.st_mode & S_IWOTH) != 0)
    out.push_back(std::string("the segment is writable by every user (mode ") + mode +
                  "): any local process can forge or corrupt metrics; chmod o-w it, or remove it "
                  "once its writers are stopped so that it is created again with mode 0660");
  if (!group_name.empty()) {
    const auto gid = find_group(group_name);
    if (gid && st.st_gid != *gid)
      out.push_back("the segment belongs to gid " + std::to_string(st.st_gid) + ", not to group '" +
                    group_name + "' (gid " + std::to_string(*gid) +
                    "): it was created without that setting or by a process that could not "
                    "apply it; chgrp it, or remove it once its writers are stopped");
  }
  return out;
}

}  // namespace sipmetrics::detail
