// gzip of whole buffers with libdeflate, on libuv's thread pool: push compresses a layer as 4 MiB
// gzip members (see src/registry/gzip-chunks.ts), and libdeflate deflates a whole buffer 1.5-2x
// faster than zlib at the same level, with the same or a better ratio.
#include <node_api.h>
#include "napi_args.h"
#include <libdeflate.h>
#include <stdlib.h>

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input;  // keeps the source buffer alive while a pool thread reads it
  const void *in;
  size_t in_len;
  int level;
  void *out;
  size_t out_len;
} gzip_job;

static void gzip_execute(napi_env env, void *data) {
  gzip_job *j = data;
  struct libdeflate_compressor *c = libdeflate_alloc_compressor(j->level);
  if (!c) return;
  size_t cap = libdeflate_gzip_compress_bound(c, j->in_len);
  j->out = malloc(cap);
  if (j->out) j->out_len = libdeflate_gzip_compress(c, j->in, j->in_len, j->out, cap);
  libdeflate_free_compressor(c);
}

static void free_out(napi_env env, void *data, void *hint) { free(data); }

static void gzip_complete(napi_env env, napi_status status, void *data) {
  gzip_job *j = data;
  napi_value result;
  if (status == napi_ok && j->out && j->out_len) {
    napi_create_external_buffer(env, j->out_len, j->out, free_out, NULL, &result);
    napi_resolve_deferred(env, j->deferred, result);
  } else {
    free(j->out);
    napi_value msg;
    napi_create_string_utf8(env, "gzip compression failed (out of memory)", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, j->deferred, result);
  }
  napi_delete_reference(env, j->input);
  napi_delete_async_work(env, j->work);
  free(j);
}

// gzipCompress(buffer, level 1-12) -> Promise<Buffer>: one gzip member holding the buffer.
static napi_value js_gzip_compress(napi_env env, napi_callback_info info) {
  ARGS(2);
  gzip_job *j = calloc(1, sizeof *j);
  napi_value promise, name;
  if (!j) return num(env, -ENOMEM);
  void *in;
  if (napi_get_buffer_info(env, argv[0], &in, &j->in_len) != napi_ok) {
    free(j);
    return num(env, -EINVAL);
  }
  j->in = in;
  j->level = (int)get_num(env, argv[1]);
  if (j->level < 1 || j->level > 12) j->level = 6;
  napi_create_reference(env, argv[0], 1, &j->input);
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "strata:gzip", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, gzip_execute, gzip_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

void strata_gzip_init(napi_env env, napi_value exports) { EXPORT("gzipCompress", js_gzip_compress); }
