// Reading the protobuf exposition back in tests: libprotobuf's own delimited reader, and the
// native buckets decoded from spans and deltas.
#pragma once

#include <doctest/doctest.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/delimited_message_util.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "metrics.pb.h"

namespace sipmetrics::test {

namespace pb = io::prometheus::client;

/// Every delimited MetricFamily in `bytes`; fails the test on anything left over or unreadable.
inline std::vector<pb::MetricFamily> parse(const std::string& bytes) {
  std::vector<pb::MetricFamily> out;
  google::protobuf::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  for (;;) {
    pb::MetricFamily f;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&f, &in, &clean_eof)) {
      CHECK(clean_eof);  // the stream ends exactly after the last message
      break;
    }
    out.push_back(std::move(f));
  }
  return out;
}

inline const pb::MetricFamily* family(const std::vector<pb::MetricFamily>& fams,
                                      std::string_view name) {
  for (const pb::MetricFamily& f : fams)
    if (f.name() == name) return &f;
  return nullptr;
}

inline std::string label(const pb::Metric& m, std::string_view key) {
  for (const pb::LabelPair& l : m.label())
    if (l.name() == key) return l.value();
  return "<none>";
}

/// (index, count) of every native positive bucket, decoded from spans and deltas.
inline std::map<std::int32_t, std::int64_t> native_buckets(const pb::Histogram& h) {
  std::map<std::int32_t, std::int64_t> out;
  std::int32_t index = 0;
  std::int64_t count = 0;
  int d = 0;
  for (const pb::BucketSpan& s : h.positive_span()) {
    index += s.offset();
    for (std::uint32_t k = 0; k < s.length(); ++k, ++index) {
      REQUIRE(d < h.positive_delta_size());
      count += h.positive_delta(d++);
      out[index] = count;
    }
  }
  CHECK(d == h.positive_delta_size());  // no delta outside a span
  return out;
}

}  // namespace sipmetrics::test
