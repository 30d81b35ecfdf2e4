// VolatileFs: the in-memory model behind mq_powercut_fs. It keeps two states of every file
// and directory: the live one (what processes see) and the durable one (what survives a power
// cut), and moves live to durable only where POSIX promises it:
//   - a file's data and size become durable at fsync/fdatasync of that file (msync on FUSE
//     arrives as WRITEs of the dirty pages followed by FSYNC);
//   - a directory's entries (new files, renames, unlinks, mkdirs) become durable at fsync of
//     that directory, and never as a side effect of fsyncing a file in it.
// Cut() replaces every live state with its durable one, drops files no durable entry names,
// and freezes the model: every later operation fails with EIO until Thaw() (the remount).
// Pages are shared copy-on-write between the two states, so fsync and Cut() cost one map
// copy, not a data copy.
//
// Fault injection: Arm() cuts at the Nth operation matching (op, glob on the mount-relative
// path), before that operation takes effect; Fail() makes matching operations fail with EIO
// and leaves the state untouched (a failing disk).
//
// Thread-safety: every public method takes mu_; callers may come from any thread.
// Error convention: methods return 0 or a negative errno, as FUSE expects.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mq::powercut {

class VolatileFs {
 public:
  static constexpr int64_t kPageSize = 4096;
  // Operation names used by Arm()/Fail(): write truncate fallocate fsync fsyncdir create
  // mkdir rename unlink rmdir read; "any" matches each of them.
  static bool IsKnownOp(const std::string& op);

  VolatileFs();
  VolatileFs(const VolatileFs&) = delete;
  VolatileFs& operator=(const VolatileFs&) = delete;

  // Called (under mu_) the moment a cut happens, e.g. to SIGKILL the process under test.
  void SetOnCut(std::function<void()> on_cut);

  int GetAttr(const std::string& path, struct stat* st);
  int GetAttrByHandle(uint64_t fh, struct stat* st);
  // Directories are read and fsynced through handles from OpenDir (libfuse passes no path to
  // handle operations when nullpath_ok is set).
  int OpenDir(const std::string& path, uint64_t* fh);
  int ReadDir(uint64_t fh, std::vector<std::string>* names);
  int Mkdir(const std::string& path, mode_t mode);
  int Rmdir(const std::string& path);
  int Unlink(const std::string& path);
  int Rename(const std::string& from, const std::string& to, unsigned int flags);
  int Create(const std::string& path, mode_t mode, uint64_t* fh);
  int Open(const std::string& path, uint64_t* fh);
  int Release(uint64_t fh);
  int Read(uint64_t fh, int64_t off, size_t size, char* out);  // bytes read or -errno
  int Write(uint64_t fh, int64_t off, const char* data, size_t size);
  int Truncate(const std::string& path, uint64_t fh, bool by_handle, int64_t size);
  int Fallocate(uint64_t fh, int mode, int64_t off, int64_t len);
  int Fsync(uint64_t fh);
  int FsyncDir(uint64_t fh);
  int Chmod(const std::string& path, mode_t mode);
  int StatFs(struct statvfs* st);

  // Control (see the class comment).
  void Cut();
  void Thaw();
  void Arm(const std::string& op, const std::string& glob, int64_t nth);
  void Fail(const std::string& op, const std::string& glob);
  void Heal();
  std::string Status();

 private:
  using Page = std::array<char, kPageSize>;
  struct Content {
    std::map<int64_t, std::shared_ptr<Page>> pages;  // absent pages read as zeros
    int64_t size = 0;
  };
  struct Inode {
    uint64_t id = 0;
    bool dir = false;
    mode_t mode = 0;
    struct timespec mtime {};
    Content live, durable;
    std::map<std::string, uint64_t> live_entries, durable_entries;
    int live_links = 0, durable_links = 0, open = 0;
    std::string path;  // last name it was given; for fault matching
  };
  struct Rule {
    std::string op, glob;
    int64_t remaining;  // arms: matches left before the cut
  };

  // Applies freeze, failure rules and armed cuts to one operation; non-zero means "refuse".
  int Gate(const char* op, const std::string& path);
  Inode* Lookup(const std::string& path);
  Inode* ByHandle(uint64_t fh);
  // Parent directory and final name of `path`; nullptr if the parent does not exist.
  Inode* Parent(const std::string& path, std::string* name);
  Inode* NewInode(bool dir, mode_t mode, const std::string& path);
  void Link(Inode* dir, const std::string& name, uint64_t id);
  void Unlink(Inode* dir, const std::string& name);
  void CollectIfUnreachable(uint64_t id);
  void CutLocked();
  static Page* Writable(Content* c, int64_t page_index);
  static void ZeroRange(Content* c, int64_t off, int64_t len);
  void Touch(Inode* ino);
  static void FillStat(const Inode& ino, struct stat* st);

  std::mutex mu_;
  std::unordered_map<uint64_t, std::unique_ptr<Inode>> inodes_;
  uint64_t next_id_ = 2;  // 1 is the root
  bool frozen_ = false;
  int64_t cuts_ = 0;
  int64_t ops_ = 0;
  std::vector<Rule> arms_, fails_;
  int64_t injected_failures_ = 0;
  std::string last_cut_at_;
  std::function<void()> on_cut_;
};

}  // namespace mq::powercut
