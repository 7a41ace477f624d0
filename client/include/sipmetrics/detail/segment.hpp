// Opening, creating and mapping the segment (cold path), and typed, bounds-checked views of its
// regions. Shared by the client and the daemon so the init protocol exists exactly once.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include <sipmetrics/layout.hpp>

namespace sipmetrics::detail {

namespace bip = boost::interprocess;

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

/// The gid of a group name (or a number), nullopt if there is no such group. Cold path.
inline std::optional<gid_t> find_group(const std::string& group_name) {
  struct group entry {};
  struct group* found = nullptr;
  std::vector<char> buf(16 * 1024);
  int rc = 0;
  while ((rc = ::getgrnam_r(group_name.c_str(), &entry, buf.data(), buf.size(), &found)) == ERANGE &&
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

/// A name containing '/' is a file path (e.g. on a Kubernetes emptyDir); anything else is a
/// POSIX shared-memory object under /dev/shm.
inline bool segment_is_path(std::string_view name) { return name.find('/') != std::string_view::npos; }

/// One spelling per segment, so that one process never opens the same segment twice: a path
/// made absolute and normalised (symlinks resolved where they exist).
inline std::string canonical_segment_name(const std::string& name) {
  if (!segment_is_path(name)) return name;
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(name, ec), ec);
  return ec ? name : p.string();
}

/// Why opening a segment failed; `message` is one line for a log.
struct OpenError {
  enum class Kind { kIo, kBusy, kVersion, kForeign, kCorrupt } kind = Kind::kIo;
  std::string message;
  std::uint32_t found_major = 0, found_minor = 0;  // kVersion only
};

/// Validated pointers into a mapped segment. Offsets come from the geometry, never from the
/// header's offset fields, so a scribbled header cannot redirect a reader.
class SegmentView {
 public:
  SegmentView() = default;
  /// Checks the header of a mapping of `size` bytes; nullopt when it is not a valid v1 segment.
  static std::optional<SegmentView> adopt(void* base, std::uint64_t size) noexcept {
    auto* h = static_cast<layout::Header*>(base);
    if (size < sizeof(layout::Header) || h->magic != layout::kMagic ||
        h->version_major != layout::kVersionMajor ||
        h->init_state.load(std::memory_order_acquire) != layout::kInitReady)
      return std::nullopt;
    const layout::Geometry g = h->geometry;
    if (!layout::geometry_valid(g)) return std::nullopt;
    const layout::Regions r = layout::regions_for(g);
    if (r.total > size || h->total_size != r.total || h->writers_offset != r.writers ||
        h->lanes_offset != r.lanes || h->catalog_offset != r.catalog ||
        h->whitelist_offset != r.whitelist || h->arena_offset != r.arena ||
        h->retained_offset != r.retained || h->cells_offset != r.cells || h->rings_offset != r.rings)
      return std::nullopt;
    SegmentView v;
    v.base_ = static_cast<char*>(base);
    v.geo_ = g;
    v.reg_ = r;
    v.cells_stride_ = layout::lane_cells_stride(g);
    return v;
  }

  layout::Header& header() const noexcept { return *reinterpret_cast<layout::Header*>(base_); }
  const layout::Geometry& geometry() const noexcept { return geo_; }
  std::uint64_t size() const noexcept { return reg_.total; }
  char* base() const noexcept { return base_; }

  layout::WriterSlot& writer(std::uint32_t i) const noexcept {
    return reinterpret_cast<layout::WriterSlot*>(base_ + reg_.writers)[i];
  }
  layout::Lane& lane(std::uint32_t i) const noexcept {
    return reinterpret_cast<layout::Lane*>(base_ + reg_.lanes)[i];
  }
  layout::SeriesEntry& entry(std::uint32_t i) const noexcept {
    return reinterpret_cast<layout::SeriesEntry*>(base_ + reg_.catalog)[i];
  }
  layout::WhitelistEntry& whitelist(std::uint32_t i) const noexcept {
    return reinterpret_cast<layout::WhitelistEntry*>(base_ + reg_.whitelist)[i];
  }
  /// Value cells of lane i: geometry().max_cells words.
  std::atomic<std::uint64_t>* cells(std::uint32_t lane) const noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(base_ + reg_.cells + lane * cells_stride_);
  }
  /// Retained totals, array 0 or 1: geometry().max_cells words.
  std::atomic<std::uint64_t>* retained(std::uint64_t which) const noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(base_ + reg_.retained) +
           (which & 1u) * geo_.max_cells;
  }
  layout::RingEntry* ring(std::uint32_t lane) const noexcept {
    return reinterpret_cast<layout::RingEntry*>(base_ + reg_.rings) +
           std::uint64_t{lane} * geo_.ring_capacity;
  }
  char* arena() const noexcept { return base_ + reg_.arena; }

  /// Arena bytes [offset, offset+length) if they lie inside the published part of the arena.
  std::optional<std::span<const char>> arena_bytes(std::uint64_t offset,
                                                   std::uint64_t length) const noexcept {
    const std::uint64_t used = std::min<std::uint64_t>(
        header().arena_used.load(std::memory_order_acquire), geo_.arena_bytes);
    if (offset > used || length > used - offset) return std::nullopt;
    return std::span<const char>(arena() + offset, length);
  }

 private:
  char* base_ = nullptr;
  layout::Geometry geo_{};
  layout::Regions reg_{};
  std::uint64_t cells_stride_ = 0;
};

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

/// Removes a segment (file path or shm name) so that the next SegmentFile::open() creates it
/// afresh: `sipmetricsd --recreate-incompatible`. Refuses, with `error` set, while a sipmetricsd
/// holds the segment's daemon lock byte. Processes that still map the old segment keep writing
/// into it, unseen. A segment that does not exist counts as removed. Opens and closes the file,
/// so it must run before the calling process holds any record lock on it. Cold path.
inline bool remove_segment(const std::string& name, std::string& error) noexcept {
  try {
    const bool path = segment_is_path(name);
    int fd = -1;
    bip::shared_memory_object shm;
    if (path) {
      fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) return true;
      if (fd < 0) {
        error = std::strerror(errno);
        return false;
      }
    } else {
      try {
        shm = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_only);
      } catch (const bip::interprocess_exception& e) {
        if (e.get_error_code() == bip::not_found_error) return true;
        throw;
      }
      fd = shm.get_mapping_handle().handle;
    }
    long holder = 0;
    const bool served = byte_locked(fd, layout::kDaemonLockByte, &holder);
    if (path) ::close(fd);
    if (served) {
      error = "another sipmetricsd (pid " + std::to_string(holder) + ") serves it";
      return false;
    }
    const bool removed =
        path ? ::unlink(name.c_str()) == 0 : bip::shared_memory_object::remove(name.c_str());
    if (!removed && errno != ENOENT) {
      error = std::strerror(errno);
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

/// An open, mapped segment. Keeps its file descriptor for the life of the process: closing any
/// descriptor of the file would release this process's record locks (POSIX semantics).
class SegmentFile {
 public:
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;

  /// Opens `name`, creating and initialising it with `geometry` if it does not exist yet or
  /// its creator died before finishing; a segment it creates is given to `group` (see
  /// default_segment_group(); a failure there is reported by group_error(), not fatal here).
  /// Cold path; never throws.
  static std::variant<std::unique_ptr<SegmentFile>, OpenError> open(
      const std::string& name, const layout::Geometry& geometry,
      const std::string& group = default_segment_group()) noexcept {
    try {
      return open_impl(name, geometry, group);
    } catch (const std::exception& e) {
      return OpenError{OpenError::Kind::kIo, "segment '" + name + "': " + e.what()};
    }
  }

  const SegmentView& view() const noexcept { return view_; }
  int fd() const noexcept { return fd_; }
  const std::string& name() const noexcept { return name_; }
  /// True when this call created (or re-created) the segment.
  bool created() const noexcept { return created_; }
  /// Why the segment this call created could not be given to the requested group; empty if it
  /// was, or if no group was requested, or if the segment already existed.
  const std::string& group_error() const noexcept { return group_error_; }

 private:
  SegmentFile() = default;

  static std::variant<std::unique_ptr<SegmentFile>, OpenError> open_impl(
      const std::string& name, const layout::Geometry& geometry, const std::string& group) {
    using Kind = OpenError::Kind;
    auto fail = [&name](Kind k, const std::string& why) {
      return OpenError{k, "segment '" + name + "': " + why, 0, 0};
    };
    if (!layout::geometry_valid(geometry)) return fail(Kind::kIo, "invalid geometry");
    std::unique_ptr<SegmentFile> f(new SegmentFile);
    f->name_ = name;
    const bip::permissions perms(0660);
    if (segment_is_path(name)) {
      // Create the file only if it is new: closing a descriptor of a file this process already
      // has open (another spelling of the same path) would drop this process's record locks.
      const int fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
      if (fd >= 0) {
        // 0660 whatever the umask (as the shm branch does): the group must be able to write.
        (void)::fchmod(fd, 0660);
        ::close(fd);
      } else if (errno != EEXIST)
        return fail(Kind::kIo, std::strerror(errno));
      f->file_ = bip::file_mapping(name.c_str(), bip::read_write);
      f->fd_ = f->file_.get_mapping_handle().handle;
    } else {
      f->shm_ = bip::shared_memory_object(bip::open_or_create, name.c_str(), bip::read_write, perms);
      f->fd_ = f->shm_.get_mapping_handle().handle;
    }
    (void)::fcntl(f->fd_, F_SETFD, FD_CLOEXEC);

    // The init lock: flock is released by the kernel if its holder dies, which is what makes
    // a half-finished initialisation recoverable. Held for milliseconds, at attach only.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::flock(f->fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) return fail(Kind::kIo, std::strerror(errno));
      if (std::chrono::steady_clock::now() > deadline)
        return fail(Kind::kBusy, "another process holds the init lock for more than 5 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    struct Unlock {
      int fd;
      ~Unlock() { ::flock(fd, LOCK_UN); }
    } unlock{f->fd_};

    struct stat st {};
    if (::fstat(f->fd_, &st) != 0) return fail(Kind::kIo, std::strerror(errno));
    const auto size = static_cast<std::uint64_t>(st.st_size);
    bool init = size < sizeof(layout::Header);
    if (!init) {
      layout::Header probe{};
      if (::pread(f->fd_, &probe, sizeof probe, 0) != static_cast<ssize_t>(sizeof probe))
        return fail(Kind::kIo, "cannot read the header");
      const std::uint32_t state = probe.init_state.load(std::memory_order_relaxed);
      if (probe.magic == layout::kMagic && probe.version_major != layout::kVersionMajor) {
        OpenError e = fail(Kind::kVersion,
                           "layout version " + std::to_string(probe.version_major) + "." +
                               std::to_string(probe.version_minor) + ", this build speaks " +
                               std::to_string(layout::kVersionMajor) + "." +
                               std::to_string(layout::kVersionMinor));
        e.found_major = probe.version_major;
        e.found_minor = probe.version_minor;
        return e;
      }
      if (probe.magic == layout::kMagic && state == layout::kInitReady) {
        if (probe.total_size > size)
          return fail(Kind::kCorrupt, "header claims " + std::to_string(probe.total_size) +
                                          " bytes, file has " + std::to_string(size));
      } else if (probe.magic == 0 || (probe.magic == layout::kMagic && state != layout::kInitReady)) {
        init = true;  // a creator died half-way through: start again
      } else {
        return fail(Kind::kForeign, "not a sipmetrics segment (unknown magic)");
      }
    }
    if (init) {
      // Before the segment is usable, so that no writer ever sees it under the wrong group.
      if (!group.empty())
        if (std::string why = give_segment_to_group(f->fd_, group); !why.empty())
          f->group_error_ = "segment '" + name + "': cannot give it to group '" + group + "': " + why;
      const layout::Regions r = layout::regions_for(geometry);
      if (::ftruncate(f->fd_, 0) != 0 ||
          ::ftruncate(f->fd_, static_cast<off_t>(r.total)) != 0)
        return fail(Kind::kIo, std::string("cannot size: ") + std::strerror(errno));
      const int rc = ::posix_fallocate(f->fd_, 0, static_cast<off_t>(r.total));
      if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
        (void)::ftruncate(f->fd_, 0);
        return fail(Kind::kIo, "cannot reserve " + std::to_string(r.total >> 20) +
                                   " MiB: " + std::strerror(rc) +
                                   " (is /dev/shm or the volume large enough?)");
      }
      f->map(r.total);
      layout::init_header(*static_cast<layout::Header*>(f->region_.get_address()), geometry,
                          static_cast<std::uint32_t>(::getpid()), unix_now_ns());
      f->created_ = true;
    } else {
      f->map(size);
    }
    auto v = SegmentView::adopt(f->region_.get_address(), f->region_.get_size());
    if (!v) return fail(Kind::kCorrupt, "header fails validation");
    f->view_ = *v;
    return f;
  }

  void map(std::uint64_t size) {
    if (segment_is_path(name_))
      region_ = bip::mapped_region(file_, bip::read_write, 0, size);
    else
      region_ = bip::mapped_region(shm_, bip::read_write, 0, size);
  }


  std::string name_;
  bip::shared_memory_object shm_;
  bip::file_mapping file_;
  bip::mapped_region region_;
  int fd_ = -1;
  bool created_ = false;
  std::string group_error_;
  SegmentView view_;
};

}  // namespace sipmetrics::detail
