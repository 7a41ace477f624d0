// A forked writer process for tests of daemon-side parts: a process cannot see its own record
// locks, so a test that checks liveness or folding never writes from its own process.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <functional>
#include <string>

#include <sipmetrics/client.hpp>

namespace sipmetrics::test {

/// A child process that attaches `segment` (also as Client::global(), through
/// SIPMETRICS_SEGMENT), runs `body` as a writer, then waits to be killed.
class Writer {
 public:
  Writer(const std::string& segment, const std::function<void(Client&)>& body) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::setenv("SIPMETRICS_SEGMENT", segment.c_str(), 1);
      Options o;
      o.segment = segment;
      Client* c = new Client(o);  // never freed: a Client used by sip helpers lives to the end
      body(*c);
      const char ready = 'r';
      (void)!::write(fds[1], &ready, 1);
      for (;;) ::pause();
    }
    ::close(fds[1]);
    char ready = 0;
    REQUIRE(::read(fds[0], &ready, 1) == 1);
    ::close(fds[0]);
  }
  ~Writer() { kill(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace sipmetrics::test
