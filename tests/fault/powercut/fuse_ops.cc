#include "fault/powercut/fuse_ops.h"

#include <cerrno>
#include <string>
#include <vector>

#include "fault/powercut/volatile_fs.h"

namespace mq::powercut {
namespace {

VolatileFs* Fs() { return static_cast<VolatileFs*>(fuse_get_context()->private_data); }
std::string P(const char* path) { return path ? path : ""; }

void* Init(fuse_conn_info* conn, fuse_config* cfg) {
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  cfg->hard_remove = 1;
  cfg->nullpath_ok = 1;
  cfg->use_ino = 1;
  cfg->direct_io = 0;
  return fuse_get_context()->private_data;
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* fi) {
  return fi ? Fs()->GetAttrByHandle(fi->fh, st) : Fs()->GetAttr(P(path), st);
}

int OpenDir(const char* path, fuse_file_info* fi) {
  uint64_t fh = 0;
  int rc = Fs()->OpenDir(P(path), &fh);
  if (rc == 0) fi->fh = fh;
  return rc;
}

int ReadDir(const char*, void* buf, fuse_fill_dir_t fill, off_t, fuse_file_info* fi, fuse_readdir_flags) {
  std::vector<std::string> names;
  if (int rc = Fs()->ReadDir(fi->fh, &names)) return rc;
  fill(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (const auto& n : names) fill(buf, n.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  return 0;
}

int Mkdir(const char* path, mode_t mode) { return Fs()->Mkdir(P(path), mode); }
int Rmdir(const char* path) { return Fs()->Rmdir(P(path)); }
int Unlink(const char* path) { return Fs()->Unlink(P(path)); }
int Rename(const char* from, const char* to, unsigned int flags) {
  return Fs()->Rename(P(from), P(to), flags);
}

int Create(const char* path, mode_t mode, fuse_file_info* fi) {
  uint64_t fh = 0;
  int rc = Fs()->Create(P(path), mode, &fh);
  if (rc == 0) fi->fh = fh;
  return rc;
}

int Open(const char* path, fuse_file_info* fi) {
  uint64_t fh = 0;
  int rc = Fs()->Open(P(path), &fh);
  if (rc == 0) fi->fh = fh;
  return rc;
}

int Release(const char*, fuse_file_info* fi) { return Fs()->Release(fi->fh); }
int Flush(const char*, fuse_file_info*) { return 0; }  // close() makes nothing durable

int Read(const char*, char* buf, size_t size, off_t off, fuse_file_info* fi) {
  return Fs()->Read(fi->fh, off, size, buf);
}

int Write(const char*, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  return Fs()->Write(fi->fh, off, buf, size);
}

int Truncate(const char* path, off_t size, fuse_file_info* fi) {
  return Fs()->Truncate(P(path), fi ? fi->fh : 0, fi != nullptr, size);
}

int Fallocate(const char*, int mode, off_t off, off_t len, fuse_file_info* fi) {
  return Fs()->Fallocate(fi->fh, mode, off, len);
}

int Fsync(const char*, int, fuse_file_info* fi) { return Fs()->Fsync(fi->fh); }
int FsyncDir(const char*, int, fuse_file_info* fi) { return Fs()->FsyncDir(fi->fh); }
int Chmod(const char* path, mode_t mode, fuse_file_info*) { return Fs()->Chmod(P(path), mode); }
int Chown(const char*, uid_t, gid_t, fuse_file_info*) { return 0; }
int Utimens(const char*, const struct timespec*, fuse_file_info*) { return 0; }
int StatFs(const char*, struct statvfs* st) { return Fs()->StatFs(st); }

fuse_operations MakeOperations() {
  fuse_operations ops{};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.releasedir = Release;
  ops.mkdir = Mkdir;
  ops.rmdir = Rmdir;
  ops.unlink = Unlink;
  ops.rename = Rename;
  ops.create = Create;
  ops.open = Open;
  ops.release = Release;
  ops.flush = Flush;
  ops.read = Read;
  ops.write = Write;
  ops.truncate = Truncate;
  ops.fallocate = Fallocate;
  ops.fsync = Fsync;
  ops.fsyncdir = FsyncDir;
  ops.chmod = Chmod;
  ops.chown = Chown;
  ops.utimens = Utimens;
  ops.statfs = StatFs;
  return ops;
}

}  // namespace

const fuse_operations& PowercutOperations() {
  static const fuse_operations ops = MakeOperations();
  return ops;
}

}  // namespace mq::powercut
