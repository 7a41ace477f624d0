// Opening, creating and mapping the segment (cold path): the init protocol both sides run, so
// that whichever process arrives first creates the segment and the other adopts it. See the
// opening comment of <sipmetrics/layout.hpp> for who creates what and under which lock.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <variant>

#include <sipmetrics/layout.hpp>
#include <sipmetrics/segment/access.hpp>
#include <sipmetrics/segment/liveness.hpp>
#include <sipmetrics/segment/naming.hpp>
#include <sipmetrics/segment/view.hpp>

namespace sipmetrics::detail {

namespace bip = boost::interprocess;

/// Why opening a segment failed; `message` is one line for a log.
struct OpenError {
  enum class Kind { kIo, kBusy, kVersion, kForeign, kCorrupt } kind = Kind::kIo;
  std::string message;
};

/// Fills a zeroed segment of geometry `g` (mapped at `base`, regions_for(g).total bytes): the
/// spill lane's control block, then the header — version, geometry, the regions derived from it
/// and, last, the ready flag (release).
inline void init_segment(void* base, const layout::Geometry& g, std::uint32_t creator_pid,
                         std::uint64_t created_unix_ns) noexcept {
  const layout::Regions r = layout::regions_for(g);
  auto& spill =
      reinterpret_cast<layout::Lane*>(static_cast<char*>(base) + r.lanes)[layout::spill_lane(g)];
  spill.mode.store(layout::kLaneShared, std::memory_order_relaxed);
  spill.owner.store(layout::kSpillOwner, std::memory_order_relaxed);
  layout::Header& h = *static_cast<layout::Header*>(base);
  h.magic = layout::kMagic;
  h.version_major = layout::kVersionMajor;
  h.version_minor = layout::kVersionMinor;
  h.creator_pid = creator_pid;
  h.created_unix_ns = created_unix_ns;
  h.generation = created_unix_ns ^ (std::uint64_t{creator_pid} << 40);
  h.total_size = r.total;
  h.geometry = g;
  h.writers_offset = r.writers;
  h.lanes_offset = r.lanes;
  h.catalog_offset = r.catalog;
  h.whitelist_offset = r.whitelist;
  h.arena_offset = r.arena;
  h.retained_offset = r.retained;
  h.cells_offset = r.cells;
  h.rings_offset = r.rings;
  h.families_offset = r.families;
  h.init_state.store(layout::kInitReady, std::memory_order_release);
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

/// What a file found at a segment's name holds, judged under the init lock. Only kFresh and
/// kNotReady are ever (re)initialised, and only by a writing open: nothing that might be someone
/// else's data is written over.
enum class Found {
  kFresh,     // empty, or all zero bytes (a creator died after sizing it, before its header)
  kReady,     // a ready segment of this layout version
  kVersion,   // a segment of another major layout version
  kNotReady,  // a header of ours whose creator died (or is still busy) before making it ready
  kForeign,   // anything else: some other file's contents
};

/// Reads what the file behind `fd` (of `size` bytes) holds. `why` gets one line for a log when
/// the answer is kVersion or kForeign. Cold path: reads at most the whole file once, stopping at
/// its first non-zero byte.
inline Found inspect_file(int fd, std::uint64_t size, std::string& why) {
  if (size == 0) return Found::kFresh;
  layout::Header probe{};
  const ssize_t got = ::pread(fd, &probe, sizeof probe, 0);
  if (got < 0) {
    why = std::string("cannot read it: ") + std::strerror(errno);
    return Found::kForeign;
  }
  if (static_cast<std::size_t>(got) == sizeof probe && probe.magic == layout::kMagic) {
    if (probe.version_major != layout::kVersionMajor) {
      why = "layout version " + std::to_string(probe.version_major) + "." +
            std::to_string(probe.version_minor) + ", this build speaks " +
            std::to_string(layout::kVersionMajor) + "." + std::to_string(layout::kVersionMinor);
      return Found::kVersion;
    }
    return probe.init_state.load(std::memory_order_relaxed) == layout::kInitReady
               ? Found::kReady
               : Found::kNotReady;
  }
  // A creator that died after sizing the file but before writing the header left zeros only.
  char buf[64 * 1024];
  for (std::uint64_t at = 0; at < size;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(at));
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i)
      if (buf[i] != 0) {
        char first[3 * 8 + 1] = {};
        const auto shown = static_cast<std::size_t>(std::min<std::uint64_t>(size, 8));
        const auto* bytes = reinterpret_cast<const unsigned char*>(&probe);
        for (std::size_t k = 0; k < shown && k < static_cast<std::size_t>(got); ++k)
          std::snprintf(first + 3 * k, 4, k == 0 ? "%02x" : " %02x", bytes[k]);
        why = "not a sipmetrics segment: " + std::to_string(size) +
              " bytes that do not start with its magic (first bytes: " + first +
              "); the file is left untouched";
        return Found::kForeign;
      }
    at += static_cast<std::uint64_t>(n);
  }
  return Found::kFresh;
}

/// An open, mapped segment. Keeps its file descriptor for the life of the process: closing any
/// descriptor of the file would release this process's record locks (POSIX semantics).
class SegmentFile {
 public:
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;

  /// Opens `name` for writing, creating and initialising it with `geometry` if it does not
  /// exist yet, is empty, or was left half-made by a creator that died; a segment it creates is
  /// given to `group` (see default_segment_group(); a failure there is reported by
  /// group_error(), not fatal here). A file holding anything else (another program's data, a
  /// segment of another layout version) is refused and left untouched, as is anything that is
  /// not a regular file. Cold path; never throws.
  static std::variant<std::unique_ptr<SegmentFile>, OpenError> open(
      const std::string& name, const layout::Geometry& geometry,
      const std::string& group = default_segment_group()) noexcept {
    try {
      return open_impl(name, geometry, group, false);
    } catch (const std::exception& e) {
      return OpenError{OpenError::Kind::kIo, "segment '" + name + "': " + e.what()};
    }
  }

  /// Opens an existing, ready segment read-only (sipmetrics-ctl inspect): never creates,
  /// resizes or initialises anything, and maps the segment without write access. Cold path;
  /// never throws.
  static std::variant<std::unique_ptr<SegmentFile>, OpenError> open_read_only(
      const std::string& name) noexcept {
    try {
      return open_impl(name, layout::kDefaultGeometry, {}, true);
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
      const std::string& name, const layout::Geometry& geometry, const std::string& group,
      bool read_only) {
    using Kind = OpenError::Kind;
    auto fail = [&name](Kind k, const std::string& why) {
      return OpenError{k, "segment '" + name + "': " + why};
    };
    if (!layout::geometry_valid(geometry)) return fail(Kind::kIo, "invalid geometry");
    std::unique_ptr<SegmentFile> f(new SegmentFile);
    f->name_ = name;
    f->read_only_ = read_only;
    const bip::mode_t mode = read_only ? bip::read_only : bip::read_write;
    if (segment_is_path(name)) {
      // Create the file only if it is new: closing a descriptor of a file this process already
      // has open (another spelling of the same path) would drop this process's record locks.
      if (!read_only) {
        const int fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
        if (fd >= 0) {
          // 0660 whatever the umask (as the shm branch does): the group must be able to write.
          (void)::fchmod(fd, 0660);
          ::close(fd);
        } else if (errno != EEXIST) {
          return fail(Kind::kIo, std::strerror(errno));
        }
      }
      // Before opening it for writing: a FIFO, a device or a directory is never a segment.
      struct stat path_st {};
      if (::stat(name.c_str(), &path_st) != 0) return fail(Kind::kIo, std::strerror(errno));
      if (!S_ISREG(path_st.st_mode))
        return fail(Kind::kForeign, "not a regular file; it is left untouched");
      f->file_ = bip::file_mapping(name.c_str(), mode);
      f->fd_ = f->file_.get_mapping_handle().handle;
    } else if (read_only) {
      f->shm_ = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_only);
      f->fd_ = f->shm_.get_mapping_handle().handle;
    } else {
      f->shm_ = bip::shared_memory_object(bip::open_or_create, name.c_str(), bip::read_write,
                                          bip::permissions(0660));
      f->fd_ = f->shm_.get_mapping_handle().handle;
    }
    (void)::fcntl(f->fd_, F_SETFD, FD_CLOEXEC);

    // The init lock: flock is released by the kernel if its holder dies, which is what makes
    // a half-finished initialisation recoverable. Held for milliseconds, at attach only; a
    // reader takes it shared, to see a header that no creator is writing.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::flock(f->fd_, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
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
    if (!S_ISREG(st.st_mode))
      return fail(Kind::kForeign, "not a regular file; it is left untouched");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    std::string why;
    const Found found = inspect_file(f->fd_, size, why);
    switch (found) {
      case Found::kVersion: return fail(Kind::kVersion, why);
      case Found::kForeign: return fail(Kind::kForeign, why);
      case Found::kNotReady:
        if (read_only)
          return fail(Kind::kCorrupt,
                      "not ready: being created, or its creator died before finishing (the next "
                      "writer or sipmetricsd to attach re-initialises it)");
        break;
      case Found::kFresh:
        if (read_only) return fail(Kind::kCorrupt, "empty: no writer or daemon has created it yet");
        break;
      case Found::kReady: break;
    }
    if (found == Found::kReady) {
      layout::Header probe{};
      if (::pread(f->fd_, &probe, sizeof probe, 0) != static_cast<ssize_t>(sizeof probe))
        return fail(Kind::kIo, "cannot read the header");
      if (probe.total_size > size)
        return fail(Kind::kCorrupt, "header claims " + std::to_string(probe.total_size) +
                                        " bytes, file has " + std::to_string(size));
      f->map(size);
    } else {
      // Fresh, or ours and left half-made: (re)initialise. Before the segment is usable, so
      // that no writer ever sees it under the wrong group.
      if (!group.empty())
        if (std::string gwhy = give_segment_to_group(f->fd_, group); !gwhy.empty())
          f->group_error_ =
              "segment '" + name + "': cannot give it to group '" + group + "': " + gwhy;
      const layout::Regions r = layout::regions_for(geometry);
      if (::ftruncate(f->fd_, 0) != 0 || ::ftruncate(f->fd_, static_cast<off_t>(r.total)) != 0)
        return fail(Kind::kIo, std::string("cannot size: ") + std::strerror(errno));
      const int rc = ::posix_fallocate(f->fd_, 0, static_cast<off_t>(r.total));
      if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
        (void)::ftruncate(f->fd_, 0);
        return fail(Kind::kIo, "cannot reserve " + std::to_string(r.total >> 20) +
                                   " MiB: " + std::strerror(rc) +
                                   " (is /dev/shm or the volume large enough?)");
      }
      f->map(r.total);
      init_segment(f->region_.get_address(), geometry, static_cast<std::uint32_t>(::getpid()),
                   unix_now_ns());
      f->created_ = true;
    }
    auto v = SegmentView::adopt(f->region_.get_address(), f->region_.get_size());
    if (!v) return fail(Kind::kCorrupt, "header fails validation");
    f->view_ = *v;
    return f;
  }

  void map(std::uint64_t size) {
    const bip::mode_t mode = read_only_ ? bip::read_only : bip::read_write;
    if (segment_is_path(name_))
      region_ = bip::mapped_region(file_, mode, 0, size);
    else
      region_ = bip::mapped_region(shm_, mode, 0, size);
  }

  std::string name_;
  bip::shared_memory_object shm_;
  bip::file_mapping file_;
  bip::mapped_region region_;
  int fd_ = -1;
  bool read_only_ = false;
  bool created_ = false;
  std::string group_error_;
  SegmentView view_;
};

}  // namespace sipmetrics::detail
