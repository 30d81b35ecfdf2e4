#include "fault/powercut/volatile_fs.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <linux/falloc.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>

namespace mq::powercut {
namespace {

constexpr uint64_t kRootId = 1;
// What statfs reports: large enough that the store's disk-ratio guard never trips on its own.
constexpr int64_t kCapacityBytes = 64LL << 30;

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : path) {
    if (c == '/') {
      if (!cur.empty()) parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) parts.push_back(std::move(cur));
  return parts;
}

bool OpMatches(const std::string& rule_op, const char* op) { return rule_op == "any" || rule_op == op; }

}  // namespace

bool VolatileFs::IsKnownOp(const std::string& op) {
  for (const char* known : {"write", "truncate", "fallocate", "fsync", "fsyncdir", "create", "mkdir",
                            "rename", "unlink", "rmdir", "read", "any"}) {
    if (op == known) return true;
  }
  return false;
}

VolatileFs::VolatileFs() {
  auto root = std::make_unique<Inode>();
  root->id = kRootId;
  root->dir = true;
  root->mode = S_IFDIR | 0755;
  root->live_links = root->durable_links = 1;
  root->path = "/";
  clock_gettime(CLOCK_REALTIME, &root->mtime);
  inodes_[kRootId] = std::move(root);
}

void VolatileFs::SetOnCut(std::function<void()> on_cut) {
  std::lock_guard<std::mutex> lock(mu_);
  on_cut_ = std::move(on_cut);
}

int VolatileFs::Gate(const char* op, const std::string& path) {
  if (frozen_) return -EIO;
  ++ops_;
  for (const auto& r : fails_) {
    if (OpMatches(r.op, op) && fnmatch(r.glob.c_str(), path.c_str(), 0) == 0) {
      ++injected_failures_;
      return -EIO;
    }
  }
  for (auto& r : arms_) {
    if (r.remaining > 0 && OpMatches(r.op, op) && fnmatch(r.glob.c_str(), path.c_str(), 0) == 0 &&
        --r.remaining == 0) {
      last_cut_at_ = std::string(op) + " " + path;
      CutLocked();
      return -EIO;
    }
  }
  return 0;
}

VolatileFs::Inode* VolatileFs::Lookup(const std::string& path) {
  Inode* cur = inodes_[kRootId].get();
  for (const auto& part : Split(path)) {
    if (!cur->dir) return nullptr;
    auto it = cur->live_entries.find(part);
    if (it == cur->live_entries.end()) return nullptr;
    cur = inodes_.at(it->second).get();
  }
  return cur;
}

VolatileFs::Inode* VolatileFs::ByHandle(uint64_t fh) {
  auto it = inodes_.find(fh);
  return it == inodes_.end() ? nullptr : it->second.get();
}

VolatileFs::Inode* VolatileFs::Parent(const std::string& path, std::string* name) {
  auto parts = Split(path);
  if (parts.empty()) return nullptr;
  *name = parts.back();
  size_t cut = path.find_last_of('/');
  Inode* dir = Lookup(cut == std::string::npos ? "/" : path.substr(0, cut));
  return dir && dir->dir ? dir : nullptr;
}

VolatileFs::Inode* VolatileFs::NewInode(bool dir, mode_t mode, const std::string& path) {
  auto ino = std::make_unique<Inode>();
  ino->id = next_id_++;
  ino->dir = dir;
  ino->mode = (dir ? S_IFDIR : S_IFREG) | (mode & 07777);
  ino->path = path;
  clock_gettime(CLOCK_REALTIME, &ino->mtime);
  Inode* raw = ino.get();
  inodes_[raw->id] = std::move(ino);
  return raw;
}

void VolatileFs::Link(Inode* dir, const std::string& name, uint64_t id) {
  auto it = dir->live_entries.find(name);
  if (it != dir->live_entries.end()) {
    uint64_t old = it->second;
    inodes_.at(old)->live_links--;
    it->second = id;
    CollectIfUnreachable(old);
  } else {
    dir->live_entries[name] = id;
  }
  inodes_.at(id)->live_links++;
  Touch(dir);
}

void VolatileFs::Unlink(Inode* dir, const std::string& name) {
  auto it = dir->live_entries.find(name);
  uint64_t id = it->second;
  dir->live_entries.erase(it);
  inodes_.at(id)->live_links--;
  Touch(dir);
  CollectIfUnreachable(id);
}

void VolatileFs::CollectIfUnreachable(uint64_t id) {
  auto it = inodes_.find(id);
  if (it == inodes_.end() || id == kRootId) return;
  const Inode& ino = *it->second;
  if (ino.live_links <= 0 && ino.durable_links <= 0 && ino.open <= 0) inodes_.erase(it);
}

void VolatileFs::Touch(Inode* ino) { clock_gettime(CLOCK_REALTIME, &ino->mtime); }

VolatileFs::Page* VolatileFs::Writable(Content* c, int64_t page_index) {
  auto& slot = c->pages[page_index];
  if (!slot) {
    slot = std::make_shared<Page>();
    slot->fill(0);
  } else if (slot.use_count() > 1) {
    slot = std::make_shared<Page>(*slot);  // shared with the durable state: copy on write
  }
  return slot.get();
}

void VolatileFs::ZeroRange(Content* c, int64_t off, int64_t len) {
  int64_t end = off + len;
  for (auto it = c->pages.lower_bound(off / kPageSize);
       it != c->pages.end() && it->first * kPageSize < end;) {
    int64_t page_start = it->first * kPageSize;
    int64_t from = std::max(off, page_start), to = std::min(end, page_start + kPageSize);
    if (from == page_start && to == page_start + kPageSize) {
      it = c->pages.erase(it);
      continue;
    }
    Page* p = Writable(c, it->first);
    std::memset(p->data() + (from - page_start), 0, static_cast<size_t>(to - from));
    ++it;
  }
}

void VolatileFs::FillStat(const Inode& ino, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = ino.id;
  st->st_mode = ino.mode;
  st->st_nlink = ino.live_links > 0 ? (ino.dir ? 2 : 1) : 0;
  st->st_size = ino.dir ? 4096 : ino.live.size;
  st->st_blksize = kPageSize;
  st->st_blocks = static_cast<blkcnt_t>(ino.live.pages.size() * (kPageSize / 512));
  st->st_mtim = st->st_ctim = st->st_atim = ino.mtime;
}

int VolatileFs::GetAttr(const std::string& path, struct stat* st) {
  std::lock_guard<std::mutex> lock(mu_);
  if (frozen_) return -EIO;
  Inode* ino = Lookup(path);
  if (!ino) return -ENOENT;
  FillStat(*ino, st);
  return 0;
}

int VolatileFs::GetAttrByHandle(uint64_t fh, struct stat* st) {
  std::lock_guard<std::mutex> lock(mu_);
  if (frozen_) return -EIO;
  Inode* ino = ByHandle(fh);
  if (!ino) return -EBADF;
  FillStat(*ino, st);
  return 0;
}

int VolatileFs::OpenDir(const std::string& path, uint64_t* fh) {
  std::lock_guard<std::mutex> lock(mu_);
  if (frozen_) return -EIO;
  Inode* dir = Lookup(path);
  if (!dir) return -ENOENT;
  if (!dir->dir) return -ENOTDIR;
  dir->open++;
  *fh = dir->id;
  return 0;
}

int VolatileFs::ReadDir(uint64_t fh, std::vector<std::string>* names) {
  std::lock_guard<std::mutex> lock(mu_);
  Inode* dir = ByHandle(fh);
  if (int rc = Gate("read", dir ? dir->path : "")) return rc;
  if (!dir) return -EBADF;
  if (!dir->dir) return -ENOTDIR;
  for (const auto& [name, id] : dir->live_entries) names->push_back(name);
  return 0;
}

int VolatileFs::Mkdir(const std::string& path, mode_t mode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int rc = Gate("mkdir", path)) return rc;
  std::string name;
  Inode* parent = Parent(path, &name);
  if (!parent) return -ENOENT;
  if (parent->live_entries.count(name)) return -EEXIST;
  Link(parent, name, NewInode(true, mode, path)->id);
  return 0;
}

int VolatileFs::Rmdir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int rc = Gate("rmdir", path)) return rc;
  std::string name;
  Inode* parent = Parent(path, &name);
  Inode* dir = parent ? Lookup(path) : nullptr;
  if (!dir) return -ENOENT;
  if (!dir->dir) return -ENOTDIR;
  if (!dir->live_entries.empty()) return -ENOTEMPTY;
  Unlink(parent, name);
  return 0;
}

int VolatileFs::Unlink(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int rc = Gate("unlink", path)) return rc;
  std::string name;
  Inode* parent = Parent(path, &name);
  Inode* ino = parent ? Lookup(path) : nullptr;
  if (!ino) return -ENOENT;
  if (ino->dir) return -EISDIR;
  Unlink(parent, name);
  return 0;
}

int VolatileFs::Rename(const std::string& from, const std::string& to, unsigned int flags) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int rc = Gate("rename", from)) return rc;
  if (flags & ~static_cast<unsigned int>(RENAME_NOREPLACE)) return -EINVAL;
  std::string from_name, to_name;
  Inode* from_dir = Parent(from, &from_name);
  Inode* to_dir = Parent(to, &to_name);
  if (!from_dir || !to_dir) return -ENOENT;
  auto src = from_dir->live_entries.find(from_name);
  if (src == from_dir->live_entries.end()) return -ENOENT;
  Inode* moving = inodes_.at(src->second).get();
  auto dst = to_dir->live_entries.find(to_name);
  if (dst != to_dir->live_entries.end()) {
    if (flags & RENAME_NOREPLACE) return -EEXIST;
    if (dst->second == moving->id) return 0;
    Inode* target = inodes_.at(dst->second).get();
    if (target->dir && !moving->dir) return -EISDIR;
    if (!target->dir && moving->dir) return -ENOTDIR;
    if (target->dir && !target->live_entries.empty()) return -ENOTEMPTY;
  }
  uint64_t id = moving->id;
  moving->live_links++;  // keeps it alive between the unlink and the link
  Unlink(from_dir, from_name);
  Link(to_dir, to_name, id);
  moving->live_links--;
  moving->path = to;
  return 0;
}

int VolatileFs::Create(const std::string& path, mode_t mode, uint64_t* fh) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int rc = Gate("create", path)) return rc;
  std::string name;
  Inode* parent = Parent(path, &name);
  if (!parent) return -ENOENT;
  auto it = parent->live_entries.find(name);
  Inode* ino;
  if (it != parent->live_entries.end()) {
    ino = inodes_.at(it->second).get();
    if (ino->dir) return -EISDIR;
  } else {
    ino = NewInode(false, mode, path);
    Link(parent, name, ino->id);
  }
  ino->open++;
  *fh = ino->id;
  return 0;
}

int VolatileFs::Open(const std::string& path, uint64_t* fh) {
  std::lock_guard<std::mutex> lock(mu_);
  if (frozen_) return -EIO;
  Inode* ino = Lookup(path);
  if (!ino) return -ENOENT;
  ino->open++;
  *fh = ino->id;
  return 0;
}

int VolatileFs::Release(uint64_t fh) {
  std::lock_guard<std::mutex> lock(mu_);
  // Handles die with the mount at a cut (open counts were reset then); the old session's
  // releases all arrive before the remount thaws the model.
  if (frozen_) return 0;
  Inode* ino = ByHandle(fh);
  if (!ino) return 0;
  ino->open--;
  CollectIfUnreachable(fh);
  return 0;
}

int VolatileFs::Read(uint64_t fh, int64_t off, size_t size, char* out) {
  std::lock_guard<std::mutex> lock(mu_);
  Inode* ino = ByHandle(fh);
  if (int rc = Gate("read", ino ? ino->path : "")) return rc;
  if (!ino) return -EBADF;
  if (off >= ino->live.size) return 0;
  int64_t end = std::min<int64_t>(ino->live.size, off + static_cast<int64_t>(size));
  for (int64_t pos = off; pos < end;) {
    int64_t page = pos / kPageSize, in_page = pos % kPageSize;
    int64_t n = std::min(end - pos, kPageSize - in_page);
    auto it = ino->live.pages.find(page);
    if (it == ino->live.pages.end()) {
      std::memset(out + (pos - off), 0, static_cast<size_t>(n));
    } else {
      std::memcpy(out + (pos - off), it->second->data() + in_page, static_cast<size_t>(n));
    }
    pos += n;
  }
  return static_cast<int>(end - off);
}

int VolatileFs::Write(uint64_t fh, int64_t off, const char* data, size_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  Inode* ino = ByHandle(fh);
  if (int rc = Gate("write", ino ? ino->path : "")) return rc;
  if (!ino) return -EBADF;
  int64_t end = off + static_cast<int64_t>(size);
  for (int64_t pos = off; pos < end;) {
    int64_t page = pos / kPageSize, in_page = pos % kPageSize;
    int64_t n = std::min(end - pos, kPageSize - in_page);
    std::memcpy(Writable(&ino->live, page)->data() + in_page, data + (pos - off), static_cast<size_t>(n));
    pos += n;
  }
  ino->live.size = std::max(ino->live.size, end);
  Touch(ino);
  return static_cast<int>(size);
}

int VolatileFs::Truncate(const std::string& path, uint64_t fh, bool by_handle, int64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  Inode* ino = by_handle ? ByHandle(fh) : Lookup(path);
  if (int rc = Gate("truncate", ino ? ino->path : path)) return rc;
  if (!ino) return by_handle ? -EBADF : -ENOENT;
  if (ino->dir) return -EISDIR;
  if (size < 0) return -EINVAL;
  if (size < ino->live.size) ZeroRange(&ino->live, size, ino->live.size - size);
  ino->live.size = size;
  Touch(ino);
  return 0;
}

int VolatileFs::Fallocate(uint64_t fh, int mode, int64_t off, int64_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  Inode* ino = ByHandle(fh);
  if (int rc = Gate("fallocate", ino ? ino->path : "")) return rc;
  if (!ino) return -EBADF;
  if (off < 0 || len <= 0) return -EINVAL;
  if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE) {
    // Space is never short here, so reserving is only the size change.
    if (mode == 0) ino->live.size = std::max(ino->live.size, off + len);
  } else if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
    ZeroRange(&ino->live, off, std::min(len, std::max<int64_t>(0, ino->live.size - off)));
  } else {
    return -EOPNOTSUPP;
  }
  Touch(ino);
  return 0;
}

int VolatileFs::Fsync(uint64_t fh) {
  std::lock_guard<std::mutex> lock(mu_);
  Inode* ino = ByHandle(fh);
  if (int rc = Gate("fsync", ino ? ino->path : "")) return rc;
  if (!ino) return -EBADF;
  ino->durable = ino->live;  // shares the pages; later writes copy them
  return 0;
}

int VolatileFs::FsyncDir(uint64_t fh) {
  std::lock_guard<std::mutex> lock(mu_);
  Inode* dir = ByHandle(fh);
  if (int rc = Gate("fsyncdir", dir ? dir->path : "")) return rc;
  if (!dir) return -EBADF;
  if (!dir->dir) return -ENOTDIR;
  std::vector<uint64_t> dropped;
  for (const auto& [name, id] : dir->durable_entries) {
    inodes_.at(id)->durable_links--;
    dropped.push_back(id);
  }
  dir->durable_entries = dir->live_entries;
  for (const auto& [name, id] : dir->durable_entries) inodes_.at(id)->durable_links++;
  for (uint64_t id : dropped) CollectIfUnreachable(id);
  return 0;
}

int VolatileFs::Chmod(const std::string& path, mode_t mode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (frozen_) return -EIO;
  Inode* ino = Lookup(path);
  if (!ino) return -ENOENT;
  ino->mode = (ino->mode & S_IFMT) | (mode & 07777);
  return 0;
}

int VolatileFs::StatFs(struct statvfs* st) {
  std::lock_guard<std::mutex> lock(mu_);
  if (frozen_) return -EIO;
  int64_t used = 0;
  for (const auto& [id, ino] : inodes_) used += static_cast<int64_t>(ino->live.pages.size());
  std::memset(st, 0, sizeof(*st));
  st->f_bsize = st->f_frsize = kPageSize;
  st->f_blocks = static_cast<fsblkcnt_t>(kCapacityBytes / kPageSize);
  st->f_bfree = st->f_bavail = static_cast<fsblkcnt_t>(kCapacityBytes / kPageSize - used);
  st->f_files = 1 << 20;
  st->f_ffree = st->f_favail = static_cast<fsfilcnt_t>((1 << 20) - inodes_.size());
  st->f_namemax = 255;
  return 0;
}

void VolatileFs::CutLocked() {
  for (auto& [id, ino] : inodes_) {
    ino->live = ino->durable;
    ino->live_entries = ino->durable_entries;
    ino->open = 0;  // every handle dies with the mount
  }
  // Recount links from the durable namespace and forget what it does not reach.
  for (auto& [id, ino] : inodes_) ino->live_links = ino->durable_links = id == kRootId ? 1 : 0;
  for (auto& [id, ino] : inodes_) {
    for (const auto& [name, child] : ino->durable_entries) {
      inodes_.at(child)->live_links++;
      inodes_.at(child)->durable_links++;
    }
  }
  // A durably linked directory that is itself unreachable keeps its children counted; sweep
  // until nothing changes so whole unreachable subtrees go.
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto it = inodes_.begin(); it != inodes_.end();) {
      if (it->first != kRootId && it->second->durable_links <= 0) {
        for (const auto& [name, child] : it->second->durable_entries) {
          inodes_.at(child)->live_links--;
          inodes_.at(child)->durable_links--;
        }
        it = inodes_.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
  }
  frozen_ = true;
  ++cuts_;
  if (on_cut_) on_cut_();
}

void VolatileFs::Cut() {
  std::lock_guard<std::mutex> lock(mu_);
  if (frozen_) return;
  last_cut_at_ = "command";
  CutLocked();
}

void VolatileFs::Thaw() {
  std::lock_guard<std::mutex> lock(mu_);
  frozen_ = false;
}

void VolatileFs::Arm(const std::string& op, const std::string& glob, int64_t nth) {
  std::lock_guard<std::mutex> lock(mu_);
  arms_.push_back({op, glob, nth});
}

void VolatileFs::Fail(const std::string& op, const std::string& glob) {
  std::lock_guard<std::mutex> lock(mu_);
  fails_.push_back({op, glob, 0});
}

void VolatileFs::Heal() {
  std::lock_guard<std::mutex> lock(mu_);
  arms_.clear();
  fails_.clear();
}

std::string VolatileFs::Status() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t armed = 0;
  for (const auto& r : arms_) armed += r.remaining > 0 ? 1 : 0;
  std::ostringstream out;
  out << "frozen=" << (frozen_ ? 1 : 0) << " cuts=" << cuts_ << " ops=" << ops_ << " armed=" << armed
      << " failed=" << injected_failures_ << " inodes=" << inodes_.size() << " last_cut=" << last_cut_at_;
  return out.str();
}

}  // namespace mq::powercut
