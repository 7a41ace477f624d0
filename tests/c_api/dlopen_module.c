/* A plugin in the shape of a Kamailio module or a Lua/Python extension: a shared object linked
 * against libsipmetrics, loaded by dlopen() (dlopen_host.c). */
#include <sipmetrics/sipmetrics.h>

/* Resolves on first use (from any thread) and adds n to capi_dlopen_total; 0 on success. */
__attribute__((visibility("default"))) int capi_module_record(long n) {
  sipmetrics_counter k;
  if (sipmetrics_counter_get(sipmetrics_global(), "capi_dlopen_total", "dlopen test.", NULL, 0,
                             &k) != SIPMETRICS_OK)
    return 1;
  for (long i = 0; i < n; ++i) sipmetrics_counter_inc(k);
  sipmetrics_summary s;
  if (sipmetrics_summary_get(sipmetrics_global(), "capi_dlopen_ms", "dlopen test.", NULL, 0, 0,
                             &s) != SIPMETRICS_OK)
    return 1;
  sipmetrics_summary_observe(s, 2.5);
  return 0;
}
