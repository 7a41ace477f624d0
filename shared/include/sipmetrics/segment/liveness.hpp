// How a writer proves it is alive and the daemon tells: POSIX record locks on single bytes of
// the segment file (the kernel drops them when their process dies, in any PID namespace), and
// the identity kept beside them for people (process start time, wall clock).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sipmetrics::detail {

/// Process start time in clock ticks since boot (/proc/<pid>/stat field 22), 0 if unknown.
inline std::uint64_t process_start_time(long pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return 0;
  int field = 2;
  while (*p != '\0' && field < 22) {
    if (*p == ' ') ++field;
    ++p;
  }
  return field == 22 ? std::strtoull(p, nullptr, 10) : 0;
}

inline std::uint64_t unix_now_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

/// fcntl record lock on one byte of the segment file; these locks die with their process.
inline bool try_lock_byte(int fd, std::int64_t byte) noexcept {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  return ::fcntl(fd, F_SETLK, &fl) == 0;
}
inline void unlock_byte(int fd, std::int64_t byte) noexcept {
  struct flock fl {};
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  (void)::fcntl(fd, F_SETLK, &fl);
}
/// Whether another process holds the byte; `holder` gets its pid as seen from here (0 when it
/// lives in another PID namespace). Locks held by the calling process are invisible to it.
inline bool byte_locked(int fd, std::int64_t byte, long* holder = nullptr) noexcept {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  if (::fcntl(fd, F_GETLK, &fl) != 0) return true;  // cannot tell: assume alive, never fold
  if (holder != nullptr) *holder = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
  return fl.l_type != F_UNLCK;
}

}  // namespace sipmetrics::detail
