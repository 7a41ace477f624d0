// The waiting room of the HTTP front: every connection without a complete request yet.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "http_connection.hpp"

namespace sipmetrics::http {

/// Holds every connection that has no complete request yet, new or between keep-alive
/// requests, on one thread with epoll: a slow or silent client costs a table entry, not a
/// serving thread. A plain-HTTP connection moves on once its whole head has arrived (seen with
/// MSG_PEEK, so nothing is consumed), a TLS one as soon as it has bytes. Past its deadline a
/// connection is answered 408 (if it sent something) and closed; with kMaxConnections waiting,
/// the one nearest its deadline makes room for a newcomer.
class Gate {
 public:
  using Ready = std::function<void(Idle)>;
  Gate(bool tls, Ready ready);
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  ~Gate();

  /// Takes a connection to watch until it has a request, or its deadline passes.
  void hold(Idle c);
  /// Joins the thread and closes every connection still waiting.
  void stop();

 private:
  enum class Verdict { kWait, kRequest, kClosed };

  void run();
  // What a plain-HTTP connection's unread bytes amount to: a whole request head (or more than
  // a head may hold: the serving thread answers 431), not yet, or a closed connection.
  Verdict look(int fd);
  void evict_one();  // under mu_

  const bool tls_;
  Ready ready_;
  int ep_ = -1, wake_ = -1;
  std::mutex mu_;
  std::map<int, Idle> waiting_;
  bool stopping_ = false;
  std::array<char, kMaxRequestBytes> peek_{};
  std::thread thread_;
};

}  // namespace sipmetrics::http
