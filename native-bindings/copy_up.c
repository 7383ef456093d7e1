// The copy-up of a small regular file in one call: about fifteen syscalls that, made one by one
// from JS, cost more in call overhead than in the kernel (see src/union/copy-up.ts, which decides
// when this path applies and keeps the general one for big, sparse and special files). Also the
// plain open and close the union's hot paths use, without Node's argument checks and exceptions.
#include <node_api.h>
#include "napi_args.h"
#include "stat_out.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PATH_BUF 4097
#define SMALL_FILE (64 << 10)
#define SYNC_FILE_RANGE_WAIT_BEFORE 1
#define SYNC_FILE_RANGE_WRITE_ 2
#define SYNC_FILE_RANGE_WAIT_AFTER 4

enum { SYNC_NONE = 0, SYNC_ORDERED = 1, SYNC_WAIT = 2, SYNC_FSYNC = 3 };

#define PATH_ARG(var, i)                                \
  char var[PATH_BUF];                                   \
  {                                                     \
    int e_ = get_str(env, argv[i], var, sizeof(var));   \
    if (e_) return num(env, e_);                        \
  }

// The overlay's own xattrs stay behind (src/sys/overlay-format.ts's isPrivateXattr).
static int private_xattr(const char *name) {
  return strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "trusted.strata.", 15) == 0;
}

// Copy the user-visible xattrs of the file open as `sfd` to `dfd`; 0 or -errno.
static int copy_xattrs(int sfd, int dfd) {
  char small[4096];
  char *names = small;
  ssize_t len = flistxattr(sfd, names, sizeof(small));
  if (len < 0 && errno == ERANGE) {  // a long list: ask its size
    ssize_t need = flistxattr(sfd, NULL, 0);
    if (need < 0) return -errno;
    if (!(names = malloc(need + 1))) return -ENOMEM;
    len = flistxattr(sfd, names, need);
  }
  int r = 0;
  if (len < 0) r = errno == ENOTSUP ? 0 : -errno;
  static char value[65536];  // XATTR_SIZE_MAX
  for (char *n = names; r == 0 && len > 0 && n < names + len; n += strlen(n) + 1) {
    if (private_xattr(n)) continue;
    ssize_t v = fgetxattr(sfd, n, value, sizeof(value));
    if (v < 0) {
      if (errno != ENODATA) r = -errno;  // ENODATA: removed meanwhile
      continue;
    }
    if (fsetxattr(dfd, n, value, v, 0) < 0) r = -errno;
  }
  if (names != small) free(names);
  return r;
}

static int copy_small(int sfd, int dfd, size_t size) {
  static char buf[SMALL_FILE];
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(sfd, buf + got, size - got, got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;  // the source shrank: copy what exists
    got += n;
  }
  size_t put = 0;
  while (put < got) {
    ssize_t n = pwrite(dfd, buf + put, got - put, put);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    put += n;
  }
  return 0;
}

static int sync_data(int fd, size_t size, int mode) {
  if (size == 0 || mode == SYNC_NONE) return 0;
  if (mode != SYNC_FSYNC) {
    unsigned flags = mode == SYNC_ORDERED ? SYNC_FILE_RANGE_WRITE_
                                          : SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE_ | SYNC_FILE_RANGE_WAIT_AFTER;
    if (sync_file_range(fd, 0, size, flags) == 0) return 0;
  }
  return fsync(fd) < 0 ? -errno : 0;
}

// copyUpFile(srcDir, src, workDir, tmp, upperDir, dst, parent, size, mode, uid, gid, aSec, aNsec, mSec, mNsec, sync, out) -> 0 | -errno
// Builds work-dir name `tmp` as a copy of the small regular file `src` (`size` bytes of data, 0 for
// none; mode, owner, times and user xattrs as given), makes its data durable as `sync` says, renames
// it to `dst`, restores the times of dir `parent`, and writes the new upper file's stat to `out`.
// Each path is relative to the O_PATH fd of its layer root (or the work dir) before it, so the
// kernel walks only the part inside the layer ('' or '.' is the root itself). On failure nothing
// is left behind and `dst` is untouched.
static napi_value js_copy_up_file(napi_env env, napi_callback_info info) {
  ARGS(17);
  int srcDir = (int)get_num(env, argv[0]);
  PATH_ARG(src, 1);
  int workDir = (int)get_num(env, argv[2]);
  PATH_ARG(tmp, 3);
  int upDir = (int)get_num(env, argv[4]);
  PATH_ARG(dst, 5);
  PATH_ARG(parent, 6);
  double dsize = get_num(env, argv[7]);
  mode_t mode = (mode_t)get_num(env, argv[8]);
  uid_t uid = (uid_t)get_num(env, argv[9]);
  gid_t gid = (gid_t)get_num(env, argv[10]);
  struct timespec times[2] = {{(time_t)get_num(env, argv[11]), (long)get_num(env, argv[12])},
                              {(time_t)get_num(env, argv[13]), (long)get_num(env, argv[14])}};
  int sync = (int)get_num(env, argv[15]);
  double *out = f64(env, argv[16], 16);
  if (!out || dsize < 0 || dsize > SMALL_FILE) return num(env, -EINVAL);
  size_t size = (size_t)dsize;
  const char *parentAt = parent[0] ? parent : ".";

  struct stat pst;
  if (fstatat(upDir, parentAt, &pst, AT_SYMLINK_NOFOLLOW) < 0) return num(env, -errno);
  int sfd = openat(srcDir, src, O_RDONLY | O_NOATIME | O_NOFOLLOW | O_CLOEXEC);
  if (sfd < 0 && errno == EPERM) sfd = openat(srcDir, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);  // O_NOATIME needs ownership
  if (sfd < 0) return num(env, -errno);
  int dfd = openat(workDir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (dfd < 0) {
    int e = -errno;
    close(sfd);
    return num(env, e);
  }
  int r = 0;
  struct stat st;
  if (size > 0) r = copy_small(sfd, dfd, size);
  if (!r) r = sync_data(dfd, size, sync);
  if (!r) r = copy_xattrs(sfd, dfd);
  if (!r && fchown(dfd, uid, gid) < 0) r = -errno;
  if (!r && fchmod(dfd, mode & 07777) < 0) r = -errno;  // after chown, which drops setuid
  if (!r && futimens(dfd, times) < 0) r = -errno;
  if (!r && renameat(workDir, tmp, upDir, dst) < 0) r = -errno;
  if (!r && fstat(dfd, &st) < 0) r = -errno;
  close(sfd);
  close(dfd);
  if (r) {
    unlinkat(workDir, tmp, 0);
    return num(env, r);
  }
  struct timespec ptimes[2] = {pst.st_atim, pst.st_mtim};  // a copy-up is not a change anyone made to the parent
  utimensat(upDir, parentAt, ptimes, AT_SYMLINK_NOFOLLOW);
  fill_stat(out, &st);
  return num(env, 0);
}

// open(path, flags, mode) -> fd | -errno (close-on-exec always)
static napi_value js_open(napi_env env, napi_callback_info info) {
  ARGS(3);
  PATH_ARG(path, 0);
  int fd = open(path, (int)get_num(env, argv[1]) | O_CLOEXEC, (mode_t)get_num(env, argv[2]));
  return num(env, fd < 0 ? -errno : fd);
}

// openAt(dirfd, rel, flags, mode) -> fd | -errno: `rel` relative to `dirfd` ('' is the dir itself)
static napi_value js_open_at(napi_env env, napi_callback_info info) {
  ARGS(4);
  int dir = (int)get_num(env, argv[0]);
  PATH_ARG(rel, 1);
  int fd = openat(dir, rel[0] ? rel : ".", (int)get_num(env, argv[2]) | O_CLOEXEC, (mode_t)get_num(env, argv[3]));
  return num(env, fd < 0 ? -errno : fd);
}

// lstatAt(dirfd, rel, out) -> 0 | -errno: fstatat without following, `rel` relative to `dirfd`
static napi_value js_lstat_at(napi_env env, napi_callback_info info) {
  ARGS(3);
  int dir = (int)get_num(env, argv[0]);
  PATH_ARG(rel, 1);
  double *out = f64(env, argv[2], 16);
  if (!out) return num(env, -EINVAL);
  struct stat st;
  if (fstatat(dir, rel[0] ? rel : ".", &st, AT_SYMLINK_NOFOLLOW) < 0) return num(env, -errno);
  fill_stat(out, &st);
  return num(env, 0);
}

// close(fd) -> 0 | -errno
static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  return num(env, close((int)get_num(env, argv[0])) < 0 ? -errno : 0);
}

void strata_copy_up_init(napi_env env, napi_value exports) {
  EXPORT("copyUpFile", js_copy_up_file);
  EXPORT("open", js_open);
  EXPORT("openAt", js_open_at);
  EXPORT("lstatAt", js_lstat_at);
  EXPORT("close", js_close);
}
