// The part of our FUSE transport that Node cannot do: open /dev/fuse, mount(2) it, watch it with
// libuv on the JS thread (uv_poll: no thread-pool hop per request), read one request, write one
// reply, and the passthrough ioctls. Every call returns a value or a negative errno.
#include <node_api.h>
#include "napi_args.h"
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

// From include/uapi/linux/fuse.h (protocol 7.40+): FUSE_DEV_IOC_MAGIC 229.
struct strata_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
#define STRATA_DEV_IOC_BACKING_OPEN _IOW(229, 1, struct strata_backing_map)
#define STRATA_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

// fuseOpen(): an fd of /dev/fuse, non-blocking (requests are read when libuv says there is one).
static napi_value js_fuse_open(napi_env env, napi_callback_info info) {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  return num(env, fd < 0 ? -errno : fd);
}

// mount(source, target, fstype, flags, data)
static napi_value js_mount(napi_env env, napi_callback_info info) {
  ARGS(5);
  char src[256], target[4097], type[256], data[4096];
  int e;
  if ((e = get_str(env, argv[0], src, sizeof src)) || (e = get_str(env, argv[1], target, sizeof target)) ||
      (e = get_str(env, argv[2], type, sizeof type)) || (e = get_str(env, argv[4], data, sizeof data)))
    return num(env, e);
  unsigned long flags = (unsigned long)get_num(env, argv[3]);
  return num(env, mount(src, target, type, flags, data) < 0 ? -errno : 0);
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

// fuseRead(fd, buffer, ns): bytes of one request, or -EAGAIN when none is waiting, -ENODEV once
// unmounted. With ns > 0 it keeps trying for up to ns nanoseconds while none is waiting (the busy
// poll): a client about to send its next request (a serial workload: touch, tar) is caught
// without the daemon going to sleep in epoll and being woken, which costs more than the request
// itself on this kind of machine.
static napi_value js_fuse_read(napi_env env, napi_callback_info info) {
  ARGS(3);
  int fd = (int)get_num(env, argv[0]);
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  int64_t budget = (int64_t)get_num(env, argv[2]);
  int64_t deadline = budget > 0 ? now_ns() + budget : 0;
  for (;;) {
    ssize_t n = read(fd, data, len);
    if (n >= 0) return num(env, (double)n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN || budget <= 0 || now_ns() >= deadline) return num(env, -errno);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

// fuseWrite(fd, buffer, length): one reply (or notification) in one write.
static napi_value js_fuse_write(napi_env env, napi_callback_info info) {
  ARGS(3);
  int fd = (int)get_num(env, argv[0]);
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  size_t n = (size_t)get_num(env, argv[2]);
  if (n > len) return num(env, -EINVAL);
  for (;;) {
    ssize_t w = write(fd, data, n);
    if (w >= 0) return num(env, (double)w);
    if (errno != EINTR) return num(env, -errno);
  }
}

// fuseWritev(fd, header, data, dataLength): a reply whose payload lives in another buffer (reads).
static napi_value js_fuse_writev(napi_env env, napi_callback_info info) {
  ARGS(4);
  int fd = (int)get_num(env, argv[0]);
  struct iovec iov[2];
  size_t hl, dl;
  napi_get_buffer_info(env, argv[1], &iov[0].iov_base, &hl);
  napi_get_buffer_info(env, argv[2], &iov[1].iov_base, &dl);
  size_t n = (size_t)get_num(env, argv[3]);
  if (n > dl) return num(env, -EINVAL);
  iov[0].iov_len = hl;
  iov[1].iov_len = n;
  for (;;) {
    ssize_t w = writev(fd, iov, 2);
    if (w >= 0) return num(env, (double)w);
    if (errno != EINTR) return num(env, -errno);
  }
}

// backingOpen(fuseFd, fileFd): a backing id for FOPEN_PASSTHROUGH, or -errno (EPERM without CAP_SYS_ADMIN, ...).
static napi_value js_backing_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  struct strata_backing_map map = {.fd = (int32_t)get_num(env, argv[1]), .flags = 0, .padding = 0};
  int id = ioctl((int)get_num(env, argv[0]), STRATA_DEV_IOC_BACKING_OPEN, &map);
  return num(env, id < 0 ? -errno : id);
}

static napi_value js_backing_close(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint32_t id = (uint32_t)get_num(env, argv[1]);
  return num(env, ioctl((int)get_num(env, argv[0]), STRATA_DEV_IOC_BACKING_CLOSE, &id) < 0 ? -errno : 0);
}

// fallocate(fd, mode, offset, length) and lseek(fd, offset, whence): Node has neither.
static napi_value js_fallocate(napi_env env, napi_callback_info info) {
  ARGS(4);
  int r = fallocate((int)get_num(env, argv[0]), (int)get_num(env, argv[1]), (off_t)get_num(env, argv[2]), (off_t)get_num(env, argv[3]));
  return num(env, r < 0 ? -errno : 0);
}

static napi_value js_lseek(napi_env env, napi_callback_info info) {
  ARGS(3);
  off_t r = lseek((int)get_num(env, argv[0]), (off_t)get_num(env, argv[1]), (int)get_num(env, argv[2]));
  return num(env, r < 0 ? -errno : (double)r);
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
  ARGS(2);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  watch_t *w = calloc(1, sizeof *w);
  if (!w) return num(env, -ENOMEM);
  w->env = env;
  napi_create_reference(env, argv[1], 1, &w->cb);
  napi_value name;
  napi_create_string_utf8(env, "strata:fuse", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->ctx);
  int r = uv_poll_init(loop, &w->poll, (int)get_num(env, argv[0]));
  if (r == 0) r = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (r != 0) {
    napi_delete_reference(env, w->cb);
    napi_async_destroy(env, w->ctx);
    free(w);
    return num(env, r);
  }
  w->poll.data = w;
  napi_value ext;
  napi_create_external(env, w, finalize_watch, NULL, &ext);
  return ext;
}

static napi_value js_fuse_unwatch(napi_env env, napi_callback_info info) {
  ARGS(1);
  watch_t *w;
  if (napi_get_value_external(env, argv[0], (void **)&w) != napi_ok || !w || w->closing) return num(env, -EINVAL);
  w->closing = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
  return num(env, 0);
}

void strata_fuse_dev_init(napi_env env, napi_value exports) {
  EXPORT("fuseOpen", js_fuse_open);
  EXPORT("mount", js_mount);
  EXPORT("fuseRead", js_fuse_read);
  EXPORT("fuseWrite", js_fuse_write);
  EXPORT("fuseWritev", js_fuse_writev);
  EXPORT("fuseWatch", js_fuse_watch);
  EXPORT("fuseUnwatch", js_fuse_unwatch);
  EXPORT("backingOpen", js_backing_open);
  EXPORT("backingClose", js_backing_close);
  EXPORT("fallocate", js_fallocate);
  EXPORT("lseek", js_lseek);
}
