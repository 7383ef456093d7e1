// The part of our FUSE transport that Node cannot do: open /dev/fuse, mount(2) it, watch it with
// libuv on the JS thread (uv_poll: no thread-pool hop per request), read one request, write one
// reply, and the passthrough ioctls. Every call returns a value or a negative errno.
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

// From include/uapi/linux/fuse.h (protocol 7.40+): FUSE_DEV_IOC_MAGIC 229.
struct strata_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
#define STRATA_DEV_IOC_BACKING_OPEN _IOW(229, 1, struct strata_backing_map)
#define STRATA_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

static napi_value fnum(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static double fget(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

#define FARGS(n)                                                   \
  size_t argc = n;                                                 \
  napi_value argv[n];                                              \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);

static int fstr(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return -EINVAL;
  if (len >= cap - 1) return -ENAMETOOLONG;
  return 0;
}

// fuseOpen(): an fd of /dev/fuse, non-blocking (requests are read when libuv says there is one).
static napi_value js_fuse_open(napi_env env, napi_callback_info info) {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  return fnum(env, fd < 0 ? -errno : fd);
}

// mount(source, target, fstype, flags, data)
static napi_value js_mount(napi_env env, napi_callback_info info) {
  FARGS(5);
  char src[256], target[4097], type[256], data[4096];
  int e;
  if ((e = fstr(env, argv[0], src, sizeof src)) || (e = fstr(env, argv[1], target, sizeof target)) ||
      (e = fstr(env, argv[2], type, sizeof type)) || (e = fstr(env, argv[4], data, sizeof data)))
    return fnum(env, e);
  unsigned long flags = (unsigned long)fget(env, argv[3]);
  return fnum(env, mount(src, target, type, flags, data) < 0 ? -errno : 0);
}

// fuseRead(fd, buffer): bytes of one request, or -EAGAIN when none is waiting, -ENODEV once unmounted.
static napi_value js_fuse_read(napi_env env, napi_callback_info info) {
  FARGS(2);
  int fd = (int)fget(env, argv[0]);
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  for (;;) {
    ssize_t n = read(fd, data, len);
    if (n >= 0) return fnum(env, (double)n);
    if (errno != EINTR) return fnum(env, -errno);
  }
}

// fuseWrite(fd, buffer, length): one reply (or notification) in one write.
static napi_value js_fuse_write(napi_env env, napi_callback_info info) {
  FARGS(3);
  int fd = (int)fget(env, argv[0]);
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  size_t n = (size_t)fget(env, argv[2]);
  if (n > len) return fnum(env, -EINVAL);
  for (;;) {
    ssize_t w = write(fd, data, n);
    if (w >= 0) return fnum(env, (double)w);
    if (errno != EINTR) return fnum(env, -errno);
  }
}

// fuseWritev(fd, header, data, dataLength): a reply whose payload lives in another buffer (reads).
static napi_value js_fuse_writev(napi_env env, napi_callback_info info) {
  FARGS(4);
  int fd = (int)fget(env, argv[0]);
  struct iovec iov[2];
  size_t hl, dl;
  napi_get_buffer_info(env, argv[1], &iov[0].iov_base, &hl);
  napi_get_buffer_info(env, argv[2], &iov[1].iov_base, &dl);
  size_t n = (size_t)fget(env, argv[3]);
  if (n > dl) return fnum(env, -EINVAL);
  iov[0].iov_len = hl;
  iov[1].iov_len = n;
  for (;;) {
    ssize_t w = writev(fd, iov, 2);
    if (w >= 0) return fnum(env, (double)w);
    if (errno != EINTR) return fnum(env, -errno);
  }
}

// backingOpen(fuseFd, fileFd): a backing id for FOPEN_PASSTHROUGH, or -errno (EPERM without CAP_SYS_ADMIN, ...).
static napi_value js_backing_open(napi_env env, napi_callback_info info) {
  FARGS(2);
  struct strata_backing_map map = {.fd = (int32_t)fget(env, argv[1]), .flags = 0, .padding = 0};
  int id = ioctl((int)fget(env, argv[0]), STRATA_DEV_IOC_BACKING_OPEN, &map);
  return fnum(env, id < 0 ? -errno : id);
}

static napi_value js_backing_close(napi_env env, napi_callback_info info) {
  FARGS(2);
  uint32_t id = (uint32_t)fget(env, argv[1]);
  return fnum(env, ioctl((int)fget(env, argv[0]), STRATA_DEV_IOC_BACKING_CLOSE, &id) < 0 ? -errno : 0);
}

// fallocate(fd, mode, offset, length) and lseek(fd, offset, whence): Node has neither.
static napi_value js_fallocate(napi_env env, napi_callback_info info) {
  FARGS(4);
  int r = fallocate((int)fget(env, argv[0]), (int)fget(env, argv[1]), (off_t)fget(env, argv[2]), (off_t)fget(env, argv[3]));
  return fnum(env, r < 0 ? -errno : 0);
}

static napi_value js_lseek(napi_env env, napi_callback_info info) {
  FARGS(3);
  off_t r = lseek((int)fget(env, argv[0]), (off_t)fget(env, argv[1]), (int)fget(env, argv[2]));
  return fnum(env, r < 0 ? -errno : (double)r);
}

// ---- watching the fd: a uv_poll_t on the JS thread calls back when a request is waiting ----------

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  int closing;
} watch_t;

static void on_readable(uv_poll_t *h, int status, int events) {
  watch_t *w = (watch_t *)h->data;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  napi_value cb, global, arg, result;
  napi_get_reference_value(w->env, w->cb, &cb);
  napi_get_global(w->env, &global);
  napi_create_int32(w->env, status, &arg);
  // make_callback, so that promises and nextTicks queued by the handler run after it, as for any I/O callback.
  napi_make_callback(w->env, w->ctx, global, cb, 1, &arg, &result);
  napi_close_handle_scope(w->env, scope);
}

static void on_closed(uv_handle_t *h) {
  watch_t *w = (watch_t *)h->data;
  napi_delete_reference(w->env, w->cb);
  napi_async_destroy(w->env, w->ctx);
  free(w);
}

static void finalize_watch(napi_env env, void *data, void *hint) {
  (void)env; (void)data; (void)hint; // the handle is freed by unwatch (or lives as long as the process)
}

// fuseWatch(fd, cb): cb(status) on the JS thread whenever fd is readable; returns a handle for fuseUnwatch.
static napi_value js_fuse_watch(napi_env env, napi_callback_info info) {
  FARGS(2);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  watch_t *w = calloc(1, sizeof *w);
  if (!w) return fnum(env, -ENOMEM);
  w->env = env;
  napi_create_reference(env, argv[1], 1, &w->cb);
  napi_value name;
  napi_create_string_utf8(env, "strata:fuse", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->ctx);
  int r = uv_poll_init(loop, &w->poll, (int)fget(env, argv[0]));
  if (r == 0) r = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (r != 0) {
    napi_delete_reference(env, w->cb);
    napi_async_destroy(env, w->ctx);
    free(w);
    return fnum(env, r);
  }
  w->poll.data = w;
  napi_value ext;
  napi_create_external(env, w, finalize_watch, NULL, &ext);
  return ext;
}

static napi_value js_fuse_unwatch(napi_env env, napi_callback_info info) {
  FARGS(1);
  watch_t *w;
  if (napi_get_value_external(env, argv[0], (void **)&w) != napi_ok || !w || w->closing) return fnum(env, -EINVAL);
  w->closing = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
  return fnum(env, 0);
}

#define FEXPORT(name, fn)                                            \
  do {                                                               \
    napi_value f;                                                    \
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f); \
    napi_set_named_property(env, exports, name, f);                  \
  } while (0)

void strata_fuse_dev_init(napi_env env, napi_value exports) {
  FEXPORT("fuseOpen", js_fuse_open);
  FEXPORT("mount", js_mount);
  FEXPORT("fuseRead", js_fuse_read);
  FEXPORT("fuseWrite", js_fuse_write);
  FEXPORT("fuseWritev", js_fuse_writev);
  FEXPORT("fuseWatch", js_fuse_watch);
  FEXPORT("fuseUnwatch", js_fuse_unwatch);
  FEXPORT("backingOpen", js_backing_open);
  FEXPORT("backingClose", js_backing_close);
  FEXPORT("fallocate", js_fallocate);
  FEXPORT("lseek", js_lseek);
}
