// The limits every HTTP connection is held to (see http_server.hpp for what each one means).
#pragma once

#include <chrono>
#include <cstddef>

namespace sipmetrics::http {

using Clock = std::chrono::steady_clock;

inline constexpr std::size_t kMaxRequestBytes = std::size_t{32} * 1024;
inline constexpr std::chrono::seconds kHeadTimeout{5};
inline constexpr std::chrono::seconds kResponseTimeout{30};
inline constexpr std::size_t kMaxQueued = 64;
inline constexpr std::size_t kMaxConnections = 512;
inline constexpr int kListenBacklog = 1024;

}  // namespace sipmetrics::http
