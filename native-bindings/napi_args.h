// Argument and result helpers shared by the addon's C files: every function returns a number (a
// value or a negative errno) and reads its arguments with these.
#ifndef STRATA_NAPI_ARGS_H
#define STRATA_NAPI_ARGS_H
#include <node_api.h>
#include <errno.h>

static inline napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static inline double get_num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

// Copies a string argument; returns 0 on success, -ENAMETOOLONG if it does not fit.
static inline int get_str(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return -EINVAL;
  if (len >= cap - 1) {
    size_t full = 0;
    napi_get_value_string_utf8(env, v, NULL, 0, &full);
    if (full >= cap) return -ENAMETOOLONG;
  }
  return 0;
}

#define ARGS(n)                                                    \
  size_t argc = n;                                                 \
  napi_value argv[n];                                              \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);

#define EXPORT(name, fn)                                             \
  do {                                                               \
    napi_value f;                                                    \
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f); \
    napi_set_named_property(env, exports, name, f);                  \
  } while (0)

#endif
