#include <sipmetrics/segment/key.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace sipmetrics {
namespace {
using namespace std::literals;
}  // namespace

TEST_CASE("valid_metric_name") {
  const std::string max_length(layout::kMaxNameBytes, 'a');
  for (const std::string_view name :
       {"a"sv, "_"sv, ":"sv, "up"sv, "sip_requests_total"sv, "sip:invite:rate5m"sv, "__x"sv,
        "A9_:"sv, "_0"sv, "Z"sv, std::string_view(max_length)}) {
    INFO(name);
    CHECK(detail::valid_metric_name(name));
  }
  const std::string too_long(layout::kMaxNameBytes + 1, 'a');
  for (const std::string_view name :
       {""sv, "0abc"sv, "9"sv, "sip-requests"sv, "sip.requests"sv, "a b"sv, " a"sv, "a\n"sv,
        "caf\xC3\xA9"sv, "a\0b"sv, "\xFF"sv, std::string_view(too_long)}) {
    INFO(name);
    CHECK_FALSE(detail::valid_metric_name(name));
  }
}

TEST_CASE("valid_label_name") {
  const std::string max_length(layout::kMaxNameBytes, 'b');
  for (const std::string_view name : {"a"sv, "_"sv, "_x"sv, "method"sv, "status_code"sv, "A_9"sv,
                                      "x__y"sv, std::string_view(max_length)}) {
    INFO(name);
    CHECK(detail::valid_label_name(name));
  }
  const std::string too_long(layout::kMaxNameBytes + 1, 'b');
  for (const std::string_view name :
       {""sv, "__"sv, "__x"sv, "__name__"sv, "0a"sv, "9"sv, ":a"sv, "a:b"sv, "a-b"sv, "a.b"sv,
        "a b"sv, "\xC3\xA9"sv, "a\0"sv, std::string_view(too_long)}) {
    INFO(name);
    CHECK_FALSE(detail::valid_label_name(name));
  }
}

}  // namespace sipmetrics
