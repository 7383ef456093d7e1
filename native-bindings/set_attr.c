// A SETATTR of an upper file in one call: owner, mode and times changed (each only when asked),
// then the file's new stat. `tar -x` sends three SETATTRs per file; made as separate JS calls,
// their call overhead cost more than the syscalls (see src/union/known-upper.ts).
#include <node_api.h>
#include "napi_args.h"
#include "stat_out.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_BUF 4097
#define UTIME_OMIT_ ((1l << 30) - 2l)

struct change {
  uid_t uid;  // (uid_t)-1: leave
  gid_t gid;
  int mode;   // -1: leave
  struct timespec times[2];
  int has_times;
};

// args[first..first+7]: uid, gid, mode, aSec, aNsec, mSec, mNsec (uid/gid/mode -1: leave; nsec UTIME_OMIT: leave)
static void read_change(napi_env env, napi_value *argv, int first, struct change *c) {
  double uid = get_num(env, argv[first]), gid = get_num(env, argv[first + 1]);
  c->uid = uid < 0 ? (uid_t)-1 : (uid_t)uid;
  c->gid = gid < 0 ? (gid_t)-1 : (gid_t)gid;
  c->mode = (int)get_num(env, argv[first + 2]);
  c->times[0].tv_sec = (time_t)get_num(env, argv[first + 3]);
  c->times[0].tv_nsec = (long)get_num(env, argv[first + 4]);
  c->times[1].tv_sec = (time_t)get_num(env, argv[first + 5]);
  c->times[1].tv_nsec = (long)get_num(env, argv[first + 6]);
  c->has_times = c->times[0].tv_nsec != UTIME_OMIT_ || c->times[1].tv_nsec != UTIME_OMIT_;
}

// setattrAt(dirfd, path, uid, gid, mode, aSec, aNsec, mSec, mNsec, out) -> 0 | -errno
// chown and utimensat without following, chmod (the caller passes a mode only for a regular
// file), in the order chown, chmod, times (chown drops setuid bits, so the mode comes after it),
// then lstat into `out`; `path` relative to `dirfd` (a layer root's O_PATH fd: a shorter walk),
// or absolute with AT_FDCWD (-100).
static napi_value js_setattr_at(napi_env env, napi_callback_info info) {
  ARGS(10);
  int dirfd = (int)get_num(env, argv[0]);
  char path[PATH_BUF];
  int e = get_str(env, argv[1], path, sizeof(path));
  if (e) return num(env, e);
  struct change c;
  read_change(env, argv, 2, &c);
  double *out = f64(env, argv[9], 16);
  if (!out) return num(env, -EINVAL);
  if ((c.uid != (uid_t)-1 || c.gid != (gid_t)-1) && fchownat(dirfd, path, c.uid, c.gid, AT_SYMLINK_NOFOLLOW) < 0) return num(env, -errno);
  if (c.mode >= 0 && fchmodat(dirfd, path, c.mode & 07777, 0) < 0) return num(env, -errno);
  if (c.has_times && utimensat(dirfd, path, c.times, AT_SYMLINK_NOFOLLOW) < 0) return num(env, -errno);
  struct stat st;
  if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) return num(env, -errno);
  fill_stat(out, &st);
  return num(env, 0);
}

// setattrFd(fd, uid, gid, mode, aSec, aNsec, mSec, mNsec, out) -> 0 | -errno: the same through an open fd.
static napi_value js_setattr_fd(napi_env env, napi_callback_info info) {
  ARGS(9);
  int fd = (int)get_num(env, argv[0]);
  struct change c;
  read_change(env, argv, 1, &c);
  double *out = f64(env, argv[8], 16);
  if (!out) return num(env, -EINVAL);
  if ((c.uid != (uid_t)-1 || c.gid != (gid_t)-1) && fchown(fd, c.uid, c.gid) < 0) return num(env, -errno);
  if (c.mode >= 0 && fchmod(fd, c.mode & 07777) < 0) return num(env, -errno);
  if (c.has_times && futimens(fd, c.times) < 0) return num(env, -errno);
  struct stat st;
  if (fstat(fd, &st) < 0) return num(env, -errno);
  fill_stat(out, &st);
  return num(env, 0);
}

void strata_set_attr_init(napi_env env, napi_value exports) {
  EXPORT("setattrAt", js_setattr_at);
  EXPORT("setattrFd", js_setattr_fd);
}
