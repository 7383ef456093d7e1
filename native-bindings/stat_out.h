// Stat results for JS: a struct stat written into a caller's Float64Array of 16, in the order
// src/sys/stat.ts reads them. Shared by the addon's C files.
#ifndef STRATA_STAT_OUT_H
#define STRATA_STAT_OUT_H
#include <node_api.h>
#include <sys/stat.h>

static inline void fill_stat(double *o, const struct stat *st) {
  o[0] = (double)st->st_dev;
  o[1] = (double)st->st_ino;
  o[2] = st->st_mode;
  o[3] = (double)st->st_nlink;
  o[4] = st->st_uid;
  o[5] = st->st_gid;
  o[6] = (double)st->st_rdev;
  o[7] = (double)st->st_size;
  o[8] = (double)st->st_blksize;
  o[9] = (double)st->st_blocks;
  o[10] = (double)st->st_atim.tv_sec;
  o[11] = (double)st->st_atim.tv_nsec;
  o[12] = (double)st->st_mtim.tv_sec;
  o[13] = (double)st->st_mtim.tv_nsec;
  o[14] = (double)st->st_ctim.tv_sec;
  o[15] = (double)st->st_ctim.tv_nsec;
}

static inline double *f64(napi_env env, napi_value v, size_t need) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &off) != napi_ok) return NULL;
  if (type != napi_float64_array || length < need) return NULL;
  return (double *)data;
}

#endif
