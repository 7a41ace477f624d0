/* c_api_fork_worker N SAMPLES: the Kamailio pattern through the C API. The parent resolves
 * handles (and the SIP helpers' table) on the global client, then forks two children; child i
 * (0, 1) makes N counter increments, adds 1 to a SUM gauge, sets a MAX gauge to 10 * (i + 1),
 * observes SAMPLES samples of value i + 1 into a summary and into a histogram (bounds 1, 2),
 * then -1, NaN and +Inf into the histogram, and counts i + 1 inbound 486 INVITE results;
 * updates through forged handles add nothing. The parent itself writes nothing. Prints "ready"
 * once both children are done, then waits for a signal; the children exit when the parent is
 * gone. fork_test.sh checks the totals. Built twice: with the header's inline updates and with
 * SIPMETRICS_NO_INLINE (the library's exported functions). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <sipmetrics/sipmetrics.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s N SAMPLES\n", argv[0]);
    return 2;
  }
  const long n = atol(argv[1]), samples = atol(argv[2]);
  sipmetrics_client* c = sipmetrics_global();
  sipmetrics_counter total;
  sipmetrics_gauge active, peak;
  sipmetrics_summary ms;
  sipmetrics_histogram hist;
  const double bounds[] = {1, 2};
  const sipmetrics_label labels[] = {{"transport", "sip"}};
  if (sipmetrics_counter_get(c, "capi_fork_total", "Fork test.", labels, 1, &total) !=
          SIPMETRICS_OK ||
      sipmetrics_gauge_get(c, "capi_fork_active", "Fork test.", NULL, 0, SIPMETRICS_GAUGE_SUM,
                           &active) != SIPMETRICS_OK ||
      sipmetrics_gauge_get(c, "capi_fork_peak", "Fork test.", NULL, 0, SIPMETRICS_GAUGE_MAX,
                           &peak) != SIPMETRICS_OK ||
      sipmetrics_summary_get(c, "capi_fork_ms", "Fork test.", NULL, 0, 0, &ms) != SIPMETRICS_OK ||
      sipmetrics_histogram_get(c, "capi_fork_hist_ms", "Fork test.", labels, 1, bounds, 2, &hist) !=
          SIPMETRICS_OK ||
      sipmetrics_sip_prepare() != SIPMETRICS_OK) {
    fprintf(stderr, "cannot resolve the handles\n");
    return 1;
  }
  int done[2], parent_alive[2];
  if (pipe(done) != 0 || pipe(parent_alive) != 0) return 1;
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      close(done[0]);
      close(parent_alive[1]);
      for (long k = 0; k < n; ++k) sipmetrics_counter_inc(total);
      sipmetrics_gauge_add(active, 1);
      /* Forged handles whose attachment word names id 8 + a (a: the bound lane's id) in its
       * low four bits, with and without higher bits set: no-ops, on the inline path as on the
       * library's, so the totals stay exact. A program must never do this; the library must
       * survive it. */
      static const uint32_t flips[] = {0x8u, 0x108u, 0x80000008u};
      for (size_t f = 0; f < sizeof flips / sizeof flips[0]; ++f) {
        const uint32_t flip = flips[f];
        sipmetrics_counter forged = total;
        sipmetrics_gauge forged_gauge = active;
        forged.opaque_[2] ^= flip;
        forged_gauge.opaque_[2] ^= flip;
        sipmetrics_counter_inc(forged);
        sipmetrics_counter_add(forged, 1000);
        sipmetrics_gauge_add(forged_gauge, 1);
        sipmetrics_gauge_add(forged_gauge, 0.5);
      }
      sipmetrics_gauge_set(peak, 10.0 * (i + 1));
      for (long k = 0; k < samples; ++k) sipmetrics_summary_observe(ms, i + 1);
      for (long k = 0; k < samples; ++k) sipmetrics_histogram_observe(&hist, i + 1);
      sipmetrics_histogram_observe(&hist, -1);       /* the first bucket, not _sum */
      sipmetrics_histogram_observe(&hist, NAN);      /* the +Inf bucket, not _sum */
      sipmetrics_histogram_observe(&hist, INFINITY); /* the +Inf bucket, not _sum */
      for (int k = 0; k <= i; ++k)
        sipmetrics_sip_invite_result(SIPMETRICS_SIP_DIRECTION_INBOUND, 486);
      if (write(done[1], "d", 1) != 1) _exit(1);
      char b;
      while (read(parent_alive[0], &b, 1) > 0) {
      }
      _exit(0);
    }
  }
  close(done[1]);
  close(parent_alive[0]);
  char b[2];
  size_t got = 0;
  while (got < 2) {
    const ssize_t r = read(done[0], b + got, 2 - got);
    if (r <= 0) {
      fprintf(stderr, "a child died before it was done\n");
      return 1;
    }
    got += (size_t)r;
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) pause(); /* until a signal ends the parent; the children follow */
}
