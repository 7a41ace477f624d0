#include "http_gate.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http_warnings.hpp"

namespace sipmetrics::http {
namespace {

bool pending_bytes(int fd) {
  char b;
  return ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

}  // namespace

Gate::Gate(bool tls, Ready ready) : tls_(tls), ready_(std::move(ready)) {
  ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_;
  (void)::epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
  thread_ = std::thread([this] { run(); });
}

Gate::~Gate() {
  stop();
  ::close(ep_);
  ::close(wake_);
}

void Gate::hold(Idle c) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    close_connection(c);
    return;
  }
  if (waiting_.size() >= kMaxConnections) evict_one();
  const int fd = c.fd;
  waiting_[fd] = c;
  epoll_event ev{};
  // Edge-triggered: a peek leaves the bytes in the socket, so only new bytes should wake us.
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.fd = fd;
  if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    waiting_.erase(fd);
    Idle dropped = c;
    lock.unlock();
    close_connection(dropped);
  }
}

void Gate::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  const std::uint64_t one = 1;
  (void)::write(wake_, &one, sizeof one);
  thread_.join();
  for (auto& [fd, c] : waiting_) close_connection(c);
  waiting_.clear();
}

void Gate::run() {
  std::array<epoll_event, 64> events{};
  std::vector<Idle> due;
  for (;;) {
    const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 100);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == wake_) continue;
      Idle c;
      {
        std::lock_guard lock(mu_);
        auto it = waiting_.find(fd);
        if (it == waiting_.end()) continue;
        const Verdict v = tls_ ? Verdict::kRequest : look(fd);
        if (v == Verdict::kWait) continue;
        (void)::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
        c = it->second;
        waiting_.erase(it);
        if (v == Verdict::kClosed) {
          close_connection(c);
          continue;
        }
      }
      ready_(c);
    }
    const auto now = Clock::now();
    {
      std::lock_guard lock(mu_);
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.deadline > now) {
          ++it;
          continue;
        }
        (void)::epoll_ctl(ep_, EPOLL_CTL_DEL, it->first, nullptr);
        due.push_back(it->second);
        it = waiting_.erase(it);
      }
    }
    for (Idle& c : due) refuse(c, pending_bytes(c.fd) ? k408 : std::string_view());
    due.clear();
  }
}

Gate::Verdict Gate::look(int fd) {
  const ssize_t n = ::recv(fd, peek_.data(), peek_.size(), MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return Verdict::kClosed;
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Verdict::kWait
                                                                     : Verdict::kClosed;
  const std::string_view seen(peek_.data(), static_cast<std::size_t>(n));
  if (static_cast<std::size_t>(n) >= peek_.size() ||
      seen.find("\n\r\n") != std::string_view::npos || seen.find("\n\n") != std::string_view::npos)
    return Verdict::kRequest;
  return Verdict::kWait;
}

void Gate::evict_one() {
  auto victim = std::min_element(
      waiting_.begin(), waiting_.end(),
      [](const auto& a, const auto& b) { return a.second.deadline < b.second.deadline; });
  if (victim == waiting_.end()) return;
  (void)::epoll_ctl(ep_, EPOLL_CTL_DEL, victim->first, nullptr);
  Idle c = victim->second;
  waiting_.erase(victim);
  refuse(c, pending_bytes(c.fd) ? k408 : std::string_view());
  shed_warning.note("connection closed early to make room: too many connections waiting",
                    std::to_string(kMaxConnections) + " waiting");
}

}  // namespace sipmetrics::http
