// strata_native: the few syscalls Node's fs lacks. Every function is synchronous and returns a
// value or a negative errno (never throws for a failed syscall), so hot paths pay no exception cost.
#include <node_api.h>
#include "napi_args.h"
#include "stat_out.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PATH_BUF 4097
#define NAME_BUF 256

static napi_value neg_errno(napi_env env) { return num(env, -errno); }

#define PATH_ARG(var, i)                                           \
  char var[PATH_BUF];                                              \
  {                                                                \
    int e_ = get_str(env, argv[i], var, sizeof(var));              \
    if (e_) return num(env, e_);                                   \
  }

// lgetxattr(path, name) -> Buffer | -errno
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  PATH_ARG(path, 0);
  char name[NAME_BUF];
  if (get_str(env, argv[1], name, sizeof(name))) return num(env, -ERANGE);
  for (int attempt = 0; attempt < 4; attempt++) {
    ssize_t size = lgetxattr(path, name, NULL, 0);
    if (size < 0) return neg_errno(env);
    void *data;
    napi_value buf;
    napi_create_buffer(env, size, &data, &buf);
    ssize_t got = size ? lgetxattr(path, name, data, size) : 0;
    if (got >= 0) {
      if (got == size) return buf;
      napi_value sliced;
      void *d2;
      napi_create_buffer_copy(env, got, data, &d2, &sliced);
      return sliced;
    }
    if (errno != ERANGE) return neg_errno(env);  // grew between calls: retry
  }
  return num(env, -ERANGE);
}

// lsetxattr(path, name, buffer, flags) -> 0 | -errno
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  ARGS(4);
  PATH_ARG(path, 0);
  char name[NAME_BUF];
  if (get_str(env, argv[1], name, sizeof(name))) return num(env, -ERANGE);
  void *data = NULL;
  size_t len = 0;
  napi_get_buffer_info(env, argv[2], &data, &len);
  int flags = (int)get_num(env, argv[3]);
  if (lsetxattr(path, name, data, len, flags) < 0) return neg_errno(env);
  return num(env, 0);
}

// llistxattr(path) -> string[] | -errno
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  ARGS(1);
  PATH_ARG(path, 0);
  for (int attempt = 0; attempt < 4; attempt++) {
    ssize_t size = llistxattr(path, NULL, 0);
    if (size < 0) return neg_errno(env);
    char *list = malloc(size ? size : 1);
    ssize_t got = size ? llistxattr(path, list, size) : 0;
    if (got < 0) {
      int e = errno;
      free(list);
      if (e == ERANGE) continue;
      return num(env, -e);
    }
    napi_value arr;
    napi_create_array(env, &arr);
    uint32_t i = 0;
    for (ssize_t off = 0; off < got;) {
      size_t l = strlen(list + off);
      napi_value s;
      napi_create_string_utf8(env, list + off, l, &s);
      napi_set_element(env, arr, i++, s);
      off += l + 1;
    }
    free(list);
    return arr;
  }
  return num(env, -ERANGE);
}

// lremovexattr(path, name) -> 0 | -errno
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  PATH_ARG(path, 0);
  char name[NAME_BUF];
  if (get_str(env, argv[1], name, sizeof(name))) return num(env, -ERANGE);
  if (lremovexattr(path, name) < 0) return neg_errno(env);
  return num(env, 0);
}

// mknod(path, mode, dev) -> 0 | -errno   (dev is the kernel's encoded dev_t)
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  ARGS(3);
  PATH_ARG(path, 0);
  mode_t mode = (mode_t)get_num(env, argv[1]);
  dev_t dev = (dev_t)get_num(env, argv[2]);
  if (mknod(path, mode, dev) < 0) return neg_errno(env);
  return num(env, 0);
}

// makedev(major, minor) / major(dev) / minor(dev), glibc's encoding
static napi_value js_makedev(napi_env env, napi_callback_info info) {
  ARGS(2);
  return num(env, (double)makedev((unsigned)get_num(env, argv[0]), (unsigned)get_num(env, argv[1])));
}
static napi_value js_major(napi_env env, napi_callback_info info) {
  ARGS(1);
  return num(env, major((dev_t)get_num(env, argv[0])));
}
static napi_value js_minor(napi_env env, napi_callback_info info) {
  ARGS(1);
  return num(env, minor((dev_t)get_num(env, argv[0])));
}

// renameat2(old, new, flags) -> 0 | -errno
static napi_value js_renameat2(napi_env env, napi_callback_info info) {
  ARGS(3);
  PATH_ARG(oldp, 0);
  PATH_ARG(newp, 1);
  unsigned flags = (unsigned)get_num(env, argv[2]);
  if (syscall(SYS_renameat2, AT_FDCWD, oldp, AT_FDCWD, newp, flags) < 0) return neg_errno(env);
  return num(env, 0);
}

// ficlone(dstFd, srcFd) -> 0 | -errno   (reflink the whole file where the filesystem can)
static napi_value js_ficlone(napi_env env, napi_callback_info info) {
  ARGS(2);
  int dst = (int)get_num(env, argv[0]);
  int src = (int)get_num(env, argv[1]);
  if (ioctl(dst, FICLONE, src) < 0) return neg_errno(env);
  return num(env, 0);
}

// copyFileRange(srcFd, srcOff, dstFd, dstOff, len) -> bytes copied | -errno
static napi_value js_copy_file_range(napi_env env, napi_callback_info info) {
  ARGS(5);
  int src = (int)get_num(env, argv[0]);
  loff_t soff = (loff_t)get_num(env, argv[1]);
  int dst = (int)get_num(env, argv[2]);
  loff_t doff = (loff_t)get_num(env, argv[3]);
  size_t len = (size_t)get_num(env, argv[4]);
  ssize_t n = copy_file_range(src, &soff, dst, &doff, len, 0);
  if (n < 0) return neg_errno(env);
  return num(env, (double)n);
}

static void set_times(napi_env env, napi_value *argv, struct timespec ts[2]) {
  ts[0].tv_sec = (time_t)get_num(env, argv[0]);
  ts[0].tv_nsec = (long)get_num(env, argv[1]);
  ts[1].tv_sec = (time_t)get_num(env, argv[2]);
  ts[1].tv_nsec = (long)get_num(env, argv[3]);
}

// lutimens(path, aSec, aNsec, mSec, mNsec) -> 0 | -errno  (nsec may be UTIME_NOW / UTIME_OMIT)
static napi_value js_lutimens(napi_env env, napi_callback_info info) {
  ARGS(5);
  PATH_ARG(path, 0);
  struct timespec ts[2];
  set_times(env, argv + 1, ts);
  if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0) return neg_errno(env);
  return num(env, 0);
}

// futimens(fd, aSec, aNsec, mSec, mNsec) -> 0 | -errno
static napi_value js_futimens(napi_env env, napi_callback_info info) {
  ARGS(5);
  int fd = (int)get_num(env, argv[0]);
  struct timespec ts[2];
  set_times(env, argv + 1, ts);
  if (futimens(fd, ts) < 0) return neg_errno(env);
  return num(env, 0);
}

// Stat into a caller-owned Float64Array (no allocation):
// [dev, ino, mode, nlink, uid, gid, rdev, size, blksize, blocks,
//  atimeSec, atimeNsec, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec]
// lstat(path, out) -> 0 | -errno
static napi_value js_lstat(napi_env env, napi_callback_info info) {
  ARGS(2);
  PATH_ARG(path, 0);
  double *o = f64(env, argv[1], 16);
  if (!o) return num(env, -EINVAL);
  struct stat st;
  if (lstat(path, &st) < 0) return neg_errno(env);
  fill_stat(o, &st);
  return num(env, 0);
}

// fstat(fd, out) -> 0 | -errno
static napi_value js_fstat(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd = (int)get_num(env, argv[0]);
  double *o = f64(env, argv[1], 16);
  if (!o) return num(env, -EINVAL);
  struct stat st;
  if (fstat(fd, &st) < 0) return neg_errno(env);
  fill_stat(o, &st);
  return num(env, 0);
}

// statvfs(path, out) -> 0 | -errno
// out: [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax]
static napi_value js_statvfs(napi_env env, napi_callback_info info) {
  ARGS(2);
  PATH_ARG(path, 0);
  double *o = f64(env, argv[1], 11);
  if (!o) return num(env, -EINVAL);
  struct statvfs s;
  if (statvfs(path, &s) < 0) return neg_errno(env);
  o[0] = s.f_bsize; o[1] = s.f_frsize; o[2] = s.f_blocks; o[3] = s.f_bfree; o[4] = s.f_bavail;
  o[5] = s.f_files; o[6] = s.f_ffree; o[7] = s.f_favail; o[8] = s.f_fsid; o[9] = s.f_flag;
  o[10] = s.f_namemax;
  return num(env, 0);
}

// umount2(path, flags) -> 0 | -errno
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  ARGS(2);
  PATH_ARG(path, 0);
  if (umount2(path, (int)get_num(env, argv[1])) < 0) return neg_errno(env);
  return num(env, 0);
}

// linkat without following (link(2) semantics on symlinks differ by libc; be explicit)
static napi_value js_link(napi_env env, napi_callback_info info) {
  ARGS(2);
  PATH_ARG(oldp, 0);
  PATH_ARG(newp, 1);
  if (linkat(AT_FDCWD, oldp, AT_FDCWD, newp, 0) < 0) return neg_errno(env);
  return num(env, 0);
}

// syncFileRange(fd, off, len, flags) -> 0 | -errno: start writeback early so a final fsync is short
static napi_value js_sync_file_range(napi_env env, napi_callback_info info) {
  ARGS(4);
  int fd = (int)get_num(env, argv[0]);
  off64_t off = (off64_t)get_num(env, argv[1]);
  off64_t len = (off64_t)get_num(env, argv[2]);
  unsigned int flags = (unsigned int)get_num(env, argv[3]);
  if (sync_file_range(fd, off, len, flags) < 0) return neg_errno(env);
  return num(env, 0);
}

// openpty() -> [masterFd, slaveFd] | -errno  (both close-on-exec; a child gets the slave by dup2)
static napi_value js_openpty(napi_env env, napi_callback_info info) {
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return neg_errno(env);
  char name[128];
  if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0) {
    int e = errno;
    close(m);
    return num(env, -e);
  }
  int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    int e = errno;
    close(m);
    return num(env, -e);
  }
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, num(env, m));
  napi_set_element(env, arr, 1, num(env, s));
  return arr;
}

// setWinsize(fd, rows, cols) -> 0 | -errno
static napi_value js_set_winsize(napi_env env, napi_callback_info info) {
  ARGS(3);
  int fd = (int)get_num(env, argv[0]);
  struct winsize ws = {0};
  ws.ws_row = (unsigned short)get_num(env, argv[1]);
  ws.ws_col = (unsigned short)get_num(env, argv[2]);
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return neg_errno(env);
  return num(env, 0);
}

// flock(fd, op) -> 0 | -errno (blocking unless op has LOCK_NB)
static napi_value js_flock(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd = (int)get_num(env, argv[0]);
  int op = (int)get_num(env, argv[1]);
  int r;
  do r = flock(fd, op); while (r < 0 && errno == EINTR);
  if (r < 0) return neg_errno(env);
  return num(env, 0);
}

// pipe() -> [readFd, writeFd] | -errno (both close-on-exec; a child gets one by dup2)
static napi_value js_pipe(napi_env env, napi_callback_info info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return neg_errno(env);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, num(env, fds[0]));
  napi_set_element(env, arr, 1, num(env, fds[1]));
  return arr;
}

// syncfs(fd): flush the whole filesystem that holds fd (one journal commit for a new layer's files).
static napi_value js_syncfs(napi_env env, napi_callback_info info) {
  ARGS(1);
  return num(env, syncfs((int)get_num(env, argv[0])) < 0 ? -errno : 0);
}


void strata_fuse_dev_init(napi_env env, napi_value exports);
void strata_gzip_init(napi_env env, napi_value exports);
void strata_copy_up_init(napi_env env, napi_value exports);
void strata_set_attr_init(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  strata_fuse_dev_init(env, exports);
  strata_gzip_init(env, exports);
  strata_copy_up_init(env, exports);
  strata_set_attr_init(env, exports);
  EXPORT("lgetxattr", js_lgetxattr);
  EXPORT("lsetxattr", js_lsetxattr);
  EXPORT("llistxattr", js_llistxattr);
  EXPORT("lremovexattr", js_lremovexattr);
  EXPORT("mknod", js_mknod);
  EXPORT("makedev", js_makedev);
  EXPORT("major", js_major);
  EXPORT("minor", js_minor);
  EXPORT("renameat2", js_renameat2);
  EXPORT("ficlone", js_ficlone);
  EXPORT("copyFileRange", js_copy_file_range);
  EXPORT("lutimens", js_lutimens);
  EXPORT("futimens", js_futimens);
  EXPORT("lstat", js_lstat);
  EXPORT("fstat", js_fstat);
  EXPORT("statvfs", js_statvfs);
  EXPORT("umount2", js_umount2);
  EXPORT("link", js_link);
  EXPORT("syncFileRange", js_sync_file_range);
  EXPORT("openpty", js_openpty);
  EXPORT("flock", js_flock);
  EXPORT("pipe", js_pipe);
  EXPORT("setWinsize", js_set_winsize);
  EXPORT("syncfs", js_syncfs);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
