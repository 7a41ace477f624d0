/* sipmetrics C API example: what a C SIP server module does with <sipmetrics/sipmetrics.h>.
 *
 *   cc sipmetrics_example.c $(pkg-config --cflags --libs sipmetrics) -o sipmetrics-example
 *   SIPMETRICS_SEGMENT=/tmp/seg ./sipmetrics-example [SECONDS]
 *
 * Records a few series, prints "ready", then stays alive SECONDS (default 0) so that a scrape
 * can see its gauges: a gauge is the contribution of live processes, counters outlive them.
 * tests/c_api/install_test.sh compiles this file against an installed tree and checks every
 * value below on sipmetricsd's /metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sipmetrics/sipmetrics.h>

int main(int argc, char** argv) {
  /* The process-wide client: $SIPMETRICS_SEGMENT, else the shared-memory name "sipmetrics". */
  sipmetrics_client* c = sipmetrics_global();
  if (!sipmetrics_client_attached(c))
    fprintf(stderr, "running detached: metrics are discarded, the program goes on\n");

  /* Cold path, once at init: declare the label keys, resolve handles. Label strings are copied. */
  const char* keys[] = {"method", "transport"};
  sipmetrics_register_labels(c, "example_requests_total", keys, 2);
  const sipmetrics_label invite_udp[] = {{"method", "INVITE"}, {"transport", "udp"}};
  sipmetrics_counter requests;
  sipmetrics_status s = sipmetrics_counter_get(c, "example_requests_total", "Requests handled.",
                                               invite_udp, 2, &requests);
  if (s != SIPMETRICS_OK) fprintf(stderr, "requests: %s\n", sipmetrics_status_string(s));

  sipmetrics_gauge queue, temperature;
  sipmetrics_gauge_get(c, "example_queue_depth", "Requests waiting.", NULL, 0, SIPMETRICS_GAUGE_SUM,
                       &queue);
  sipmetrics_gauge_get(c, "example_temperature_celsius", "Hottest worker.", NULL, 0,
                       SIPMETRICS_GAUGE_MAX, &temperature);
  sipmetrics_summary latency;
  sipmetrics_summary_get(c, "example_latency_ms", "Request latency, ms.", NULL, 0, 0, &latency);
  /* A histogram on the SIP latency bounds (5 ms .. 32 s): exact buckets that add up across
   * hosts. Its handle is 64 bytes: calls take its address. */
  size_t nbounds = 0;
  const double* bounds = sipmetrics_sip_latency_buckets_ms(&nbounds);
  const sipmetrics_label inbound[] = {{"direction", "inbound"}};
  sipmetrics_histogram pdd;
  sipmetrics_histogram_get(c, "example_post_dial_delay_hist_ms", "Post-dial delay, ms.", inbound, 1,
                           bounds, nbounds, &pdd);

  /* Hot path: handle updates, no lock, allocation or system call. */
  sipmetrics_counter_inc(requests);
  sipmetrics_counter_inc(requests);
  sipmetrics_counter_inc(requests);
  sipmetrics_counter_add(requests, 4); /* 7 */
  sipmetrics_gauge_add(queue, 5);
  sipmetrics_gauge_add(queue, -2); /* 3 */
  sipmetrics_gauge_set(temperature, 21.5);
  sipmetrics_summary_observe(latency, 10);
  sipmetrics_summary_observe(latency, 20);
  sipmetrics_summary_observe(latency, 30.5); /* _count 3, _sum 60.5 */
  sipmetrics_histogram_observe(&pdd, 180);
  sipmetrics_histogram_observe(&pdd, 2350);
  sipmetrics_histogram_observe(&pdd, 40000); /* above 32 s: the +Inf bucket; _sum 42530 */

  /* The seed's registry-style call: looks the series up each time (fine off the hot path). */
  sipmetrics_inc_counter(c, "example_events_total", "Events.", NULL, 0);

  /* Typed SIP helpers: the seed's metric names and labels. */
  for (int i = 0; i < 3; ++i) sipmetrics_sip_invite_result(SIPMETRICS_SIP_DIRECTION_INBOUND, 486);
  const char* rm = "INVITE"; /* e.g. Kamailio's $rm: a pointer and a length */
  sipmetrics_sip_transaction_timeout_str(rm, strlen(rm));
  sipmetrics_sip_call_started(SIPMETRICS_SIP_TRANSPORT_SIP);
  sipmetrics_sip_call_started(SIPMETRICS_SIP_TRANSPORT_SIP);
  sipmetrics_sip_call_ended(SIPMETRICS_SIP_TRANSPORT_SIP, SIPMETRICS_SIP_CALL_OK); /* 1 live */

  printf("ready\n");
  fflush(stdout);
  if (argc > 1) sleep((unsigned)atoi(argv[1]));
  return 0;
}
