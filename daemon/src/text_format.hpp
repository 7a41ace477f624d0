// Helpers for writing the Prometheus text exposition format, version 0.0.4.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sipmetrics {

/// Appends `value` escaped for use between the double quotes of a label value: backslash
/// becomes \\, double quote becomes \" and newline becomes \n. Each maximal ill-formed UTF-8
/// subsequence (overlong form, surrogate, code point above U+10FFFF, truncated sequence, stray
/// continuation byte) is replaced by U+FFFD, following the Unicode "maximal subpart" practice;
/// other bytes, NUL included, are copied unchanged. A value needing no change is appended with a
/// single call. Allocates only when `out` grows; thread-safe for distinct `out`. On allocation
/// failure throws std::bad_alloc with `out` possibly holding part of the output.
void append_label_value(std::string& out, std::string_view value);

/// Appends `help` escaped for a # HELP line: backslash becomes \\ and newline becomes \n
/// (double quotes are kept). Invalid UTF-8 is replaced exactly as by append_label_value, with the
/// same allocation, thread-safety and failure behaviour.
void append_help(std::string& out, std::string_view help);

/// Appends `s` unescaped, with invalid UTF-8 replaced exactly as by append_label_value: what a
/// protobuf string field (names, label values, help) holds. Same allocation, thread-safety and
/// failure behaviour.
void append_utf8(std::string& out, std::string_view s);

/// Appends `v` as a sample value: the shortest decimal form that parses back to the same double
/// (std::to_chars), or "+Inf", "-Inf", "NaN". Negative zero is written "-0". Allocates only when
/// `out` grows; thread-safe for distinct `out`; throws std::bad_alloc if growing fails.
void append_double(std::string& out, double v);

/// Appends `v` in decimal. Allocates only when `out` grows; thread-safe for distinct `out`;
/// throws std::bad_alloc if growing fails.
void append_uint(std::string& out, std::uint64_t v);

}  // namespace sipmetrics
