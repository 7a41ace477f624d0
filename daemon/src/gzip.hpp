// gzip for /metrics bodies (Prometheus asks for it), at zlib's fastest level: text exposition
// compresses 6-7x there, and a scrape spends as little as possible on it.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <memory>
#include <string_view>

namespace sipmetrics {

/// One per serving thread: the zlib state and the output buffer are reused, so once body sizes
/// settle a scrape allocates nothing here.
class GzipEncoder {
 public:
  GzipEncoder();  // throws std::bad_alloc when zlib cannot set up
  ~GzipEncoder();
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  /// `in` as one gzip member; valid until the next call.
  std::string_view encode(std::string_view in);

 private:
  z_stream zs_{};
  std::unique_ptr<unsigned char[]> out_;
  std::size_t capacity_ = 0;
};

}  // namespace sipmetrics
