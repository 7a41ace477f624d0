#include "gzip.hpp"

#include <limits>
#include <new>
#include <stdexcept>

namespace sipmetrics {

GzipEncoder::GzipEncoder() {
  // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&zs_, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::bad_alloc();
}

GzipEncoder::~GzipEncoder() { deflateEnd(&zs_); }

std::string_view GzipEncoder::encode(std::string_view in) {
  if (in.size() > std::numeric_limits<uInt>::max()) throw std::length_error("gzip: body too large");
  deflateReset(&zs_);
  // deflateBound() is enough for one deflate(Z_FINISH) call to finish.
  const std::size_t bound = deflateBound(&zs_, static_cast<uLong>(in.size()));
  if (bound > capacity_) {
    out_ = std::make_unique_for_overwrite<unsigned char[]>(bound);
    capacity_ = bound;
  }
  // zlib's API is not const-correct; it never writes through next_in.
  zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs_.avail_in = static_cast<uInt>(in.size());
  zs_.next_out = out_.get();
  zs_.avail_out = static_cast<uInt>(capacity_);
  if (deflate(&zs_, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
  return {reinterpret_cast<const char*>(out_.get()), capacity_ - zs_.avail_out};
}

}  // namespace sipmetrics
