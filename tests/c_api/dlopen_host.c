/* dlopen_host MODULE N: a host that does not link libsipmetrics. A thread is started before
 * dlopen(MODULE) (which pulls in libsipmetrics.so.0 and its initial-exec TLS); the main thread
 * and that thread then each call capi_module_record(N). Prints "ready" and waits for a signal
 * (so that the daemon sees a live writer); exits non-zero if anything failed. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*record_fn)(long);
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static record_fn record = NULL;
static long n = 0;

static void* early_thread(void* arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  while (record == NULL) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return (void*)(long)record(n);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODULE N\n", argv[0]);
    return 2;
  }
  n = atol(argv[2]);
  pthread_t t;
  if (pthread_create(&t, NULL, early_thread, NULL) != 0) return 1;
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  record_fn f;
  *(void**)&f = dlsym(h, "capi_module_record");
  if (f == NULL) {
    fprintf(stderr, "dlsym: %s\n", dlerror());
    return 1;
  }
  pthread_mutex_lock(&mu);
  record = f;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  const int main_rc = f(n);
  void* thread_rc = NULL;
  pthread_join(t, &thread_rc);
  if (main_rc != 0 || thread_rc != NULL) {
    fprintf(stderr, "capi_module_record failed: main %d, early thread %ld\n", main_rc,
            (long)thread_rc);
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
