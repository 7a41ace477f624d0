/* c_api_test: <sipmetrics/sipmetrics.h> without a daemon. Every function called detached (an
 * unusable segment path), with NULLs, garbage and zero handles and out-of-range enumerators:
 * each returns, with the documented status. Attached (a segment file of its own): statuses of
 * registrations and refusals (histogram bounds included), identical handles for the same series,
 * classification, label sets, the SIP latency bounds. Values on /metrics are checked by
 * fork_test.sh and install_test.sh.
 *   c_api_test EXPECTED_VERSION        exits non-zero on failure */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <sipmetrics/sipmetrics.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures = 0;
#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

static const sipmetrics_label kLabels[] = {{"transport", "sip"}, {"status", "ok"}};
static const sipmetrics_label kLabelsSwapped[] = {{"status", "ok"}, {"transport", "sip"}};

/* Every update and every helper on `c`, the way a worker would call them. */
static void exercise(sipmetrics_client* c, sipmetrics_counter k, sipmetrics_gauge g,
                     sipmetrics_summary s, const sipmetrics_histogram* h) {
  sipmetrics_counter_inc(k);
  sipmetrics_counter_add(k, 5);
  sipmetrics_gauge_add(g, 1);
  sipmetrics_gauge_add(g, 0.25);
  sipmetrics_gauge_set(g, 7);
  sipmetrics_summary_observe(s, 12.5);
  sipmetrics_histogram_observe(h, 12.5);
  sipmetrics_histogram_observe(h, -1);
  sipmetrics_histogram_observe(h, INFINITY);
  sipmetrics_histogram_observe(h, -INFINITY);
  sipmetrics_histogram_observe(h, NAN);
  sipmetrics_histogram_observe(NULL, 1);
  sipmetrics_sip_invite_result_on(c, SIPMETRICS_SIP_DIRECTION_INBOUND, 486);
  sipmetrics_sip_invite_result_on(c, (sipmetrics_sip_direction)300, 200);
  sipmetrics_sip_bye_on(c, SIPMETRICS_SIP_DIRECTION_OUTBOUND, SIPMETRICS_SIP_BYE_BY_REMOTE,
                        SIPMETRICS_SIP_BYE_REASON_TIMER_EXPIRED);
  sipmetrics_sip_bye_on(c, (sipmetrics_sip_direction)-1, (sipmetrics_sip_bye_by)256,
                        (sipmetrics_sip_bye_reason)9);
  sipmetrics_sip_bye_outbound_on(c, SIPMETRICS_SIP_BYE_BY_LOCAL, SIPMETRICS_SIP_BYE_REASON_NORMAL);
  sipmetrics_sip_transaction_timeout_on(c, SIPMETRICS_SIP_METHOD_INVITE);
  sipmetrics_sip_transaction_timeout_on(c, (sipmetrics_sip_method)1000);
  sipmetrics_sip_transaction_timeout_str_on(c, "BYE", 3);
  sipmetrics_sip_transaction_timeout_str_on(c, NULL, 5);
  sipmetrics_sip_session_timer_refresh_on(c, SIPMETRICS_SIP_REFRESH_ROLE_SWAP);
  sipmetrics_sip_dtls_handshake_on(c, SIPMETRICS_SIP_DTLS_TIMEOUT);
  sipmetrics_sip_stir_verify_on(c, SIPMETRICS_SIP_STIR_SOFT_FAIL);
  sipmetrics_sip_observe_call_qos_on(c, 40, 3.5, 0.01, 4.2);
  sipmetrics_sip_voice_attach_on(c, SIPMETRICS_SIP_VOICE_ATTACH_REALTIME, 0);
  sipmetrics_sip_voice_attach_with_result_on(c, SIPMETRICS_SIP_VOICE_ATTACH_CASCADED,
                                             SIPMETRICS_SIP_VOICE_ATTACH_OK);
  sipmetrics_sip_voice_attach_mode_fallback_on(c, SIPMETRICS_SIP_VOICE_MODE_PIPELINE,
                                               SIPMETRICS_SIP_VOICE_MODE_REALTIME);
  sipmetrics_sip_voice_attach_native_on(c, 1);
  sipmetrics_sip_call_started_on(c, SIPMETRICS_SIP_TRANSPORT_WEBRTC);
  sipmetrics_sip_call_ended_on(c, SIPMETRICS_SIP_TRANSPORT_WEBRTC, SIPMETRICS_SIP_CALL_ICE_FAILED);
  sipmetrics_sip_asr_error_on(c, SIPMETRICS_SIP_TRANSPORT_SIP);
  sipmetrics_sip_tts_error_on(c, SIPMETRICS_SIP_TRANSPORT_SIP);
  sipmetrics_sip_barge_in_on(c, SIPMETRICS_SIP_TRANSPORT_SIP);
  sipmetrics_sip_dialog_reconnect_on(c, SIPMETRICS_SIP_TRANSPORT_SIP, SIPMETRICS_SIP_DIALOG_FAIL);
  sipmetrics_sip_observe_e2e_first_byte_on(c, 180);
  sipmetrics_sip_observe_llm_first_byte_on(c, -1);
  sipmetrics_sip_observe_tts_first_byte_on(c, 90);
}

static void exercise_global(void) {
  sipmetrics_sip_invite_result(SIPMETRICS_SIP_DIRECTION_OUTBOUND, 99);
  sipmetrics_sip_bye(SIPMETRICS_SIP_DIRECTION_INBOUND, SIPMETRICS_SIP_BYE_BY_LOCAL,
                     SIPMETRICS_SIP_BYE_REASON_ERROR);
  sipmetrics_sip_bye_outbound(SIPMETRICS_SIP_BYE_BY_REMOTE, SIPMETRICS_SIP_BYE_REASON_USER_HANGUP);
  sipmetrics_sip_transaction_timeout(SIPMETRICS_SIP_METHOD_OTHER);
  sipmetrics_sip_transaction_timeout_str("FOO", 3);
  sipmetrics_sip_session_timer_refresh(SIPMETRICS_SIP_REFRESH_OK);
  sipmetrics_sip_dtls_handshake(SIPMETRICS_SIP_DTLS_OK);
  sipmetrics_sip_stir_verify(SIPMETRICS_SIP_STIR_VERIFIED);
  sipmetrics_sip_observe_call_qos(0, -1, 0, 0);
  sipmetrics_sip_voice_attach(SIPMETRICS_SIP_VOICE_ATTACH_CASCADED, 1);
  sipmetrics_sip_voice_attach_with_result(SIPMETRICS_SIP_VOICE_ATTACH_REALTIME,
                                          SIPMETRICS_SIP_VOICE_ATTACH_CONFIG_ERROR);
  sipmetrics_sip_voice_attach_mode_fallback(SIPMETRICS_SIP_VOICE_MODE_REALTIME,
                                            SIPMETRICS_SIP_VOICE_MODE_PIPELINE);
  sipmetrics_sip_voice_attach_native(0);
  sipmetrics_sip_call_started(SIPMETRICS_SIP_TRANSPORT_SIP);
  sipmetrics_sip_call_ended(SIPMETRICS_SIP_TRANSPORT_SIP, SIPMETRICS_SIP_CALL_OK);
  sipmetrics_sip_asr_error(SIPMETRICS_SIP_TRANSPORT_WEBRTC);
  sipmetrics_sip_tts_error(SIPMETRICS_SIP_TRANSPORT_WEBRTC);
  sipmetrics_sip_barge_in(SIPMETRICS_SIP_TRANSPORT_WEBRTC);
  sipmetrics_sip_dialog_reconnect(SIPMETRICS_SIP_TRANSPORT_WEBRTC, SIPMETRICS_SIP_DIALOG_OK);
  sipmetrics_sip_observe_e2e_first_byte(1);
  sipmetrics_sip_observe_llm_first_byte(2);
  sipmetrics_sip_observe_tts_first_byte(3);
}

static void test_detached(void) {
  /* The global client on a path in a missing directory, and an explicit client on another. */
  CHECK(setenv("SIPMETRICS_SEGMENT", "/nonexistent-sipmetrics-dir/global/seg", 1) == 0);
  sipmetrics_client* g = sipmetrics_global();
  CHECK(g != NULL);
  CHECK(sipmetrics_global() == g);
  CHECK(!sipmetrics_client_attached(g));
  CHECK(sipmetrics_sip_prepare() == SIPMETRICS_DETACHED);
  exercise_global();

  sipmetrics_client* c = NULL;
  CHECK(sipmetrics_client_open("/nonexistent-sipmetrics-dir/seg", "c_api_test", &c) ==
        SIPMETRICS_DETACHED);
  CHECK(c != NULL);
  CHECK(!sipmetrics_client_attached(c));
  sipmetrics_counter k;
  sipmetrics_gauge ga;
  sipmetrics_summary s;
  sipmetrics_histogram h;
  size_t nb = 0;
  const double* b = sipmetrics_sip_latency_buckets_ms(&nb);
  memset(&k, 0xa5, sizeof k);
  CHECK(sipmetrics_counter_get(c, "detached_total", "Help.", kLabels, 2, &k) ==
        SIPMETRICS_DETACHED);
  CHECK(!sipmetrics_counter_valid(k));
  CHECK(sipmetrics_gauge_get(c, "detached_gauge", NULL, NULL, 0, SIPMETRICS_GAUGE_MAX, &ga) ==
        SIPMETRICS_DETACHED);
  CHECK(!sipmetrics_gauge_valid(ga));
  CHECK(sipmetrics_summary_get(c, "detached_ms", "Help.", NULL, 0, 100, &s) == SIPMETRICS_DETACHED);
  CHECK(!sipmetrics_summary_valid(s));
  memset(&h, 0xa5, sizeof h);
  CHECK(sipmetrics_histogram_get(c, "detached_hist_ms", "Help.", kLabels, 2, b, nb, &h) ==
        SIPMETRICS_DETACHED);
  CHECK(!sipmetrics_histogram_valid(&h));
  /* Arguments are checked before the attachment: bad bounds are bad even when detached. */
  CHECK(sipmetrics_histogram_get(c, "detached_hist_ms", "Help.", NULL, 0, b, 0, &h) ==
        SIPMETRICS_INVALID_ARGUMENT);
  exercise(c, k, ga, s, &h);
  const char* keys[] = {"transport"};
  CHECK(sipmetrics_register_labels(c, "detached_total", keys, 1) == SIPMETRICS_DETACHED);
  CHECK(sipmetrics_inc_counter(c, "detached_total", "Help.", kLabels, 2) == SIPMETRICS_DETACHED);
  CHECK(sipmetrics_add_counter(c, "detached_total", "Help.", NULL, 0, 3) == SIPMETRICS_DETACHED);
  CHECK(sipmetrics_set_gauge(c, "detached_gauge", "Help.", NULL, 0, 1) == SIPMETRICS_DETACHED);
  CHECK(sipmetrics_add_gauge(c, "detached_gauge", "Help.", NULL, 0, 1) == SIPMETRICS_DETACHED);
  CHECK(sipmetrics_observe(c, "detached_ms", "Help.", 1) == SIPMETRICS_DETACHED);
  CHECK(sipmetrics_observe_n(c, "detached_ms", "Help.", 1, 50) == SIPMETRICS_DETACHED);
  CHECK(sipmetrics_observe_async(c, "detached_ms", "Help.", 1) == SIPMETRICS_DETACHED);
  CHECK(sipmetrics_async_dropped_count(c) == 0);
  CHECK(sipmetrics_sip_prepare_on(c) == SIPMETRICS_DETACHED);
  sipmetrics_client_close(c);
}

static void test_arguments(void) {
  sipmetrics_counter k;
  sipmetrics_gauge g;
  sipmetrics_summary s;
  sipmetrics_histogram h;
  const sipmetrics_label null_value[] = {{"transport", NULL}};
  sipmetrics_label many[SIPMETRICS_MAX_LABELS + 1];
  char names[SIPMETRICS_MAX_LABELS + 1][8];
  for (int i = 0; i <= SIPMETRICS_MAX_LABELS; ++i) {
    snprintf(names[i], sizeof names[i], "k%d", i);
    many[i].key = names[i];
    many[i].value = "v";
  }
  sipmetrics_client* g0 = sipmetrics_global();
  memset(&k, 0xff, sizeof k);
  CHECK(sipmetrics_counter_get(NULL, "x_total", "", NULL, 0, &k) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(!sipmetrics_counter_valid(k));
  CHECK(sipmetrics_counter_get(g0, NULL, "", NULL, 0, &k) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_counter_get(g0, "x_total", "", NULL, 1, &k) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_counter_get(g0, "x_total", "", null_value, 1, &k) ==
        SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_counter_get(g0, "x_total", "", many, SIPMETRICS_MAX_LABELS + 1, &k) ==
        SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_counter_get(g0, "x_total", "", NULL, 0, NULL) == SIPMETRICS_INVALID_ARGUMENT);
  memset(&g, 0xff, sizeof g);
  CHECK(sipmetrics_gauge_get(g0, "x", "", NULL, 0, (sipmetrics_gauge_mode)7, &g) ==
        SIPMETRICS_INVALID_ARGUMENT);
  CHECK(!sipmetrics_gauge_valid(g));
  CHECK(sipmetrics_summary_get(g0, NULL, "", NULL, 0, 0, &s) == SIPMETRICS_INVALID_ARGUMENT);
  {
    const double ok[] = {1, 2, 3};
    const double inf = INFINITY;
    const double bad[][3] = {{3, 2, 1}, {1, 1, 2}, {-1, 0, 1}, {0, 1, inf}, {-inf, 0, 1}};
    double nan_bounds[3] = {1, 2, 3}, long_bounds[SIPMETRICS_MAX_HISTOGRAM_BOUNDS + 1];
    nan_bounds[1] = NAN;
    for (int i = 0; i <= SIPMETRICS_MAX_HISTOGRAM_BOUNDS; ++i) long_bounds[i] = i;
    memset(&h, 0xff, sizeof h);
    CHECK(sipmetrics_histogram_get(NULL, "x_ms", "", NULL, 0, ok, 3, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    CHECK(!sipmetrics_histogram_valid(&h));
    CHECK(sipmetrics_histogram_get(g0, NULL, "", NULL, 0, ok, 3, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    CHECK(sipmetrics_histogram_get(g0, "x_ms", "", null_value, 1, ok, 3, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    CHECK(sipmetrics_histogram_get(g0, "x_ms", "", many, SIPMETRICS_MAX_LABELS + 1, ok, 3, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    CHECK(sipmetrics_histogram_get(g0, "x_ms", "", NULL, 0, NULL, 3, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    CHECK(sipmetrics_histogram_get(g0, "x_ms", "", NULL, 0, NULL, 0, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    CHECK(sipmetrics_histogram_get(g0, "x_ms", "", NULL, 0, ok, 0, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    CHECK(sipmetrics_histogram_get(g0, "x_ms", "", NULL, 0, nan_bounds, 3, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i)
      CHECK(sipmetrics_histogram_get(g0, "x_ms", "", NULL, 0, bad[i], 3, &h) ==
            SIPMETRICS_INVALID_ARGUMENT);
    CHECK(sipmetrics_histogram_get(g0, "x_ms", "", NULL, 0, long_bounds,
                                   SIPMETRICS_MAX_HISTOGRAM_BOUNDS + 1,
                                   &h) == SIPMETRICS_INVALID_ARGUMENT);
    CHECK(!sipmetrics_histogram_valid(&h));
    CHECK(sipmetrics_histogram_get(g0, "x_ms", "", NULL, 0, ok, 3, NULL) ==
          SIPMETRICS_INVALID_ARGUMENT);
    /* Native windows out of range: schema, lowest, highest, too many buckets. */
    const double bad_native[][3] = {{9, 1, 2},   {-1, 1, 2},     {3, 0, 2},   {3, -1, 2},
                                    {3, 2, 2},   {3, 2, 1},      {3, NAN, 2}, {3, 1, NAN},
                                    {3, 1, inf}, {3, 1e-320, 2}, {8, 1, 2.1}};
    for (size_t i = 0; i < sizeof bad_native / sizeof bad_native[0]; ++i) {
      memset(&h, 0xff, sizeof h);
      CHECK(sipmetrics_native_histogram_get(g0, "x_ms", "", NULL, 0, ok, 3, (int)bad_native[i][0],
                                            bad_native[i][1], bad_native[i][2],
                                            &h) == SIPMETRICS_INVALID_ARGUMENT);
      CHECK(!sipmetrics_histogram_valid(&h));
    }
    CHECK(sipmetrics_native_histogram_get(g0, "x_ms", "", NULL, 0, bad[0], 3, 3, 1, 2, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    CHECK(sipmetrics_native_histogram_get(NULL, "x_ms", "", NULL, 0, ok, 3, 3, 1, 2, &h) ==
          SIPMETRICS_INVALID_ARGUMENT);
    CHECK(sipmetrics_native_histogram_get(g0, "x_ms", "", NULL, 0, ok, 3, 3, 1, 2, NULL) ==
          SIPMETRICS_INVALID_ARGUMENT);
  }
  CHECK(sipmetrics_client_open("x", "y", NULL) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_register_labels(NULL, "x", NULL, 0) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_register_labels(g0, NULL, NULL, 0) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_register_labels(g0, "x", NULL, 1) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_inc_counter(NULL, "x_total", "", NULL, 0) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_observe(g0, NULL, "", 1) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_sip_prepare_on(NULL) == SIPMETRICS_INVALID_ARGUMENT);
  CHECK(sipmetrics_async_dropped_count(NULL) == 0);
  CHECK(!sipmetrics_client_attached(NULL));
  sipmetrics_client_close(NULL);
  sipmetrics_client_close(g0); /* the global client is never freed */
  CHECK(sipmetrics_global() == g0);
  exercise(NULL, k, g, s, &h); /* every _on helper with a NULL client */

  /* Zero-initialised and garbage handles are no-ops. */
  static sipmetrics_counter zk;
  static sipmetrics_gauge zg;
  static sipmetrics_summary zs;
  static sipmetrics_histogram zh;
  const sipmetrics_histogram zh2 = {{0}};
  CHECK(!sipmetrics_counter_valid(zk) && !sipmetrics_gauge_valid(zg) &&
        !sipmetrics_summary_valid(zs) && !sipmetrics_histogram_valid(&zh) &&
        !sipmetrics_histogram_valid(&zh2) && !sipmetrics_histogram_valid(NULL));
  exercise(NULL, zk, zg, zs, &zh);
  memset(&k, 0xff, sizeof k);
  memset(&g, 0xff, sizeof g);
  memset(&s, 0xff, sizeof s);
  memset(&h, 0xff, sizeof h);
  CHECK(!sipmetrics_counter_valid(k) && !sipmetrics_gauge_valid(g) &&
        !sipmetrics_summary_valid(s) && !sipmetrics_histogram_valid(&h));
  exercise(NULL, k, g, s, &h);

  const sipmetrics_status all[] = {SIPMETRICS_OK, SIPMETRICS_DETACHED, SIPMETRICS_REFUSED,
                                   SIPMETRICS_INVALID_ARGUMENT, SIPMETRICS_NO_MEMORY};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    for (size_t j = 0; j < i; ++j)
      CHECK(strcmp(sipmetrics_status_string(all[i]), sipmetrics_status_string(all[j])) != 0);
  CHECK(strcmp(sipmetrics_status_string(SIPMETRICS_OK), "ok") == 0);
  CHECK(sipmetrics_status_string((sipmetrics_status)99) != NULL);
}

static void test_attached(const char* dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/seg", dir);
  sipmetrics_client* c = NULL;
  CHECK(sipmetrics_client_open(path, "c_api_test", &c) == SIPMETRICS_OK);
  CHECK(sipmetrics_client_attached(c));

  sipmetrics_counter k1, k2, k3, bad;
  CHECK(sipmetrics_counter_get(c, "capi_calls_total", "Calls.", kLabels, 2, &k1) == SIPMETRICS_OK);
  CHECK(sipmetrics_counter_valid(k1));
  CHECK(sipmetrics_counter_get(c, "capi_calls_total", NULL, kLabelsSwapped, 2, &k2) ==
        SIPMETRICS_OK);
  CHECK(memcmp(&k1, &k2, sizeof k1) == 0); /* one series, whatever the label order */
  CHECK(sipmetrics_counter_get(c, "capi_calls_total", "Calls.", kLabels, 1, &k3) == SIPMETRICS_OK);
  CHECK(memcmp(&k1, &k3, sizeof k1) != 0);
  CHECK(sipmetrics_counter_get(c, "1bad", "", NULL, 0, &bad) == SIPMETRICS_REFUSED);
  CHECK(!sipmetrics_counter_valid(bad));
  const sipmetrics_label bad_key[] = {{"bad-key", "v"}};
  CHECK(sipmetrics_counter_get(c, "capi_ok_total", "", bad_key, 1, &bad) == SIPMETRICS_REFUSED);
  const sipmetrics_label dup_key[] = {{"a", "1"}, {"a", "2"}}, le[] = {{"le", "1"}};
  CHECK(sipmetrics_counter_get(c, "capi_ok_total", "", dup_key, 2, &k2) == SIPMETRICS_REFUSED);
  CHECK(!sipmetrics_counter_valid(k2)); /* a key given twice is no label set */
  CHECK(sipmetrics_counter_get(c, "capi_ok_total", "", le, 1, &k3) == SIPMETRICS_REFUSED);

  sipmetrics_gauge g1, g2;
  CHECK(sipmetrics_gauge_get(c, "capi_peak", "Peak.", NULL, 0, SIPMETRICS_GAUGE_MAX, &g1) ==
        SIPMETRICS_OK);
  CHECK(sipmetrics_gauge_valid(g1));
  CHECK(sipmetrics_gauge_get(c, "capi_peak", "Peak.", NULL, 0, SIPMETRICS_GAUGE_MIN, &g2) ==
        SIPMETRICS_REFUSED); /* the series exists with another mode */
  CHECK(!sipmetrics_gauge_valid(g2));
  CHECK(sipmetrics_gauge_get(c, "capi_peak", "Peak.", NULL, 0, SIPMETRICS_GAUGE_MAX, &g2) ==
        SIPMETRICS_OK);
  CHECK(memcmp(&g1, &g2, sizeof g1) == 0);

  sipmetrics_summary s1;
  CHECK(sipmetrics_summary_get(c, "capi_latency_ms", "Latency.", kLabels, 2, 512, &s1) ==
        SIPMETRICS_OK);
  CHECK(sipmetrics_summary_valid(s1));

  sipmetrics_histogram h1, h2;
  size_t nb = 0;
  const double* b = sipmetrics_sip_latency_buckets_ms(&nb);
  const double other[] = {1, 2, 3};
  double most[SIPMETRICS_MAX_HISTOGRAM_BOUNDS];
  for (int i = 0; i < SIPMETRICS_MAX_HISTOGRAM_BOUNDS; ++i) most[i] = 0.5 * i;
  CHECK(sipmetrics_histogram_get(c, "capi_pdd_hist_ms", "PDD.", kLabels, 2, b, nb, &h1) ==
        SIPMETRICS_OK);
  CHECK(sipmetrics_histogram_valid(&h1));
  CHECK(sipmetrics_histogram_get(c, "capi_pdd_hist_ms", NULL, kLabelsSwapped, 2, b, nb, &h2) ==
        SIPMETRICS_OK);
  CHECK(sipmetrics_histogram_valid(&h2));
  memset(&h2, 0xff, sizeof h2);
  CHECK(sipmetrics_histogram_get(c, "capi_pdd_hist_ms", "PDD.", kLabels, 2, other, 3, &h2) ==
        SIPMETRICS_REFUSED); /* the series exists with other bounds */
  CHECK(!sipmetrics_histogram_valid(&h2));
  CHECK(sipmetrics_histogram_get(c, "capi_pdd_ms", "PDD.", kLabels, 2, other, 3, &h2) ==
        SIPMETRICS_OK);
  CHECK(sipmetrics_histogram_get(c, "capi bad", "", NULL, 0, other, 3, &h2) == SIPMETRICS_REFUSED);
  CHECK(sipmetrics_histogram_get(c, "capi_ok_ms", "", le, 1, other, 3, &h2) == SIPMETRICS_REFUSED);
  CHECK(sipmetrics_histogram_get(c, "capi_ok_ms", "", NULL, 0, other, 2, &h2) == SIPMETRICS_OK);
  CHECK(sipmetrics_histogram_get(c, "capi_most_ms", "", NULL, 0, most,
                                 SIPMETRICS_MAX_HISTOGRAM_BOUNDS, &h2) == SIPMETRICS_OK);
  CHECK(sipmetrics_histogram_valid(&h2));
  CHECK(sipmetrics_histogram_get(c, "capi_ok_ms", "", NULL, 0, other + 1, 0, &h2) ==
        SIPMETRICS_INVALID_ARGUMENT);
  CHECK(!sipmetrics_histogram_valid(&h2));
  /* Native: the SIP window, the same again, another window refused, observed like any other. */
  CHECK(sipmetrics_native_histogram_get(
            c, "capi_native_ms", "Native.", kLabels, 2, b, nb, SIPMETRICS_SIP_LATENCY_NATIVE_SCHEMA,
            SIPMETRICS_SIP_LATENCY_NATIVE_LOWEST_MS, SIPMETRICS_SIP_LATENCY_NATIVE_HIGHEST_MS,
            &h2) == SIPMETRICS_OK);
  CHECK(sipmetrics_histogram_valid(&h2));
  {
    sipmetrics_histogram n2, n3;
    CHECK(sipmetrics_native_histogram_get(c, "capi_native_ms", NULL, kLabelsSwapped, 2, b, nb, 3,
                                          0.125, 65536, &n2) == SIPMETRICS_OK);
    CHECK(sipmetrics_histogram_valid(&n2)); /* the same series again */
    CHECK(sipmetrics_native_histogram_get(c, "capi_native_ms", NULL, kLabels, 2, b, nb, 2, 0.125,
                                          65536, &n3) == SIPMETRICS_REFUSED);
    CHECK(!sipmetrics_histogram_valid(&n3));
    sipmetrics_histogram_observe(&n2, 2500);
    sipmetrics_histogram_observe(&n2, NAN);
  }
  exercise(c, k1, g1, s1, &h1);

  /* A second client of the same segment shares the attachment: same handles; closing it
   * leaves them valid. */
  sipmetrics_client* c2 = NULL;
  CHECK(sipmetrics_client_open(path, "other", &c2) == SIPMETRICS_OK);
  CHECK(sipmetrics_counter_get(c2, "capi_calls_total", "Calls.", kLabels, 2, &k2) == SIPMETRICS_OK);
  CHECK(memcmp(&k1, &k2, sizeof k1) == 0);
  sipmetrics_client_close(c2);
  sipmetrics_counter_inc(k2);

  const char* keys[] = {"transport", "status"};
  const char* bad_keys[] = {"transport", "no-dash"};
  CHECK(sipmetrics_register_labels(c, "capi_calls_total", keys, 2) == SIPMETRICS_OK);
  CHECK(sipmetrics_register_labels(c, "capi_calls_total", NULL, 0) == SIPMETRICS_OK);
  CHECK(sipmetrics_register_labels(c, "capi_calls_total", bad_keys, 2) == SIPMETRICS_REFUSED);
  CHECK(sipmetrics_register_labels(c, "9family", keys, 2) == SIPMETRICS_REFUSED);
  const char* too_many[256];
  for (int i = 0; i < 256; ++i) too_many[i] = "k";
  CHECK(sipmetrics_register_labels(c, "capi_calls_total", too_many, 256) == SIPMETRICS_REFUSED);

  CHECK(sipmetrics_inc_counter(c, "capi_seed_total", "Seed.", kLabels, 2) == SIPMETRICS_OK);
  CHECK(sipmetrics_add_counter(c, "capi_seed_total", "Seed.", kLabels, 2, 4) == SIPMETRICS_OK);
  CHECK(sipmetrics_set_gauge(c, "capi_seed_gauge", "Seed.", NULL, 0, 3) == SIPMETRICS_OK);
  CHECK(sipmetrics_add_gauge(c, "capi_seed_gauge", "Seed.", NULL, 0, -1) == SIPMETRICS_OK);
  CHECK(sipmetrics_set_gauge(c, "capi_peak", "Peak.", NULL, 0, 3) == SIPMETRICS_REFUSED);
  CHECK(sipmetrics_observe(c, "capi_seed_ms", "Seed.", 5) == SIPMETRICS_OK);
  CHECK(sipmetrics_observe_n(c, "capi_seed_n_ms", "Seed.", 5, 100) == SIPMETRICS_OK);
  CHECK(sipmetrics_observe_async(c, "capi_seed_ms", "Seed.", 6) == SIPMETRICS_OK);
  CHECK(sipmetrics_add_counter(c, "bad name", "", NULL, 0, 1) == SIPMETRICS_REFUSED);
  CHECK(sipmetrics_async_dropped_count(c) == 0);
  CHECK(sipmetrics_sip_prepare_on(c) == SIPMETRICS_OK);
  sipmetrics_client_close(c);
  CHECK(unlink(path) == 0);
}

static void test_latency_buckets(void) {
  static const double want[] = {5,    10,   25,   50,   100,  250,   500,
                                1000, 2000, 3000, 4000, 8000, 16000, 32000};
  size_t n = 0;
  const double* b = sipmetrics_sip_latency_buckets_ms(&n);
  CHECK(b != NULL && n == sizeof want / sizeof want[0] && n == 14);
  for (size_t i = 0; b != NULL && i < n && i < 14; ++i) CHECK(b[i] == want[i]);
  CHECK(sipmetrics_sip_latency_buckets_ms(NULL) == b);
}

static void test_classification(void) {
  CHECK(sipmetrics_sip_classify_code(100) == SIPMETRICS_SIP_CODE_1XX);
  CHECK(sipmetrics_sip_classify_code(180) == SIPMETRICS_SIP_CODE_1XX);
  CHECK(sipmetrics_sip_classify_code(200) == SIPMETRICS_SIP_CODE_2XX);
  CHECK(sipmetrics_sip_classify_code(302) == SIPMETRICS_SIP_CODE_3XX);
  CHECK(sipmetrics_sip_classify_code(486) == SIPMETRICS_SIP_CODE_4XX);
  CHECK(sipmetrics_sip_classify_code(503) == SIPMETRICS_SIP_CODE_5XX);
  CHECK(sipmetrics_sip_classify_code(699) == SIPMETRICS_SIP_CODE_6XX);
  CHECK(sipmetrics_sip_classify_code(99) == SIPMETRICS_SIP_CODE_OTHER);
  CHECK(sipmetrics_sip_classify_code(700) == SIPMETRICS_SIP_CODE_OTHER);
  CHECK(sipmetrics_sip_classify_code(-486) == SIPMETRICS_SIP_CODE_OTHER);

  static const char* const methods[] = {"INVITE",  "ACK",   "BYE",       "CANCEL", "REGISTER",
                                        "OPTIONS", "PRACK", "SUBSCRIBE", "NOTIFY", "UPDATE",
                                        "MESSAGE", "REFER", "PUBLISH",   "INFO"};
  for (int i = 0; i < 14; ++i)
    CHECK(sipmetrics_sip_classify_method(methods[i], strlen(methods[i])) ==
          (sipmetrics_sip_method)i);
  CHECK(SIPMETRICS_SIP_METHOD_INFO == 13);
  CHECK(sipmetrics_sip_classify_method("invite", 6) == SIPMETRICS_SIP_METHOD_OTHER);
  CHECK(sipmetrics_sip_classify_method("INVITE;x", 6) == SIPMETRICS_SIP_METHOD_INVITE);
  CHECK(sipmetrics_sip_classify_method("INVITE", 5) == SIPMETRICS_SIP_METHOD_OTHER);
  CHECK(sipmetrics_sip_classify_method("", 0) == SIPMETRICS_SIP_METHOD_OTHER);
  CHECK(sipmetrics_sip_classify_method(NULL, 6) == SIPMETRICS_SIP_METHOD_OTHER);
  CHECK(sipmetrics_sip_classify_method("FOO", 3) == SIPMETRICS_SIP_METHOD_OTHER);

  sipmetrics_label out[2] = {{NULL, NULL}, {NULL, NULL}};
  CHECK(sipmetrics_sip_labels_call(SIPMETRICS_SIP_TRANSPORT_WEBRTC,
                                   SIPMETRICS_SIP_CALL_PIPELINE_ERROR, out) == 2);
  CHECK(out[0].key && strcmp(out[0].key, "transport") == 0 && strcmp(out[0].value, "webrtc") == 0);
  CHECK(out[1].key && strcmp(out[1].key, "status") == 0 &&
        strcmp(out[1].value, "pipeline-error") == 0);
  CHECK(sipmetrics_sip_labels_dialog_outcome(SIPMETRICS_SIP_TRANSPORT_SIP,
                                             SIPMETRICS_SIP_DIALOG_FAIL, out) == 2);
  CHECK(strcmp(out[0].value, "sip") == 0 && strcmp(out[1].key, "outcome") == 0 &&
        strcmp(out[1].value, "fail") == 0);
  out[0].key = NULL;
  CHECK(sipmetrics_sip_labels_call((sipmetrics_sip_transport)2, SIPMETRICS_SIP_CALL_OK, out) == 0);
  CHECK(sipmetrics_sip_labels_call(SIPMETRICS_SIP_TRANSPORT_SIP, (sipmetrics_sip_call_status)4,
                                   out) == 0);
  CHECK(out[0].key == NULL);
  CHECK(sipmetrics_sip_labels_call(SIPMETRICS_SIP_TRANSPORT_SIP, SIPMETRICS_SIP_CALL_OK, NULL) ==
        0);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s EXPECTED_VERSION\n", argv[0]);
    return 2;
  }
  CHECK(strcmp(sipmetrics_version(), argv[1]) == 0);
  char dir[] = "/tmp/sipmetrics-c-api-test.XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  test_detached();
  test_arguments();
  test_attached(dir);
  test_latency_buckets();
  test_classification();
  rmdir(dir);
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("c_api_test: all checks passed\n");
  return 0;
}
