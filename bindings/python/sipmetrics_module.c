/* `import sipmetrics`: the CPython 3 binding of the C API (<sipmetrics/sipmetrics.h>).
 *
 * A table of thin functions, as the C API is: each checks its arguments, makes one C call and
 * returns a result. Semantics (attach, detached no-op mode, fork, bounds of the SIP helpers)
 * are the C library's; docs/python.md is the user's manual, sipmetrics.pyi the signatures.
 *
 * Hot path. Counter.inc, Gauge.inc/dec are METH_NOARGS, Counter.add, Gauge.add/set,
 * Summary.observe and Histogram.observe METH_O, the SIP helpers METH_FASTCALL (positional only):
 * CPython then calls them with no argument tuple, and nothing here allocates: a handle object
 * holds its C handle by value, enum arguments are matched against interned strings by identity
 * first (the module's constants, identifier-like literals, and the last equal str seen for each
 * value, such as a literal "user-hangup", cost a pointer compare), numbers are read in place.
 * Everything runs under the GIL and no C call blocks, so the GIL is never released.
 *
 * State. Single-phase initialisation with static types and static interned strings: the module
 * lives once per process (Kamailio's app_python3 imports it in the main interpreter before it
 * forks), and the hot path reads no module state through a lookup. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <sipmetrics/sipmetrics.h>
#include <stdint.h>
#include <string.h>

/* ==== Vocabularies: label strings <-> C enumerators ============================================
 */

/* One closed set of label values; value i is C enumerator i. `strings` are interned at module
 * initialisation and exported as the module constants `names`. */
enum { kMaxValues = 15 };
typedef struct Vocabulary {
  const char* what; /* the argument, for error messages */
  int n;
  const char* values[kMaxValues];
  const char* names[kMaxValues]; /* module constants */
  PyObject* strings[kMaxValues];
  /* The last other str object found equal to strings[i]: a caller's literal that CPython did not
   * intern ("user-hangup" is not an identifier) passes the same object on every call, so it,
   * too, then costs a pointer compare. A strong reference, one per value. */
  PyObject* seen[kMaxValues];
  Py_ssize_t lengths[kMaxValues];
  char allowed[256]; /* "'inbound', 'outbound'", for error messages */
} Vocabulary;

static Vocabulary direction_v = {.what = "direction",
                                 .n = 2,
                                 .values = {"inbound", "outbound"},
                                 .names = {"DIRECTION_INBOUND", "DIRECTION_OUTBOUND"}};
static Vocabulary bye_by_v = {.what = "by",
                              .n = 2,
                              .values = {"local", "remote"},
                              .names = {"BYE_BY_LOCAL", "BYE_BY_REMOTE"}};
static Vocabulary bye_reason_v = {.what = "reason",
                                  .n = 4,
                                  .values = {"normal", "timer-expired", "error", "user-hangup"},
                                  .names = {"BYE_REASON_NORMAL", "BYE_REASON_TIMER_EXPIRED",
                                            "BYE_REASON_ERROR", "BYE_REASON_USER_HANGUP"}};
static Vocabulary refresh_v = {.what = "result",
                               .n = 5,
                               .values = {"ok", "422-bumped", "422-gave-up", "481", "role-swap"},
                               .names = {"REFRESH_OK", "REFRESH_BUMPED_422", "REFRESH_GAVE_UP_422",
                                         "REFRESH_DIALOG_GONE_481", "REFRESH_ROLE_SWAP"}};
static Vocabulary dtls_v = {
    .what = "result",
    .n = 4,
    .values = {"ok", "fail", "timeout", "fingerprint-mismatch"},
    .names = {"DTLS_OK", "DTLS_FAIL", "DTLS_TIMEOUT", "DTLS_FINGERPRINT_MISMATCH"}};
static Vocabulary stir_v = {
    .what = "result",
    .n = 4,
    .values = {"verified", "failed", "soft-fail", "no-identity"},
    .names = {"STIR_VERIFIED", "STIR_FAILED", "STIR_SOFT_FAIL", "STIR_NO_IDENTITY"}};
static Vocabulary attach_mode_v = {.what = "mode",
                                   .n = 2,
                                   .values = {"cascaded", "realtime"},
                                   .names = {"VOICE_ATTACH_CASCADED", "VOICE_ATTACH_REALTIME"}};
static Vocabulary attach_result_v = {.what = "result",
                                     .n = 2,
                                     .values = {"ok", "config_error"},
                                     .names = {"VOICE_ATTACH_OK", "VOICE_ATTACH_CONFIG_ERROR"}};
static Vocabulary voice_mode_v = {.what = "mode",
                                  .n = 2,
                                  .values = {"pipeline", "realtime"},
                                  .names = {"VOICE_MODE_PIPELINE", "VOICE_MODE_REALTIME"}};
static Vocabulary transport_v = {.what = "transport",
                                 .n = 2,
                                 .values = {"sip", "webrtc"},
                                 .names = {"TRANSPORT_SIP", "TRANSPORT_WEBRTC"}};
static Vocabulary call_status_v = {
    .what = "status",
    .n = 4,
    .values = {"ok", "dialog-hangup", "ice-failed", "pipeline-error"},
    .names = {"CALL_OK", "CALL_DIALOG_HANGUP", "CALL_ICE_FAILED", "CALL_PIPELINE_ERROR"}};
static Vocabulary dialog_outcome_v = {
    .what = "outcome", .n = 2, .values = {"ok", "fail"}, .names = {"DIALOG_OK", "DIALOG_FAIL"}};
static Vocabulary code_class_v = {.what = "code_class",
                                  .n = 7,
                                  .values = {"1xx", "2xx", "3xx", "4xx", "5xx", "6xx", "other"},
                                  .names = {"CODE_1XX", "CODE_2XX", "CODE_3XX", "CODE_4XX",
                                            "CODE_5XX", "CODE_6XX", "CODE_OTHER"}};
static Vocabulary method_v = {
    .what = "method",
    .n = 15,
    .values = {"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
               "NOTIFY", "UPDATE", "MESSAGE", "REFER", "PUBLISH", "INFO", "other"},
    .names = {"METHOD_INVITE", "METHOD_ACK", "METHOD_BYE", "METHOD_CANCEL", "METHOD_REGISTER",
              "METHOD_OPTIONS", "METHOD_PRACK", "METHOD_SUBSCRIBE", "METHOD_NOTIFY",
              "METHOD_UPDATE", "METHOD_MESSAGE", "METHOD_REFER", "METHOD_PUBLISH", "METHOD_INFO",
              "METHOD_OTHER"}};
static Vocabulary gauge_mode_v = {.what = "mode",
                                  .n = 4,
                                  .values = {"sum", "max", "min", "last"},
                                  .names = {"GAUGE_SUM", "GAUGE_MAX", "GAUGE_MIN", "GAUGE_LAST"}};

static Vocabulary* const vocabularies[] = {
    &direction_v,   &bye_by_v,         &bye_reason_v,    &refresh_v,    &dtls_v,
    &stir_v,        &attach_mode_v,    &attach_result_v, &voice_mode_v, &transport_v,
    &call_status_v, &dialog_outcome_v, &code_class_v,    &method_v,     &gauge_mode_v};

/* The C enumerator of `o`, one of v's strings; -1 with TypeError / ValueError set otherwise. */
static int enumerator(Vocabulary* v, PyObject* o, const char* fn) {
  for (int i = 0; i < v->n; ++i)
    if (o == v->strings[i] || o == v->seen[i]) return i;
  if (!PyUnicode_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s(): %s must be a str (one of %s), not %.100s", fn, v->what,
                 v->allowed, Py_TYPE(o)->tp_name);
    return -1;
  }
  Py_ssize_t len = 0;
  const char* s = PyUnicode_AsUTF8AndSize(o, &len); /* ASCII: the string's own buffer */
  if (s == NULL) return -1;
  for (int i = 0; i < v->n; ++i) {
    if (len == v->lengths[i] && memcmp(s, v->values[i], (size_t)len) == 0) {
      Py_XSETREF(v->seen[i], Py_NewRef(o));
      return i;
    }
  }
  PyErr_Format(PyExc_ValueError, "%s(): %s must be one of %s, not %R", fn, v->what, v->allowed, o);
  return -1;
}

/* ==== Argument helpers ==========================================================================
 */

static int arg_count(const char* fn, Py_ssize_t given, Py_ssize_t want) {
  if (given == want) return 1;
  PyErr_Format(PyExc_TypeError, "%s() takes %zd positional argument%s (%zd given)", fn, want,
               want == 1 ? "" : "s", given);
  return 0;
}

/* A float from an int, a float or any object with __float__ / __index__. */
static int real_arg(PyObject* o, double* out, const char* fn, const char* what) {
  if (PyFloat_CheckExact(o)) {
    *out = PyFloat_AS_DOUBLE(o);
    return 1;
  }
  if (PyLong_CheckExact(o)) { /* no float object made on the way */
    *out = PyLong_AsDouble(o);
    return !(*out == -1.0 && PyErr_Occurred());
  }
  if (PyUnicode_Check(o) || PyBytes_Check(o) || o == Py_None) goto wrong_type;
  *out = PyFloat_AsDouble(o);
  if (*out == -1.0 && PyErr_Occurred()) {
    if (!PyErr_ExceptionMatches(PyExc_TypeError)) return 0;
    PyErr_Clear();
    goto wrong_type;
  }
  return 1;
wrong_type:
  PyErr_Format(PyExc_TypeError, "%s(): %s must be an int or a float, not %.100s", fn, what,
               Py_TYPE(o)->tp_name);
  return 0;
}

/* An int in [INT_MIN, INT_MAX]; out of range: *overflow = -1 or +1 and *out untouched. */
static int int_arg(PyObject* o, long long* out, int* overflow, const char* fn, const char* what) {
  if (!PyLong_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s(): %s must be an int, not %.100s", fn, what,
                 Py_TYPE(o)->tp_name);
    return 0;
  }
  *overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(o, overflow);
  if (v == -1 && PyErr_Occurred()) return 0;
  if (*overflow == 0) *out = v;
  return 1;
}

/* A milliseconds argument of a first-byte helper: a C int; <= 0 is "no data" for the C API, so
 * any negative int passes as 0; above INT_MAX is a ValueError. */
static int ms_arg(PyObject* o, int* out, const char* fn) {
  long long v = 0;
  int overflow = 0;
  if (!int_arg(o, &v, &overflow, fn, "ms")) return 0;
  if (overflow < 0 || (overflow == 0 && v <= 0)) {
    *out = 0;
    return 1;
  }
  if (overflow > 0 || v > INT_MAX) {
    PyErr_Format(PyExc_ValueError, "%s(): ms must be at most %d, not %R", fn, INT_MAX, o);
    return 0;
  }
  *out = (int)v;
  return 1;
}

static int bool_arg(PyObject* o, int* out, const char* fn, const char* what) {
  if (!PyLong_Check(o)) { /* bool is an int; a str such as "config_error" is not accepted */
    PyErr_Format(PyExc_TypeError, "%s(): %s must be a bool, not %.100s", fn, what,
                 Py_TYPE(o)->tp_name);
    return 0;
  }
  *out = PyObject_IsTrue(o);
  return *out >= 0;
}

/* A str argument as UTF-8 (NULL allowed for None when `optional`). ValueError for a NUL inside. */
static int str_arg(PyObject* o, const char** out, int optional, const char* fn, const char* what) {
  if (optional && o == Py_None) {
    *out = NULL;
    return 1;
  }
  if (!PyUnicode_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s(): %s must be a str%s, not %.100s", fn, what,
                 optional ? " or None" : "", Py_TYPE(o)->tp_name);
    return 0;
  }
  Py_ssize_t len = 0;
  const char* s = PyUnicode_AsUTF8AndSize(o, &len);
  if (s == NULL) return 0;
  if (strlen(s) != (size_t)len) {
    PyErr_Format(PyExc_ValueError, "%s(): %s contains a NUL character", fn, what);
    return 0;
  }
  *out = s;
  return 1;
}

/* Labels: None, a dict {key: value} or a sequence of (key, value) pairs, all str. The C strings
 * point into the str objects, which `keep` (or the caller's dict) holds for the call. */
typedef struct Labels {
  sipmetrics_label items[SIPMETRICS_MAX_LABELS];
  size_t n;
  PyObject* keep;
} Labels;

static int labels_arg(PyObject* o, Labels* out, const char* fn) {
  out->n = 0;
  out->keep = NULL;
  if (o == NULL || o == Py_None) return 1;
  if (PyDict_Check(o)) {
    if (PyDict_GET_SIZE(o) > SIPMETRICS_MAX_LABELS) goto too_many;
    Py_ssize_t pos = 0;
    PyObject *k = NULL, *v = NULL;
    while (PyDict_Next(o, &pos, &k, &v)) {
      if (!str_arg(k, &out->items[out->n].key, 0, fn, "a label key") ||
          !str_arg(v, &out->items[out->n].value, 0, fn, "a label value"))
        return 0;
      ++out->n;
    }
    return 1;
  }
  if (PyUnicode_Check(o) || PyBytes_Check(o)) goto wrong_type;
  out->keep = PySequence_Fast(o, "");
  if (out->keep == NULL) {
    PyErr_Clear();
    goto wrong_type;
  }
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(out->keep);
  if (n > SIPMETRICS_MAX_LABELS) goto too_many;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* pair = PySequence_Fast_GET_ITEM(out->keep, i);
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
      PyErr_Format(PyExc_TypeError, "%s(): labels must hold (key, value) pairs, not %.100s", fn,
                   Py_TYPE(pair)->tp_name);
      return 0;
    }
    if (!str_arg(PyTuple_GET_ITEM(pair, 0), &out->items[i].key, 0, fn, "a label key") ||
        !str_arg(PyTuple_GET_ITEM(pair, 1), &out->items[i].value, 0, fn, "a label value"))
      return 0;
    out->n = (size_t)i + 1;
  }
  return 1;
too_many:
  PyErr_Format(PyExc_ValueError, "%s(): at most %d labels per series", fn, SIPMETRICS_MAX_LABELS);
  return 0;
wrong_type:
  PyErr_Format(PyExc_TypeError,
               "%s(): labels must be None, a dict or a sequence of (key, value) pairs, not %.100s",
               fn, Py_TYPE(o)->tp_name);
  return 0;
}

static void labels_release(Labels* l) { Py_CLEAR(l->keep); }

/* ==== Statuses ==================================================================================
 */

static PyObject* status_ok;       /* "ok" */
static PyObject* status_detached; /* "detached" */
static PyObject* status_refused;  /* "refused" */

/* A cold call's status as the module's status string (new reference); an exception for the
 * statuses the binding's own checks rule out. */
static PyObject* status_result(sipmetrics_status s) {
  switch (s) {
    case SIPMETRICS_OK: return Py_NewRef(status_ok);
    case SIPMETRICS_DETACHED: return Py_NewRef(status_detached);
    case SIPMETRICS_REFUSED: return Py_NewRef(status_refused);
    case SIPMETRICS_NO_MEMORY: return PyErr_NoMemory();
    case SIPMETRICS_INVALID_ARGUMENT: break;
  }
  PyErr_Format(PyExc_ValueError, "sipmetrics: %s", sipmetrics_status_string(s));
  return NULL;
}

/* A refused series is a no-op handle, as in C (the refusal is counted on /metrics); the Python
 * programmer also gets a RuntimeWarning, which only an "error" warnings filter turns into an
 * exception. */
static int warn_refused(sipmetrics_status s, const char* kind, const char* name) {
  if (s != SIPMETRICS_REFUSED) return 0;
  return PyErr_WarnFormat(PyExc_RuntimeWarning, 1,
                          "sipmetrics: %s '%s' refused (a name or label key outside Prometheus' "
                          "grammar, a full catalog, or another type, gauge mode or histogram "
                          "bounds already registered); its handle is a no-op",
                          kind, name);
}

/* ==== Handles ===================================================================================
 */

/* The new handle `h` resolved with status `s`, or NULL with an exception (h released). */
static PyObject* resolved(PyObject* h, sipmetrics_status s, const char* kind, const char* name) {
  if (s == SIPMETRICS_INVALID_ARGUMENT || s == SIPMETRICS_NO_MEMORY) {
    Py_DECREF(h);
    return status_result(s);
  }
  if (warn_refused(s, kind, name) < 0) {
    Py_DECREF(h);
    return NULL;
  }
  return h;
}

typedef struct CounterObject {
  PyObject_HEAD sipmetrics_counter h;
  sipmetrics_status status;
} CounterObject;
typedef struct GaugeObject {
  PyObject_HEAD sipmetrics_gauge h;
  sipmetrics_status status;
} GaugeObject;
typedef struct SummaryObject {
  PyObject_HEAD sipmetrics_summary h;
  sipmetrics_status status;
} SummaryObject;
/* The C histogram handle is 64 bytes and passed to the C API by address, read in place. */
typedef struct HistogramObject {
  PyObject_HEAD sipmetrics_histogram h;
  sipmetrics_status status;
} HistogramObject;

static PyTypeObject CounterType, GaugeType, SummaryType, HistogramType;

static PyObject* counter_inc(PyObject* self, PyObject* Py_UNUSED(unused)) {
  sipmetrics_counter_inc(((CounterObject*)self)->h);
  Py_RETURN_NONE;
}

static PyObject* counter_add(PyObject* self, PyObject* n) {
  long long v = 0;
  int overflow = 0;
  if (!int_arg(n, &v, &overflow, "Counter.add", "n")) return NULL;
  uint64_t u = (uint64_t)v;
  if (overflow > 0) {
    const unsigned long long big = PyLong_AsUnsignedLongLong(n);
    if (big == (unsigned long long)-1 && PyErr_Occurred()) {
      PyErr_Format(PyExc_ValueError, "Counter.add(): n must be below 2**64, not %R", n);
      return NULL;
    }
    u = big;
  } else if (overflow < 0 || v < 0) {
    PyErr_Format(PyExc_ValueError, "Counter.add(): n must be >= 0 (counters never go down), not %R",
                 n);
    return NULL;
  }
  sipmetrics_counter_add(((CounterObject*)self)->h, u);
  Py_RETURN_NONE;
}

static PyObject* gauge_add(PyObject* self, PyObject* d) {
  double v = 0;
  if (!real_arg(d, &v, "Gauge.add", "d")) return NULL;
  sipmetrics_gauge_add(((GaugeObject*)self)->h, v);
  Py_RETURN_NONE;
}

static PyObject* gauge_set(PyObject* self, PyObject* value) {
  double v = 0;
  if (!real_arg(value, &v, "Gauge.set", "v")) return NULL;
  sipmetrics_gauge_set(((GaugeObject*)self)->h, v);
  Py_RETURN_NONE;
}

static PyObject* gauge_inc(PyObject* self, PyObject* Py_UNUSED(unused)) {
  sipmetrics_gauge_add(((GaugeObject*)self)->h, 1.0);
  Py_RETURN_NONE;
}

static PyObject* gauge_dec(PyObject* self, PyObject* Py_UNUSED(unused)) {
  sipmetrics_gauge_add(((GaugeObject*)self)->h, -1.0);
  Py_RETURN_NONE;
}

static PyObject* summary_observe(PyObject* self, PyObject* value) {
  double v = 0;
  if (!real_arg(value, &v, "Summary.observe", "v")) return NULL;
  sipmetrics_summary_observe(((SummaryObject*)self)->h, v);
  Py_RETURN_NONE;
}

static PyObject* histogram_observe(PyObject* self, PyObject* value) {
  double v = 0;
  if (!real_arg(value, &v, "Histogram.observe", "v")) return NULL;
  sipmetrics_histogram_observe(&((HistogramObject*)self)->h, v);
  Py_RETURN_NONE;
}

static PyObject* counter_status(PyObject* self, void* Py_UNUSED(c)) {
  return status_result(((CounterObject*)self)->status);
}
static PyObject* gauge_status(PyObject* self, void* Py_UNUSED(c)) {
  return status_result(((GaugeObject*)self)->status);
}
static PyObject* summary_status(PyObject* self, void* Py_UNUSED(c)) {
  return status_result(((SummaryObject*)self)->status);
}
static PyObject* histogram_status(PyObject* self, void* Py_UNUSED(c)) {
  return status_result(((HistogramObject*)self)->status);
}
static PyObject* counter_valid(PyObject* self, void* Py_UNUSED(c)) {
  return PyBool_FromLong(sipmetrics_counter_valid(((CounterObject*)self)->h));
}
static PyObject* gauge_valid(PyObject* self, void* Py_UNUSED(c)) {
  return PyBool_FromLong(sipmetrics_gauge_valid(((GaugeObject*)self)->h));
}
static PyObject* summary_valid(PyObject* self, void* Py_UNUSED(c)) {
  return PyBool_FromLong(sipmetrics_summary_valid(((SummaryObject*)self)->h));
}
static PyObject* histogram_valid(PyObject* self, void* Py_UNUSED(c)) {
  return PyBool_FromLong(sipmetrics_histogram_valid(&((HistogramObject*)self)->h));
}

static PyObject* handle_repr(PyObject* self, sipmetrics_status status) {
  PyObject* s = status_result(status);
  if (s == NULL) return NULL;
  PyObject* r = PyUnicode_FromFormat("<%s status=%R>", Py_TYPE(self)->tp_name, s);
  Py_DECREF(s);
  return r;
}
static PyObject* counter_repr(PyObject* self) {
  return handle_repr(self, ((CounterObject*)self)->status);
}
static PyObject* gauge_repr(PyObject* self) {
  return handle_repr(self, ((GaugeObject*)self)->status);
}
static PyObject* summary_repr(PyObject* self) {
  return handle_repr(self, ((SummaryObject*)self)->status);
}
static PyObject* histogram_repr(PyObject* self) {
  return handle_repr(self, ((HistogramObject*)self)->status);
}

static PyMethodDef counter_methods[] = {
    {"inc", counter_inc, METH_NOARGS, "inc()\n--\n\nAdds 1. Hot: no allocation, lock or syscall."},
    {"add", counter_add, METH_O, "add(n)\n--\n\nAdds the int n >= 0. Hot."},
    {NULL, NULL, 0, NULL}};
static PyMethodDef gauge_methods[] = {
    {"add", gauge_add, METH_O, "add(d)\n--\n\nAdds d (negative to subtract). Hot."},
    {"set", gauge_set, METH_O, "set(v)\n--\n\nSets the value (see the gauge's mode). Hot."},
    {"inc", gauge_inc, METH_NOARGS, "inc()\n--\n\nadd(1). Hot."},
    {"dec", gauge_dec, METH_NOARGS, "dec()\n--\n\nadd(-1). Hot."},
    {NULL, NULL, 0, NULL}};
static PyMethodDef summary_methods[] = {
    {"observe", summary_observe, METH_O,
     "observe(v)\n--\n\nOne sample in the metric's unit. NaN, +-Inf and negatives are "
     "counted in sipmetrics_invalid_samples_total and left out of _sum, _count and the "
     "quantiles. Hot."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef histogram_methods[] = {
    {"observe", histogram_observe, METH_O,
     "observe(v)\n--\n\nOne observation in the metric's unit: +1 in its bucket and _count, +v to "
     "_sum (a negative value counts in the first bucket, NaN and +Inf in the +Inf bucket, none of "
     "them in _sum). Hot."},
    {NULL, NULL, 0, NULL}};
static PyGetSetDef counter_getset[] = {
    {"status", counter_status, NULL, "'ok', 'detached' or 'refused' (then a no-op).", NULL},
    {"valid", counter_valid, NULL, "True when updates reach a segment.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};
static PyGetSetDef gauge_getset[] = {
    {"status", gauge_status, NULL, "'ok', 'detached' or 'refused' (then a no-op).", NULL},
    {"valid", gauge_valid, NULL, "True when updates reach a segment.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};
static PyGetSetDef summary_getset[] = {
    {"status", summary_status, NULL, "'ok', 'detached' or 'refused' (then a no-op).", NULL},
    {"valid", summary_valid, NULL, "True when updates reach a segment.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};
static PyGetSetDef histogram_getset[] = {
    {"status", histogram_status, NULL, "'ok', 'detached' or 'refused' (then a no-op).", NULL},
    {"valid", histogram_valid, NULL, "True when updates reach a segment.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject CounterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sipmetrics.Counter",
    .tp_basicsize = sizeof(CounterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "A counter series, from Client.counter(). Valid for the life of the process, "
        "fork() included; thread-safe.",
    .tp_methods = counter_methods,
    .tp_getset = counter_getset,
    .tp_repr = counter_repr,
};
static PyTypeObject GaugeType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sipmetrics.Gauge",
    .tp_basicsize = sizeof(GaugeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "A gauge series, from Client.gauge(). Valid for the life of the process, fork() "
        "included; thread-safe.",
    .tp_methods = gauge_methods,
    .tp_getset = gauge_getset,
    .tp_repr = gauge_repr,
};
static PyTypeObject SummaryType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sipmetrics.Summary",
    .tp_basicsize = sizeof(SummaryObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "A summary series, from Client.summary(). Valid for the life of the process, "
        "fork() included; thread-safe.",
    .tp_methods = summary_methods,
    .tp_getset = summary_getset,
    .tp_repr = summary_repr,
};
static PyTypeObject HistogramType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sipmetrics.Histogram",
    .tp_basicsize = sizeof(HistogramObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "A classic histogram series, from Client.histogram(). Valid for the life of the "
        "process, fork() included; thread-safe.",
    .tp_methods = histogram_methods,
    .tp_getset = histogram_getset,
    .tp_repr = histogram_repr,
};

/* ==== Client ====================================================================================
 */

typedef struct ClientObject {
  PyObject_HEAD sipmetrics_client* c;
  int owned; /* opened here (closed with the object); 0 for the global client */
} ClientObject;

static PyTypeObject ClientType;
static PyObject* global_client; /* Client(), created on first use, never freed */

static PyObject* client_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static char* kwlist[] = {"segment", "writer", NULL};
  PyObject *segment = Py_None, *writer = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:Client", kwlist, &segment, &writer))
    return NULL;
  if (segment == Py_None && writer == Py_None) {
    if (global_client == NULL) {
      ClientObject* g = PyObject_New(ClientObject, type);
      if (g == NULL) return NULL;
      g->c = sipmetrics_global();
      g->owned = 0;
      global_client = (PyObject*)g;
    }
    return Py_NewRef(global_client);
  }
  PyObject* segment_bytes = NULL; /* str or os.PathLike, in the file system's encoding */
  if (segment != Py_None && !PyUnicode_FSConverter(segment, &segment_bytes)) return NULL;
  const char* writer_name = NULL;
  if (!str_arg(writer, &writer_name, 1, "Client", "writer")) {
    Py_XDECREF(segment_bytes);
    return NULL;
  }
  ClientObject* self = PyObject_New(ClientObject, type);
  if (self == NULL) {
    Py_XDECREF(segment_bytes);
    return NULL;
  }
  self->c = NULL;
  self->owned = 1;
  const sipmetrics_status s = sipmetrics_client_open(
      segment_bytes ? PyBytes_AS_STRING(segment_bytes) : NULL, writer_name, &self->c);
  Py_XDECREF(segment_bytes);
  if (self->c == NULL) {
    Py_DECREF(self);
    return s == SIPMETRICS_NO_MEMORY ? PyErr_NoMemory() : status_result(s);
  }
  return (PyObject*)self;
}

static void client_dealloc(PyObject* self) {
  ClientObject* c = (ClientObject*)self;
  if (c->owned) sipmetrics_client_close(c->c);
  PyObject_Free(self);
}

static sipmetrics_client* client_of(PyObject* self) { return ((ClientObject*)self)->c; }

static PyObject* client_attached(PyObject* self, void* Py_UNUSED(c)) {
  return PyBool_FromLong(sipmetrics_client_attached(client_of(self)));
}

static PyObject* client_repr(PyObject* self) {
  return PyUnicode_FromFormat(
      "<sipmetrics.Client%s %s>", self == global_client ? " (global)" : "",
      sipmetrics_client_attached(client_of(self)) ? "attached" : "detached");
}

/* ---- Handles: resolve once (cold) -------------------------------------------------------------
 */

static PyObject* client_counter(PyObject* self, PyObject* args, PyObject* kwargs) {
  static char* kwlist[] = {"name", "help", "labels", NULL};
  PyObject *name_o, *help_o = Py_None, *labels_o = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OO:counter", kwlist, &name_o, &help_o,
                                   &labels_o))
    return NULL;
  const char *name, *help;
  Labels l;
  if (!str_arg(name_o, &name, 0, "counter", "name") ||
      !str_arg(help_o, &help, 1, "counter", "help"))
    return NULL;
  if (!labels_arg(labels_o, &l, "counter")) {
    labels_release(&l);
    return NULL;
  }
  CounterObject* h = PyObject_New(CounterObject, &CounterType);
  if (h != NULL) {
    h->status = sipmetrics_counter_get(client_of(self), name, help, l.items, l.n, &h->h);
  }
  labels_release(&l);
  return h ? resolved((PyObject*)h, h->status, "counter", name) : NULL;
}

static PyObject* client_gauge(PyObject* self, PyObject* args, PyObject* kwargs) {
  static char* kwlist[] = {"name", "help", "labels", "mode", NULL};
  PyObject *name_o, *help_o = Py_None, *labels_o = Py_None, *mode_o = gauge_mode_v.strings[0];
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOO:gauge", kwlist, &name_o, &help_o, &labels_o,
                                   &mode_o))
    return NULL;
  const char *name, *help;
  Labels l;
  if (!str_arg(name_o, &name, 0, "gauge", "name") || !str_arg(help_o, &help, 1, "gauge", "help"))
    return NULL;
  const int mode = enumerator(&gauge_mode_v, mode_o, "gauge");
  if (mode < 0) return NULL;
  if (!labels_arg(labels_o, &l, "gauge")) {
    labels_release(&l);
    return NULL;
  }
  GaugeObject* h = PyObject_New(GaugeObject, &GaugeType);
  if (h != NULL) {
    h->status = sipmetrics_gauge_get(client_of(self), name, help, l.items, l.n,
                                     (sipmetrics_gauge_mode)mode, &h->h);
  }
  labels_release(&l);
  return h ? resolved((PyObject*)h, h->status, "gauge", name) : NULL;
}

static PyObject* client_summary(PyObject* self, PyObject* args, PyObject* kwargs) {
  static char* kwlist[] = {"name", "help", "labels", "window_samples", NULL};
  PyObject *name_o, *help_o = Py_None, *labels_o = Py_None, *window_o = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOO:summary", kwlist, &name_o, &help_o,
                                   &labels_o, &window_o))
    return NULL;
  const char *name, *help;
  Labels l;
  long long window = 0;
  int overflow = 0;
  if (!str_arg(name_o, &name, 0, "summary", "name") ||
      !str_arg(help_o, &help, 1, "summary", "help"))
    return NULL;
  if (window_o != NULL) {
    if (!int_arg(window_o, &window, &overflow, "summary", "window_samples")) return NULL;
    if (overflow != 0 || window < 0 || window > UINT32_MAX) {
      PyErr_Format(PyExc_ValueError,
                   "summary(): window_samples must be in 0..%lu (0: the daemon's default), not %R",
                   (unsigned long)UINT32_MAX, window_o);
      return NULL;
    }
  }
  if (!labels_arg(labels_o, &l, "summary")) {
    labels_release(&l);
    return NULL;
  }
  SummaryObject* h = PyObject_New(SummaryObject, &SummaryType);
  if (h != NULL) {
    h->status =
        sipmetrics_summary_get(client_of(self), name, help, l.items, l.n, (uint32_t)window, &h->h);
  }
  labels_release(&l);
  return h ? resolved((PyObject*)h, h->status, "summary", name) : NULL;
}

static PyObject* client_histogram(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char fn[] = "histogram";
  static char* kwlist[] = {"name", "help", "labels", "bounds", NULL};
  PyObject *name_o, *help_o, *labels_o, *bounds_o;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO:histogram", kwlist, &name_o, &help_o,
                                   &labels_o, &bounds_o))
    return NULL;
  const char *name, *help;
  if (!str_arg(name_o, &name, 0, fn, "name") || !str_arg(help_o, &help, 1, fn, "help")) return NULL;
  if (PyUnicode_Check(bounds_o) || PyBytes_Check(bounds_o)) {
    PyErr_Format(PyExc_TypeError, "%s(): bounds must be a sequence of numbers, not %.100s", fn,
                 Py_TYPE(bounds_o)->tp_name);
    return NULL;
  }
  PyObject* seq = PySequence_Fast(bounds_o, "histogram(): bounds must be a sequence of numbers");
  if (seq == NULL) return NULL;
  const Py_ssize_t nb = PySequence_Fast_GET_SIZE(seq);
  double bounds[SIPMETRICS_MAX_HISTOGRAM_BOUNDS];
  if (nb > SIPMETRICS_MAX_HISTOGRAM_BOUNDS) {
    PyErr_Format(PyExc_ValueError, "%s(): at most %d bounds, not %zd", fn,
                 SIPMETRICS_MAX_HISTOGRAM_BOUNDS, nb);
    Py_DECREF(seq);
    return NULL;
  }
  for (Py_ssize_t i = 0; i < nb; ++i) {
    if (!real_arg(PySequence_Fast_GET_ITEM(seq, i), &bounds[i], fn, "a bound")) {
      Py_DECREF(seq);
      return NULL;
    }
  }
  Py_DECREF(seq);
  Labels l;
  if (!labels_arg(labels_o, &l, fn)) {
    labels_release(&l);
    return NULL;
  }
  HistogramObject* h = PyObject_New(HistogramObject, &HistogramType);
  if (h != NULL) {
    h->status = sipmetrics_histogram_get(client_of(self), name, help, l.items, l.n, bounds,
                                         (size_t)nb, &h->h);
  }
  labels_release(&l);
  if (h == NULL) return NULL;
  if (h->status == SIPMETRICS_INVALID_ARGUMENT) { /* everything else was checked above */
    Py_DECREF(h);
    PyErr_Format(PyExc_ValueError,
                 "%s(): bounds must be 1 to %d finite, non-negative, strictly increasing "
                 "numbers, not %R",
                 fn, SIPMETRICS_MAX_HISTOGRAM_BOUNDS, bounds_o);
    return NULL;
  }
  return resolved((PyObject*)h, h->status, "histogram", name);
}

static PyObject* client_register_labels(PyObject* self, PyObject* args, PyObject* kwargs) {
  static char* kwlist[] = {"family", "keys", NULL};
  PyObject *family_o, *keys_o;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:register_labels", kwlist, &family_o, &keys_o))
    return NULL;
  const char* family;
  if (!str_arg(family_o, &family, 0, "register_labels", "family")) return NULL;
  if (PyUnicode_Check(keys_o)) {
    PyErr_SetString(PyExc_TypeError,
                    "register_labels(): keys must be a sequence of str, not a str");
    return NULL;
  }
  PyObject* keys = PySequence_Fast(keys_o, "register_labels(): keys must be a sequence of str");
  if (keys == NULL) return NULL;
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(keys);
  const char** c_keys = PyMem_New(const char*, (size_t)(n > 0 ? n : 1));
  PyObject* result = NULL;
  if (c_keys == NULL) {
    PyErr_NoMemory();
    goto done;
  }
  for (Py_ssize_t i = 0; i < n; ++i)
    if (!str_arg(PySequence_Fast_GET_ITEM(keys, i), &c_keys[i], 0, "register_labels", "a key"))
      goto done;
  result = status_result(sipmetrics_register_labels(client_of(self), family, c_keys, (size_t)n));
done:
  PyMem_Free(c_keys);
  Py_DECREF(keys);
  return result;
}

/* ---- The seed's registry-style calls (look the series up on each call) ------------------------
 */
/* Positional, as the seed's: name, help (str or None), labels (None, dict or pairs), then the
 * value. Each returns the status string. */

static int registry_args(const char* fn, PyObject* const* a, Py_ssize_t n, Py_ssize_t min,
                         Py_ssize_t max, const char** name, const char** help, Labels* l,
                         Py_ssize_t labels_at) {
  l->n = 0;
  l->keep = NULL;
  if (n < min || n > max) {
    if (min == max) return arg_count(fn, n, min);
    PyErr_Format(PyExc_TypeError, "%s() takes %zd to %zd positional arguments (%zd given)", fn, min,
                 max, n);
    return 0;
  }
  *help = NULL;
  if (!str_arg(a[0], name, 0, fn, "name")) return 0;
  if (n > 1 && !str_arg(a[1], help, 1, fn, "help")) return 0;
  return labels_at < 0 || labels_at >= n || labels_arg(a[labels_at], l, fn);
}

static PyObject* client_inc_counter(PyObject* self, PyObject* const* a, Py_ssize_t n) {
  const char *name, *help;
  Labels l;
  PyObject* r = NULL;
  if (registry_args("inc_counter", a, n, 1, 3, &name, &help, &l, 2))
    r = status_result(sipmetrics_inc_counter(client_of(self), name, help, l.items, l.n));
  labels_release(&l);
  return r;
}

static PyObject* client_add_counter(PyObject* self, PyObject* const* a, Py_ssize_t n) {
  const char *name, *help;
  Labels l;
  PyObject* r = NULL;
  long long v = 0;
  int overflow = 0;
  if (registry_args("add_counter", a, n, 4, 4, &name, &help, &l, 2) &&
      int_arg(a[3], &v, &overflow, "add_counter", "n")) {
    if (overflow != 0 || v < 0)
      PyErr_Format(PyExc_ValueError, "add_counter(): n must be in 0..2**63-1, not %R", a[3]);
    else
      r = status_result(
          sipmetrics_add_counter(client_of(self), name, help, l.items, l.n, (uint64_t)v));
  }
  labels_release(&l);
  return r;
}

static PyObject* client_set_gauge(PyObject* self, PyObject* const* a, Py_ssize_t n) {
  const char *name, *help;
  Labels l;
  PyObject* r = NULL;
  double v = 0;
  if (registry_args("set_gauge", a, n, 4, 4, &name, &help, &l, 2) &&
      real_arg(a[3], &v, "set_gauge", "v"))
    r = status_result(sipmetrics_set_gauge(client_of(self), name, help, l.items, l.n, v));
  labels_release(&l);
  return r;
}

static PyObject* client_add_gauge(PyObject* self, PyObject* const* a, Py_ssize_t n) {
  const char *name, *help;
  Labels l;
  PyObject* r = NULL;
  double v = 0;
  if (registry_args("add_gauge", a, n, 4, 4, &name, &help, &l, 2) &&
      real_arg(a[3], &v, "add_gauge", "v"))
    r = status_result(sipmetrics_add_gauge(client_of(self), name, help, l.items, l.n, v));
  labels_release(&l);
  return r;
}

static PyObject* client_observe(PyObject* self, PyObject* const* a, Py_ssize_t n) {
  const char *name, *help;
  Labels l;
  double v = 0;
  if (!registry_args("observe", a, n, 3, 3, &name, &help, &l, -1) ||
      !real_arg(a[2], &v, "observe", "v"))
    return NULL;
  return status_result(sipmetrics_observe(client_of(self), name, help, v));
}

static PyObject* client_observe_n(PyObject* self, PyObject* const* a, Py_ssize_t n) {
  const char *name, *help;
  Labels l;
  double v = 0;
  long long max_samples = 0;
  int overflow = 0;
  if (!registry_args("observe_n", a, n, 4, 4, &name, &help, &l, -1) ||
      !real_arg(a[2], &v, "observe_n", "v") ||
      !int_arg(a[3], &max_samples, &overflow, "observe_n", "max_samples"))
    return NULL;
  if (overflow < 0 || (overflow == 0 && max_samples <= 0)) max_samples = 0; /* the default */
  if (overflow > 0 || max_samples > INT_MAX) {
    PyErr_Format(PyExc_ValueError, "observe_n(): max_samples must be at most %d, not %R", INT_MAX,
                 a[3]);
    return NULL;
  }
  return status_result(sipmetrics_observe_n(client_of(self), name, help, v, (int)max_samples));
}

static PyObject* client_observe_async(PyObject* self, PyObject* const* a, Py_ssize_t n) {
  const char *name, *help;
  Labels l;
  double v = 0;
  if (!registry_args("observe_async", a, n, 3, 3, &name, &help, &l, -1) ||
      !real_arg(a[2], &v, "observe_async", "v"))
    return NULL;
  return status_result(sipmetrics_observe_async(client_of(self), name, help, v));
}

static PyObject* client_async_dropped_count(PyObject* self, PyObject* Py_UNUSED(unused)) {
  return PyLong_FromUnsignedLongLong(sipmetrics_async_dropped_count(client_of(self)));
}

/* ==== Typed SIP helpers =========================================================================
 */
/* Each helper is written once, on a client: NULL is the global one (sipmetrics_sip_X), anything
 * else an explicit Client (sipmetrics_sip_X_on). SIP_ENTRY_POINTS below makes the module
 * function and the Client method of each. */

static PyObject* sip_prepare(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  (void)a;
  if (!arg_count("prepare", n, 0)) return NULL;
  return status_result(c ? sipmetrics_sip_prepare_on(c) : sipmetrics_sip_prepare());
}

static PyObject* sip_invite_result(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("invite_result", n, 2)) return NULL;
  const int direction = enumerator(&direction_v, a[0], "invite_result");
  long long code = 0;
  int overflow = 0;
  if (direction < 0 || !int_arg(a[1], &code, &overflow, "invite_result", "code")) return NULL;
  /* Any int that is not a SIP status code counts under code_class="other": so does one beyond
   * a C int. */
  const int c_code = (overflow != 0 || code < INT_MIN || code > INT_MAX) ? 0 : (int)code;
  if (c)
    sipmetrics_sip_invite_result_on(c, (sipmetrics_sip_direction)direction, c_code);
  else
    sipmetrics_sip_invite_result((sipmetrics_sip_direction)direction, c_code);
  Py_RETURN_NONE;
}

static PyObject* sip_bye(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("bye", n, 3)) return NULL;
  const int direction = enumerator(&direction_v, a[0], "bye");
  if (direction < 0) return NULL;
  const int by = enumerator(&bye_by_v, a[1], "bye");
  if (by < 0) return NULL;
  const int reason = enumerator(&bye_reason_v, a[2], "bye");
  if (reason < 0) return NULL;
  if (c)
    sipmetrics_sip_bye_on(c, (sipmetrics_sip_direction)direction, (sipmetrics_sip_bye_by)by,
                          (sipmetrics_sip_bye_reason)reason);
  else
    sipmetrics_sip_bye((sipmetrics_sip_direction)direction, (sipmetrics_sip_bye_by)by,
                       (sipmetrics_sip_bye_reason)reason);
  Py_RETURN_NONE;
}

static PyObject* sip_bye_outbound(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("bye_outbound", n, 2)) return NULL;
  const int by = enumerator(&bye_by_v, a[0], "bye_outbound");
  if (by < 0) return NULL;
  const int reason = enumerator(&bye_reason_v, a[1], "bye_outbound");
  if (reason < 0) return NULL;
  if (c)
    sipmetrics_sip_bye_outbound_on(c, (sipmetrics_sip_bye_by)by, (sipmetrics_sip_bye_reason)reason);
  else
    sipmetrics_sip_bye_outbound((sipmetrics_sip_bye_by)by, (sipmetrics_sip_bye_reason)reason);
  Py_RETURN_NONE;
}

static PyObject* sip_transaction_timeout(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("transaction_timeout", n, 1)) return NULL;
  if (!PyUnicode_Check(a[0])) {
    PyErr_Format(PyExc_TypeError, "transaction_timeout(): method must be a str, not %.100s",
                 Py_TYPE(a[0])->tp_name);
    return NULL;
  }
  Py_ssize_t len = 0;
  const char* method = PyUnicode_AsUTF8AndSize(a[0], &len);
  if (method == NULL) return NULL;
  if (c)
    sipmetrics_sip_transaction_timeout_str_on(c, method, (size_t)len);
  else
    sipmetrics_sip_transaction_timeout_str(method, (size_t)len);
  Py_RETURN_NONE;
}

static PyObject* sip_session_timer_refresh(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("session_timer_refresh", n, 1)) return NULL;
  const int result = enumerator(&refresh_v, a[0], "session_timer_refresh");
  if (result < 0) return NULL;
  if (c)
    sipmetrics_sip_session_timer_refresh_on(c, (sipmetrics_sip_refresh_result)result);
  else
    sipmetrics_sip_session_timer_refresh((sipmetrics_sip_refresh_result)result);
  Py_RETURN_NONE;
}

static PyObject* sip_dtls_handshake(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("dtls_handshake", n, 1)) return NULL;
  const int result = enumerator(&dtls_v, a[0], "dtls_handshake");
  if (result < 0) return NULL;
  if (c)
    sipmetrics_sip_dtls_handshake_on(c, (sipmetrics_sip_dtls_result)result);
  else
    sipmetrics_sip_dtls_handshake((sipmetrics_sip_dtls_result)result);
  Py_RETURN_NONE;
}

static PyObject* sip_stir_verify(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("stir_verify", n, 1)) return NULL;
  const int result = enumerator(&stir_v, a[0], "stir_verify");
  if (result < 0) return NULL;
  if (c)
    sipmetrics_sip_stir_verify_on(c, (sipmetrics_sip_stir_result)result);
  else
    sipmetrics_sip_stir_verify((sipmetrics_sip_stir_result)result);
  Py_RETURN_NONE;
}

static PyObject* sip_observe_call_qos(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  static const char fn[] = "observe_call_qos";
  if (!arg_count(fn, n, 4)) return NULL;
  long long rtt = 0;
  int overflow = 0;
  double jitter = 0, loss = 0, mos = 0;
  if (!int_arg(a[0], &rtt, &overflow, fn, "rtt_ms") || !real_arg(a[1], &jitter, fn, "jitter_ms") ||
      !real_arg(a[2], &loss, fn, "loss_fraction") || !real_arg(a[3], &mos, fn, "mos_estimate"))
    return NULL;
  if (overflow < 0 || (overflow == 0 && rtt < 0)) rtt = 0; /* <= 0: "no data" for the C API */
  if (overflow > 0 || rtt > UINT32_MAX) {
    PyErr_Format(PyExc_ValueError, "%s(): rtt_ms must be at most %lu, not %R", fn,
                 (unsigned long)UINT32_MAX, a[0]);
    return NULL;
  }
  if (c)
    sipmetrics_sip_observe_call_qos_on(c, (uint32_t)rtt, jitter, loss, mos);
  else
    sipmetrics_sip_observe_call_qos((uint32_t)rtt, jitter, loss, mos);
  Py_RETURN_NONE;
}

static PyObject* sip_voice_attach(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("voice_attach", n, 2)) return NULL;
  const int mode = enumerator(&attach_mode_v, a[0], "voice_attach");
  int ok = 0;
  if (mode < 0 || !bool_arg(a[1], &ok, "voice_attach", "ok")) return NULL;
  if (c)
    sipmetrics_sip_voice_attach_on(c, (sipmetrics_sip_voice_attach_mode)mode, ok);
  else
    sipmetrics_sip_voice_attach((sipmetrics_sip_voice_attach_mode)mode, ok);
  Py_RETURN_NONE;
}

static PyObject* sip_voice_attach_with_result(sipmetrics_client* c, PyObject* const* a,
                                              Py_ssize_t n) {
  if (!arg_count("voice_attach_with_result", n, 2)) return NULL;
  const int mode = enumerator(&attach_mode_v, a[0], "voice_attach_with_result");
  if (mode < 0) return NULL;
  const int result = enumerator(&attach_result_v, a[1], "voice_attach_with_result");
  if (result < 0) return NULL;
  if (c)
    sipmetrics_sip_voice_attach_with_result_on(c, (sipmetrics_sip_voice_attach_mode)mode,
                                               (sipmetrics_sip_voice_attach_result)result);
  else
    sipmetrics_sip_voice_attach_with_result((sipmetrics_sip_voice_attach_mode)mode,
                                            (sipmetrics_sip_voice_attach_result)result);
  Py_RETURN_NONE;
}

static PyObject* sip_voice_attach_mode_fallback(sipmetrics_client* c, PyObject* const* a,
                                                Py_ssize_t n) {
  if (!arg_count("voice_attach_mode_fallback", n, 2)) return NULL;
  const int from = enumerator(&voice_mode_v, a[0], "voice_attach_mode_fallback");
  if (from < 0) return NULL;
  const int to = enumerator(&voice_mode_v, a[1], "voice_attach_mode_fallback");
  if (to < 0) return NULL;
  if (c)
    sipmetrics_sip_voice_attach_mode_fallback_on(c, (sipmetrics_sip_voice_mode)from,
                                                 (sipmetrics_sip_voice_mode)to);
  else
    sipmetrics_sip_voice_attach_mode_fallback((sipmetrics_sip_voice_mode)from,
                                              (sipmetrics_sip_voice_mode)to);
  Py_RETURN_NONE;
}

static PyObject* sip_voice_attach_native(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  int ok = 0;
  if (!arg_count("voice_attach_native", n, 1) || !bool_arg(a[0], &ok, "voice_attach_native", "ok"))
    return NULL;
  if (c)
    sipmetrics_sip_voice_attach_native_on(c, ok);
  else
    sipmetrics_sip_voice_attach_native(ok);
  Py_RETURN_NONE;
}

static PyObject* sip_call_started(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("call_started", n, 1)) return NULL;
  const int transport = enumerator(&transport_v, a[0], "call_started");
  if (transport < 0) return NULL;
  if (c)
    sipmetrics_sip_call_started_on(c, (sipmetrics_sip_transport)transport);
  else
    sipmetrics_sip_call_started((sipmetrics_sip_transport)transport);
  Py_RETURN_NONE;
}

static PyObject* sip_call_ended(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("call_ended", n, 2)) return NULL;
  const int transport = enumerator(&transport_v, a[0], "call_ended");
  if (transport < 0) return NULL;
  const int status = enumerator(&call_status_v, a[1], "call_ended");
  if (status < 0) return NULL;
  if (c)
    sipmetrics_sip_call_ended_on(c, (sipmetrics_sip_transport)transport,
                                 (sipmetrics_sip_call_status)status);
  else
    sipmetrics_sip_call_ended((sipmetrics_sip_transport)transport,
                              (sipmetrics_sip_call_status)status);
  Py_RETURN_NONE;
}

/* The one-transport counters: asr_error, tts_error, barge_in. */
static PyObject* transport_counter(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n,
                                   const char* fn, void (*global)(sipmetrics_sip_transport),
                                   void (*on)(sipmetrics_client*, sipmetrics_sip_transport)) {
  if (!arg_count(fn, n, 1)) return NULL;
  const int transport = enumerator(&transport_v, a[0], fn);
  if (transport < 0) return NULL;
  if (c)
    on(c, (sipmetrics_sip_transport)transport);
  else
    global((sipmetrics_sip_transport)transport);
  Py_RETURN_NONE;
}
static PyObject* sip_asr_error(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  return transport_counter(c, a, n, "asr_error", sipmetrics_sip_asr_error,
                           sipmetrics_sip_asr_error_on);
}
static PyObject* sip_tts_error(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  return transport_counter(c, a, n, "tts_error", sipmetrics_sip_tts_error,
                           sipmetrics_sip_tts_error_on);
}
static PyObject* sip_barge_in(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  return transport_counter(c, a, n, "barge_in", sipmetrics_sip_barge_in,
                           sipmetrics_sip_barge_in_on);
}

static PyObject* sip_dialog_reconnect(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n) {
  if (!arg_count("dialog_reconnect", n, 2)) return NULL;
  const int transport = enumerator(&transport_v, a[0], "dialog_reconnect");
  if (transport < 0) return NULL;
  const int outcome = enumerator(&dialog_outcome_v, a[1], "dialog_reconnect");
  if (outcome < 0) return NULL;
  if (c)
    sipmetrics_sip_dialog_reconnect_on(c, (sipmetrics_sip_transport)transport,
                                       (sipmetrics_sip_dialog_outcome)outcome);
  else
    sipmetrics_sip_dialog_reconnect((sipmetrics_sip_transport)transport,
                                    (sipmetrics_sip_dialog_outcome)outcome);
  Py_RETURN_NONE;
}

/* The first-byte latencies: observe_e2e_first_byte, observe_llm_first_byte,
 * observe_tts_first_byte. */
static PyObject* first_byte(sipmetrics_client* c, PyObject* const* a, Py_ssize_t n, const char* fn,
                            void (*global)(int), void (*on)(sipmetrics_client*, int)) {
  int ms = 0;
  if (!arg_count(fn, n, 1) || !ms_arg(a[0], &ms, fn)) return NULL;
  if (c)
    on(c, ms);
  else
    global(ms);
  Py_RETURN_NONE;
}
static PyObject* sip_observe_e2e_first_byte(sipmetrics_client* c, PyObject* const* a,
                                            Py_ssize_t n) {
  return first_byte(c, a, n, "observe_e2e_first_byte", sipmetrics_sip_observe_e2e_first_byte,
                    sipmetrics_sip_observe_e2e_first_byte_on);
}
static PyObject* sip_observe_llm_first_byte(sipmetrics_client* c, PyObject* const* a,
                                            Py_ssize_t n) {
  return first_byte(c, a, n, "observe_llm_first_byte", sipmetrics_sip_observe_llm_first_byte,
                    sipmetrics_sip_observe_llm_first_byte_on);
}
static PyObject* sip_observe_tts_first_byte(sipmetrics_client* c, PyObject* const* a,
                                            Py_ssize_t n) {
  return first_byte(c, a, n, "observe_tts_first_byte", sipmetrics_sip_observe_tts_first_byte,
                    sipmetrics_sip_observe_tts_first_byte_on);
}

/* The module function (global client) and the Client method of one helper. */
#define SIP_ENTRY_POINTS(name)                                                       \
  static PyObject* module_##name(PyObject* m, PyObject* const* a, Py_ssize_t n) {    \
    (void)m;                                                                         \
    return sip_##name(NULL, a, n);                                                   \
  }                                                                                  \
  static PyObject* client_##name(PyObject* self, PyObject* const* a, Py_ssize_t n) { \
    return sip_##name(client_of(self), a, n);                                        \
  }
SIP_ENTRY_POINTS(prepare)
SIP_ENTRY_POINTS(invite_result)
SIP_ENTRY_POINTS(bye)
SIP_ENTRY_POINTS(bye_outbound)
SIP_ENTRY_POINTS(transaction_timeout)
SIP_ENTRY_POINTS(session_timer_refresh)
SIP_ENTRY_POINTS(dtls_handshake)
SIP_ENTRY_POINTS(stir_verify)
SIP_ENTRY_POINTS(observe_call_qos)
SIP_ENTRY_POINTS(voice_attach)
SIP_ENTRY_POINTS(voice_attach_with_result)
SIP_ENTRY_POINTS(voice_attach_mode_fallback)
SIP_ENTRY_POINTS(voice_attach_native)
SIP_ENTRY_POINTS(call_started)
SIP_ENTRY_POINTS(call_ended)
SIP_ENTRY_POINTS(asr_error)
SIP_ENTRY_POINTS(tts_error)
SIP_ENTRY_POINTS(barge_in)
SIP_ENTRY_POINTS(dialog_reconnect)
SIP_ENTRY_POINTS(observe_e2e_first_byte)
SIP_ENTRY_POINTS(observe_llm_first_byte)
SIP_ENTRY_POINTS(observe_tts_first_byte)

/* Docstrings shared by the module functions and the Client methods. */
#define DOC_PREPARE                                                                             \
  "prepare()\n--\n\nDeclares the helpers' whitelists and registers their 92 series now (cold, " \
  "idempotent); call it before fork() if workers fork. Returns the status."
#define DOC_INVITE_RESULT                                                                       \
  "invite_result(direction, code, /)\n--\n\nsip_invite_result_total{direction, code_class} += " \
  "1; a code outside 100..699 counts as code_class=\"other\"."
#define DOC_BYE \
  "bye(direction, by, reason, /)\n--\n\nsip_bye_total{direction, by, reason_class} += 1."
#define DOC_BYE_OUTBOUND \
  "bye_outbound(by, reason, /)\n--\n\nbye(\"outbound\", by, reason): the seed's two-argument Bye."
#define DOC_TRANSACTION_TIMEOUT                                                                 \
  "transaction_timeout(method, /)\n--\n\nsip_transaction_timeout_total{method} += 1; a method " \
  "other than the 14 listed (case-sensitive) counts as \"other\"."
#define DOC_SESSION_TIMER_REFRESH \
  "session_timer_refresh(result, /)\n--\n\nsip_session_timer_refresh_total{result} += 1."
#define DOC_DTLS_HANDSHAKE "dtls_handshake(result, /)\n--\n\nsip_dtls_handshake_total{result} += 1."
#define DOC_STIR_VERIFY "stir_verify(result, /)\n--\n\nsip_stir_verify_total{result} += 1."
#define DOC_OBSERVE_CALL_QOS                                                                     \
  "observe_call_qos(rtt_ms, jitter_ms, loss_fraction, mos_estimate, /)\n--\n\nOne sample each "  \
  "into sip_call_rtt_ms, sip_call_jitter_ms, sip_call_loss_fraction, sip_call_mos_estimate; an " \
  "input <= 0, NaN or infinite is skipped."
#define DOC_VOICE_ATTACH                                                                          \
  "voice_attach(mode, ok, /)\n--\n\nsip_voice_attach_total{mode, result} += 1; result \"ok\" or " \
  "\"config_error\"."
#define DOC_VOICE_ATTACH_WITH_RESULT \
  "voice_attach_with_result(mode, result, /)\n--\n\nvoice_attach() with the result spelled out."
#define DOC_VOICE_ATTACH_MODE_FALLBACK                                                         \
  "voice_attach_mode_fallback(from_mode, to_mode, /)\n--\n\n"                                  \
  "sip_voice_attach_mode_fallback_total{from, to} += 1 for (\"pipeline\", \"realtime\"); any " \
  "other pair is dropped."
#define DOC_VOICE_ATTACH_NATIVE \
  "voice_attach_native(ok, /)\n--\n\nsip_voice_attach_native_total{result=\"ok\"|\"err\"} += 1."
#define DOC_CALL_STARTED \
  "call_started(transport, /)\n--\n\nvoiceserver_active_calls{transport} += 1."
#define DOC_CALL_ENDED                                                                 \
  "call_ended(transport, status, /)\n--\n\nvoiceserver_active_calls{transport} -= 1, " \
  "voiceserver_calls_total{transport, status} += 1."
#define DOC_ASR_ERROR "asr_error(transport, /)\n--\n\nvoiceserver_asr_errors_total{transport} += 1."
#define DOC_TTS_ERROR "tts_error(transport, /)\n--\n\nvoiceserver_tts_errors_total{transport} += 1."
#define DOC_BARGE_IN "barge_in(transport, /)\n--\n\nvoiceserver_barge_in_total{transport} += 1."
#define DOC_DIALOG_RECONNECT                        \
  "dialog_reconnect(transport, outcome, /)\n--\n\n" \
  "voiceserver_dialog_reconnect_total{transport, outcome} += 1."
#define DOC_E2E                                                                                \
  "observe_e2e_first_byte(ms, /)\n--\n\nOne sample of voiceserver_e2e_first_byte_ms; ms <= 0 " \
  "skipped."
#define DOC_LLM                                                                                \
  "observe_llm_first_byte(ms, /)\n--\n\nOne sample of voiceserver_llm_first_byte_ms; ms <= 0 " \
  "skipped."
#define DOC_TTS                                                                                \
  "observe_tts_first_byte(ms, /)\n--\n\nOne sample of voiceserver_tts_first_byte_ms; ms <= 0 " \
  "skipped."

#define SIP_METHOD(prefix, name, doc) \
  { #name, (PyCFunction)(void (*)(void))prefix##_##name, METH_FASTCALL, doc }
#define SIP_METHODS(prefix)                                                                       \
  SIP_METHOD(prefix, prepare, DOC_PREPARE), SIP_METHOD(prefix, invite_result, DOC_INVITE_RESULT), \
      SIP_METHOD(prefix, bye, DOC_BYE), SIP_METHOD(prefix, bye_outbound, DOC_BYE_OUTBOUND),       \
      SIP_METHOD(prefix, transaction_timeout, DOC_TRANSACTION_TIMEOUT),                           \
      SIP_METHOD(prefix, session_timer_refresh, DOC_SESSION_TIMER_REFRESH),                       \
      SIP_METHOD(prefix, dtls_handshake, DOC_DTLS_HANDSHAKE),                                     \
      SIP_METHOD(prefix, stir_verify, DOC_STIR_VERIFY),                                           \
      SIP_METHOD(prefix, observe_call_qos, DOC_OBSERVE_CALL_QOS),                                 \
      SIP_METHOD(prefix, voice_attach, DOC_VOICE_ATTACH),                                         \
      SIP_METHOD(prefix, voice_attach_with_result, DOC_VOICE_ATTACH_WITH_RESULT),                 \
      SIP_METHOD(prefix, voice_attach_mode_fallback, DOC_VOICE_ATTACH_MODE_FALLBACK),             \
      SIP_METHOD(prefix, voice_attach_native, DOC_VOICE_ATTACH_NATIVE),                           \
      SIP_METHOD(prefix, call_started, DOC_CALL_STARTED),                                         \
      SIP_METHOD(prefix, call_ended, DOC_CALL_ENDED),                                             \
      SIP_METHOD(prefix, asr_error, DOC_ASR_ERROR), SIP_METHOD(prefix, tts_error, DOC_TTS_ERROR), \
      SIP_METHOD(prefix, barge_in, DOC_BARGE_IN),                                                 \
      SIP_METHOD(prefix, dialog_reconnect, DOC_DIALOG_RECONNECT),                                 \
      SIP_METHOD(prefix, observe_e2e_first_byte, DOC_E2E),                                        \
      SIP_METHOD(prefix, observe_llm_first_byte, DOC_LLM),                                        \
      SIP_METHOD(prefix, observe_tts_first_byte, DOC_TTS)

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f)
static PyMethodDef client_methods[] = {
    {"counter", (PyCFunction)(void (*)(void))client_counter, METH_VARARGS | METH_KEYWORDS,
     "counter(name, help=None, labels=None)\n--\n\nFinds or registers a counter series and "
     "returns its handle (cold). A refused series gives a no-op handle and a RuntimeWarning."},
    {"gauge", (PyCFunction)(void (*)(void))client_gauge, METH_VARARGS | METH_KEYWORDS,
     "gauge(name, help=None, labels=None, mode='sum')\n--\n\nFinds or registers a gauge series "
     "combined across processes by `mode` ('sum', 'max', 'min', 'last'); returns its handle."},
    {"summary", (PyCFunction)(void (*)(void))client_summary, METH_VARARGS | METH_KEYWORDS,
     "summary(name, help=None, labels=None, window_samples=0)\n--\n\nFinds or registers a summary "
     "series (P50/P90/P95/P99, _sum, _count); returns its handle."},
    {"histogram", (PyCFunction)(void (*)(void))client_histogram, METH_VARARGS | METH_KEYWORDS,
     "histogram(name, help, labels, bounds)\n--\n\nFinds or registers a classic histogram series "
     "with these finite bucket bounds (1 to 64, non-negative, strictly increasing; a +Inf "
     "bucket is always added; SIP_LATENCY_BUCKETS_MS for SIP latencies); returns its handle. "
     "Bad bounds raise ValueError; the same series with other bounds is refused."},
    {"register_labels", (PyCFunction)(void (*)(void))client_register_labels,
     METH_VARARGS | METH_KEYWORDS,
     "register_labels(family, keys)\n--\n\nDeclares the label keys allowed for a family; returns "
     "the status."},
    {"inc_counter", FASTCALL(client_inc_counter), METH_FASTCALL,
     "inc_counter(name, help=None, labels=None, /)\n--\n\nThe named counter += 1 (looked up on "
     "each call). Returns the status."},
    {"add_counter", FASTCALL(client_add_counter), METH_FASTCALL,
     "add_counter(name, help, labels, n, /)\n--\n\nThe named counter += n. Returns the status."},
    {"set_gauge", FASTCALL(client_set_gauge), METH_FASTCALL,
     "set_gauge(name, help, labels, v, /)\n--\n\nThe named sum-mode gauge set to v for this "
     "process. Returns the status."},
    {"add_gauge", FASTCALL(client_add_gauge), METH_FASTCALL,
     "add_gauge(name, help, labels, v, /)\n--\n\nThe named sum-mode gauge += v. Returns the "
     "status."},
    {"observe", FASTCALL(client_observe), METH_FASTCALL,
     "observe(name, help, v, /)\n--\n\nOne sample into the unlabelled summary `name`. Returns the "
     "status."},
    {"observe_n", FASTCALL(client_observe_n), METH_FASTCALL,
     "observe_n(name, help, v, max_samples, /)\n--\n\nobserve() with a quantile window of "
     "max_samples (<= 0: the daemon's default)."},
    {"observe_async", FASTCALL(client_observe_async), METH_FASTCALL,
     "observe_async(name, help, v, /)\n--\n\nobserve(), which never blocks anyway."},
    {"async_dropped_count", client_async_dropped_count, METH_NOARGS,
     "async_dropped_count()\n--\n\nSamples this process's full rings dropped (a fork child "
     "counts its own)."},
    SIP_METHODS(client),
    {NULL, NULL, 0, NULL}};

static PyGetSetDef client_getset[] = {
    {"attached", client_attached, NULL, "True when the client writes to a segment.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ClientType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sipmetrics.Client",
    .tp_basicsize = sizeof(ClientObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc =
        "Client(segment=None, writer=None)\n--\n\n"
        "A connection to a segment. Client() is the process-wide client (same object each "
        "time): $SIPMETRICS_SEGMENT, else the shared-memory name 'sipmetrics'. With a "
        "segment (a name, or a file path containing '/') or a writer name, a client of "
        "its own. A client that cannot attach runs detached: its handles are no-ops.",
    .tp_new = client_new,
    .tp_dealloc = client_dealloc,
    .tp_methods = client_methods,
    .tp_getset = client_getset,
    .tp_repr = client_repr,
};

/* ==== Pure functions ============================================================================
 */

static PyObject* module_classify_code(PyObject* m, PyObject* code) {
  (void)m;
  long long v = 0;
  int overflow = 0;
  if (!int_arg(code, &v, &overflow, "classify_code", "code")) return NULL;
  const int c_code = (overflow != 0 || v < INT_MIN || v > INT_MAX) ? 0 : (int)v;
  return Py_NewRef(code_class_v.strings[sipmetrics_sip_classify_code(c_code)]);
}

static PyObject* module_classify_method(PyObject* m, PyObject* method) {
  (void)m;
  if (!PyUnicode_Check(method)) {
    PyErr_Format(PyExc_TypeError, "classify_method(): method must be a str, not %.100s",
                 Py_TYPE(method)->tp_name);
    return NULL;
  }
  Py_ssize_t len = 0;
  const char* s = PyUnicode_AsUTF8AndSize(method, &len);
  if (s == NULL) return NULL;
  return Py_NewRef(method_v.strings[sipmetrics_sip_classify_method(s, (size_t)len)]);
}

static PyObject* labels_dict(const sipmetrics_label* l, size_t n) {
  PyObject* d = PyDict_New();
  for (size_t i = 0; d != NULL && i < n; ++i) {
    PyObject* v = PyUnicode_FromString(l[i].value);
    if (v == NULL || PyDict_SetItemString(d, l[i].key, v) < 0) Py_CLEAR(d);
    Py_XDECREF(v);
  }
  return d;
}

static PyObject* module_labels_call(PyObject* m, PyObject* const* a, Py_ssize_t n) {
  (void)m;
  if (!arg_count("labels_call", n, 2)) return NULL;
  const int transport = enumerator(&transport_v, a[0], "labels_call");
  if (transport < 0) return NULL;
  const int status = enumerator(&call_status_v, a[1], "labels_call");
  if (status < 0) return NULL;
  sipmetrics_label l[2];
  return labels_dict(l, sipmetrics_sip_labels_call((sipmetrics_sip_transport)transport,
                                                   (sipmetrics_sip_call_status)status, l));
}

static PyObject* module_labels_dialog_outcome(PyObject* m, PyObject* const* a, Py_ssize_t n) {
  (void)m;
  if (!arg_count("labels_dialog_outcome", n, 2)) return NULL;
  const int transport = enumerator(&transport_v, a[0], "labels_dialog_outcome");
  if (transport < 0) return NULL;
  const int outcome = enumerator(&dialog_outcome_v, a[1], "labels_dialog_outcome");
  if (outcome < 0) return NULL;
  sipmetrics_label l[2];
  return labels_dict(
      l, sipmetrics_sip_labels_dialog_outcome((sipmetrics_sip_transport)transport,
                                              (sipmetrics_sip_dialog_outcome)outcome, l));
}

/* ==== Benchmark floors ==========================================================================
 */
/* Empty C functions reached exactly as the hot calls are (a METH_NOARGS and a METH_O method on
 * a handle-like object, a METH_FASTCALL module function), so that bench/python_bench.py can
 * tell what CPython's call costs from what the binding adds. They do nothing and write nothing. */

static PyTypeObject FloorType;

static PyObject* floor_noargs(PyObject* self, PyObject* Py_UNUSED(unused)) {
  (void)self;
  Py_RETURN_NONE;
}
static PyObject* floor_one(PyObject* self, PyObject* arg) {
  (void)self;
  (void)arg;
  Py_RETURN_NONE;
}
static PyObject* module_floor_fastcall(PyObject* m, PyObject* const* a, Py_ssize_t n) {
  (void)m;
  (void)a;
  (void)n;
  Py_RETURN_NONE;
}
static PyObject* floor_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static char* kwlist[] = {NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":_Floor", kwlist)) return NULL;
  return PyObject_New(PyObject, type);
}

static PyMethodDef floor_methods[] = {
    {"noargs", floor_noargs, METH_NOARGS, "An empty METH_NOARGS method (benchmark floor)."},
    {"one", floor_one, METH_O, "An empty METH_O method (benchmark floor)."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject FloorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sipmetrics._Floor",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Empty methods shaped like the hot calls: the floor of bench/python_bench.py.",
    .tp_new = floor_new,
    .tp_methods = floor_methods,
};

/* ==== The module ================================================================================
 */

static PyMethodDef module_methods[] = {
    SIP_METHODS(module),
    {"classify_code", module_classify_code, METH_O,
     "classify_code(code, /)\n--\n\nThe code_class of a status code: '1xx'..'6xx', else 'other'."},
    {"classify_method", module_classify_method, METH_O,
     "classify_method(method, /)\n--\n\nThe method label of a method name (case-sensitive): one "
     "of the 14 counted methods, else 'other'."},
    {"labels_call", FASTCALL(module_labels_call), METH_FASTCALL,
     "labels_call(transport, status, /)\n--\n\nThe labels of voiceserver_calls_total, as a dict."},
    {"labels_dialog_outcome", FASTCALL(module_labels_dialog_outcome), METH_FASTCALL,
     "labels_dialog_outcome(transport, outcome, /)\n--\n\nThe labels of "
     "voiceserver_dialog_reconnect_total, as a dict."},
    {"_floor_fastcall", FASTCALL(module_floor_fastcall), METH_FASTCALL,
     "An empty METH_FASTCALL function (benchmark floor)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sipmetrics",
    .m_doc =
        "Metrics for SIP servers through sipmetricsd's shared-memory segment: the C API of "
        "libsipmetrics.so.0 for Python (docs/python.md).",
    .m_size = -1,
    .m_methods = module_methods,
};

/* The C API's SIP latency bounds as a tuple of floats (new reference). */
static PyObject* latency_buckets(void) {
  size_t n = 0;
  const double* b = sipmetrics_sip_latency_buckets_ms(&n);
  PyObject* t = PyTuple_New((Py_ssize_t)n);
  for (size_t i = 0; t != NULL && i < n; ++i) {
    PyObject* v = PyFloat_FromDouble(b[i]);
    if (v == NULL) {
      Py_CLEAR(t);
      break;
    }
    PyTuple_SET_ITEM(t, (Py_ssize_t)i, v);
  }
  return t;
}

/* Adds `value` (a new reference, released here) as m.name; -1 on failure. */
static int add_object(PyObject* m, const char* name, PyObject* value) {
  if (value == NULL) return -1;
  const int r = PyModule_AddObjectRef(m, name, value);
  Py_DECREF(value);
  return r;
}

PyMODINIT_FUNC PyInit_sipmetrics(void); /* the only exported symbol */
PyMODINIT_FUNC PyInit_sipmetrics(void) {
  PyObject* m = PyModule_Create(&module_def);
  if (m == NULL) return NULL;
  for (size_t i = 0; i < sizeof vocabularies / sizeof vocabularies[0]; ++i) {
    Vocabulary* v = vocabularies[i];
    size_t used = 0;
    for (int k = 0; k < v->n; ++k) {
      if (v->strings[k] == NULL) v->strings[k] = PyUnicode_InternFromString(v->values[k]);
      if (v->strings[k] == NULL) goto fail;
      v->lengths[k] = (Py_ssize_t)strlen(v->values[k]);
      const int w = PyOS_snprintf(v->allowed + used, sizeof v->allowed - used, "%s'%s'",
                                  k ? ", " : "", v->values[k]);
      if (w > 0) used += (size_t)w;
      if (used >= sizeof v->allowed) used = sizeof v->allowed - 1; /* cut, still terminated */
      if (add_object(m, v->names[k], Py_NewRef(v->strings[k])) < 0) goto fail;
    }
  }
  if (status_ok == NULL) {
    status_ok = PyUnicode_InternFromString("ok");
    status_detached = PyUnicode_InternFromString("detached");
    status_refused = PyUnicode_InternFromString("refused");
    if (status_ok == NULL || status_detached == NULL || status_refused == NULL) goto fail;
  }
  if (add_object(m, "STATUS_OK", Py_NewRef(status_ok)) < 0 ||
      add_object(m, "STATUS_DETACHED", Py_NewRef(status_detached)) < 0 ||
      add_object(m, "STATUS_REFUSED", Py_NewRef(status_refused)) < 0 ||
      add_object(m, "MAX_LABELS", PyLong_FromLong(SIPMETRICS_MAX_LABELS)) < 0 ||
      add_object(m, "__version__", PyUnicode_FromString(sipmetrics_version())) < 0 ||
      PyModule_AddType(m, &ClientType) < 0 || PyModule_AddType(m, &CounterType) < 0 ||
      PyModule_AddType(m, &GaugeType) < 0 || PyModule_AddType(m, &SummaryType) < 0 ||
      PyModule_AddType(m, &HistogramType) < 0 || PyModule_AddType(m, &FloorType) < 0 ||
      add_object(m, "SIP_LATENCY_BUCKETS_MS", latency_buckets()) < 0)
    goto fail;
  return m;
fail:
  Py_DECREF(m);
  return NULL;
}
