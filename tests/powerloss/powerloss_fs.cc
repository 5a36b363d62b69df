// powerloss_fs: a FUSE file system that forgets, on a simulated power cut,
// everything that was not synced -- the approach LazyFS takes for Jepsen,
// reduced to what berth's durability test needs.
//
//   powerloss_fs BACKING_DIR MOUNTPOINT
//
// runs in the foreground until SIGTERM/SIGINT or unmount. BACKING_DIR holds
// the durable state only; mounting again on the same BACKING_DIR shows that
// state, which is what a machine sees after it lost power.
//
// The model (strict POSIX; stricter than ext4's data=ordered):
//   - Every change is applied to an in-memory "page cache" first, and every
//     read sees that cache.
//   - A file's contents, size and mode become durable only when that file is
//     fsync'ed or fdatasync'ed (through any descriptor, even after the writer
//     closed it). Syncing a file says nothing about any name it has.
//   - A directory's entries (create, mkdir, link, unlink, rmdir and both
//     halves of a rename) become durable only when that directory is
//     fsync'ed, and then all of its entries at once. A rename between two
//     directories is two independent changes: if only the target directory
//     is synced, the file has both names after a cut; if only the source
//     directory is synced, it has none. A new subdirectory made durable by its
//     parent's sync is durable as an empty directory until it is synced too.
//     A new file made durable by its directory's sync without a sync of its
//     own is durable as an empty file.
//   - Durable state is kept per inode, so a name made durable later points to
//     whatever was synced into that inode (hard links and renames behave).
//   - setxattr("user.powerloss.cut") on the mount's root cuts power: from then
//     on every operation fails with EIO, and nothing unsynced ever reaches
//     BACKING_DIR. The request is answered after the cut, so the caller knows
//     it happened.
// Not modelled: sync(2)/syncfs (never make anything durable), torn writes
// inside one fsync, xattrs, symlinks, special files, permissions (everything
// is allowed: the tool is meant for a root-run test).
//
// Backing layout: files/<ino> holds the durable contents (and, as its own mode,
// the durable mode) of file inode <ino>; dirs/<ino> lists the durable entries
// of directory <ino> as lines "<f|d> <ino> <name>", and its mode is the
// directory's. The root is inode 1. Inodes no durable name reaches are deleted
// at mount.
//
// Threading: one FUSE thread (fuse_session_loop); no locks needed.

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

constexpr uint64_t kChunk = 64 * 1024;  // granularity of dirty-data tracking
constexpr const char* kCutAttribute = "user.powerloss.cut";

struct Node {
  fuse_ino_t ino = 0;
  bool is_dir = false;
  mode_t mode = 0;  // permission bits only
  timespec atime{}, mtime{}, ctime{};
  uint32_t links = 0;  // cached names (files) or 2 + subdirectories (dirs)

  // Files. `data` is valid only while `loaded`; otherwise the cached contents
  // equal the durable ones in files/<ino>.
  uint64_t size = 0;
  bool loaded = false;
  std::string data;
  std::set<uint64_t> dirty_chunks;
  uint64_t durable_size = 0;
  uint64_t min_size_since_sync = 0;  // truncations must reach the backing file too
  bool mode_dirty = false;
  int open_count = 0;

  // Directories.
  std::map<std::string, fuse_ino_t> entries;
  fuse_ino_t parent = 1;

  bool file_dirty() const {
    return !dirty_chunks.empty() || size != durable_size || min_size_since_sync != durable_size ||
           mode_dirty;
  }
};

struct State {
  std::string backing;
  std::unordered_map<fuse_ino_t, std::unique_ptr<Node>> nodes;
  fuse_ino_t next_ino = 2;
  bool dead = false;
};

State g;

std::string file_path(fuse_ino_t ino) {
  return g.backing + "/files/" + std::to_string(ino);
}
std::string dir_path(fuse_ino_t ino) {
  return g.backing + "/dirs/" + std::to_string(ino);
}

timespec now() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return t;
}

Node* find(fuse_ino_t ino) {
  auto it = g.nodes.find(ino);
  return it == g.nodes.end() ? nullptr : it->second.get();
}

Node* make_node(bool is_dir, mode_t mode) {
  auto n = std::make_unique<Node>();
  n->ino = g.next_ino++;
  n->is_dir = is_dir;
  n->mode = mode & 07777;
  n->atime = n->mtime = n->ctime = now();
  n->links = is_dir ? 2 : 0;
  n->loaded = !is_dir;  // a new file's contents are the (empty) cache
  n->mode_dirty = true;
  Node* raw = n.get();
  g.nodes.emplace(raw->ino, std::move(n));
  return raw;
}

void fill_stat(const Node* n, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = n->ino;
  st->st_mode = (n->is_dir ? S_IFDIR : S_IFREG) | n->mode;
  st->st_nlink = n->links;
  st->st_uid = getuid();
  st->st_gid = getgid();
  st->st_size = n->is_dir ? 4096 : static_cast<off_t>(n->size);
  st->st_blksize = 4096;
  st->st_blocks = (st->st_size + 511) / 512;
  st->st_atim = n->atime;
  st->st_mtim = n->mtime;
  st->st_ctim = n->ctime;
}

void reply_entry(fuse_req_t req, const Node* n) {
  fuse_entry_param e{};
  e.ino = n->ino;
  e.attr_timeout = 1.0;
  e.entry_timeout = 1.0;
  fill_stat(n, &e.attr);
  fuse_reply_entry(req, &e);
}

void reply_attr(fuse_req_t req, const Node* n) {
  struct stat st;
  fill_stat(n, &st);
  fuse_reply_attr(req, &st, 1.0);
}

// Reads the durable contents into the cache. Returns 0 or an errno.
int ensure_loaded(Node* n) {
  if (n->loaded) return 0;
  std::string data;
  int fd = ::open(file_path(n->ino).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[1 << 16];
    ssize_t r;
    while ((r = ::read(fd, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(r));
    int err = r < 0 ? errno : 0;
    ::close(fd);
    if (err != 0) return err;
  } else if (errno != ENOENT) {
    return errno;
  }
  // The cached size may differ from the durable one (a truncate of an
  // unloaded file): the cache wins.
  data.resize(n->size, '\0');
  n->data = std::move(data);
  n->loaded = true;
  return 0;
}

// Drops the cached copy of a file nobody can reach or whose cache equals the
// durable contents, to keep memory bounded.
void maybe_evict(Node* n) {
  if (n->is_dir || n->open_count > 0) return;
  if (n->links == 0 || !n->file_dirty()) {
    n->loaded = false;
    std::string().swap(n->data);
    if (n->links == 0) n->dirty_chunks.clear();
  }
}

void mark_dirty(Node* n, uint64_t off, uint64_t len) {
  if (len == 0) return;
  for (uint64_t c = off / kChunk; c <= (off + len - 1) / kChunk; ++c) n->dirty_chunks.insert(c);
}

// Returns 0 or an errno.
int resize_file(Node* n, uint64_t size) {
  if (int err = ensure_loaded(n)) return err;
  n->data.resize(size, '\0');
  if (size < n->size) {
    n->min_size_since_sync = std::min(n->min_size_since_sync, size);
  } else if (size > n->size) {
    mark_dirty(n, n->size, size - n->size);
  }
  n->size = size;
  return 0;
}

// Makes the file's cached contents and mode durable. Returns 0 or an errno.
int persist_file(Node* n) {
  if (!n->file_dirty()) return 0;
  if (int err = ensure_loaded(n)) return err;
  int fd = ::open(file_path(n->ino).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int err = 0;
  if (n->min_size_since_sync < n->durable_size &&
      ::ftruncate(fd, static_cast<off_t>(n->min_size_since_sync)) != 0)
    err = errno;
  if (err == 0 && ::ftruncate(fd, static_cast<off_t>(n->size)) != 0) err = errno;
  for (uint64_t c : n->dirty_chunks) {
    if (err != 0) break;
    uint64_t off = c * kChunk;
    if (off >= n->size) break;
    uint64_t len = std::min(kChunk, n->size - off);
    if (::pwrite(fd, n->data.data() + off, len, static_cast<off_t>(off)) !=
        static_cast<ssize_t>(len))
      err = errno ? errno : EIO;
  }
  if (err == 0 && ::fchmod(fd, n->mode) != 0) err = errno;
  ::close(fd);
  if (err != 0) return err;
  n->dirty_chunks.clear();
  n->durable_size = n->size;
  n->min_size_since_sync = n->size;
  n->mode_dirty = false;
  return 0;
}

// Gives a child that a directory's sync makes reachable a durable existence,
// without changing any durable contents it already has.
int ensure_durable_inode(const Node* child) {
  std::string p = child->is_dir ? dir_path(child->ino) : file_path(child->ino);
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  struct stat st;
  int err = 0;
  if (::fstat(fd, &st) != 0) err = errno;
  // A brand-new inode also gets its mode; later mode changes need its own sync.
  else if (st.st_size == 0 && ::fchmod(fd, child->mode) != 0)
    err = errno;
  ::close(fd);
  return err;
}

// Makes the directory's cached entry list durable (all entries at once).
int persist_dir(Node* d) {
  std::ostringstream out;
  for (const auto& [name, ino] : d->entries) {
    Node* c = find(ino);
    if (c == nullptr) return EIO;
    if (int err = ensure_durable_inode(c)) return err;
    out << (c->is_dir ? 'd' : 'f') << ' ' << ino << ' ' << name << '\n';
  }
  std::string tmp = dir_path(d->ino) + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << out.str();
    if (!f.flush()) return EIO;
  }
  if (::chmod(tmp.c_str(), d->mode) != 0) return errno;
  if (::rename(tmp.c_str(), dir_path(d->ino).c_str()) != 0) return errno;
  return 0;
}

// ---------------------------------------------------------------------------
// Mounting: load the durable tree, delete what it does not reach.

bool load_dir(fuse_ino_t ino, fuse_ino_t parent, std::set<fuse_ino_t>& seen_dirs,
              std::set<fuse_ino_t>& seen_files) {
  struct stat st;
  if (::stat(dir_path(ino).c_str(), &st) != 0) return false;
  auto d = std::make_unique<Node>();
  d->ino = ino;
  d->is_dir = true;
  d->mode = st.st_mode & 07777;
  d->atime = d->mtime = d->ctime = st.st_mtim;
  d->links = 2;
  d->parent = parent;
  Node* dir = d.get();
  g.nodes.emplace(ino, std::move(d));
  seen_dirs.insert(ino);
  g.next_ino = std::max(g.next_ino, ino + 1);

  std::ifstream in(dir_path(ino), std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    char type = 0;
    unsigned long long child = 0;
    int used = 0;
    if (std::sscanf(line.c_str(), "%c %llu %n", &type, &child, &used) < 2 || used <= 0) continue;
    std::string name = line.substr(static_cast<size_t>(used));
    if (type == 'd') {
      if (seen_dirs.count(child) || !load_dir(child, ino, seen_dirs, seen_files)) continue;
      dir->links++;
    } else {
      Node* f = find(child);
      if (f == nullptr) {
        auto n = std::make_unique<Node>();
        n->ino = child;
        struct stat fst {};
        if (::stat(file_path(child).c_str(), &fst) != 0) fst.st_mode = 0600;  // durable as empty
        n->mode = fst.st_mode & 07777;
        n->size = n->durable_size = n->min_size_since_sync = static_cast<uint64_t>(fst.st_size);
        n->atime = n->mtime = n->ctime = fst.st_mtim;
        f = n.get();
        g.nodes.emplace(child, std::move(n));
        seen_files.insert(child);
        g.next_ino = std::max(g.next_ino, static_cast<fuse_ino_t>(child) + 1);
      } else if (f->is_dir) {
        continue;
      }
      f->links++;
    }
    dir->entries[name] = child;
  }
  return true;
}

void remove_unreachable(const std::string& sub, const std::set<fuse_ino_t>& keep) {
  std::string dir = g.backing + "/" + sub;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return;
  std::vector<std::string> doomed;
  while (dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    char* end = nullptr;
    unsigned long long ino = std::strtoull(name.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || !keep.count(ino)) doomed.push_back(dir + "/" + name);
  }
  for (const auto& p : doomed) ::unlink(p.c_str());
}

bool mount_state(const std::string& backing) {
  g.backing = backing;
  ::mkdir((backing + "/files").c_str(), 0700);
  ::mkdir((backing + "/dirs").c_str(), 0700);
  if (::access(dir_path(1).c_str(), F_OK) != 0) {
    std::ofstream(dir_path(1)).flush();
    ::chmod(dir_path(1).c_str(), 0755);
  }
  std::set<fuse_ino_t> dirs, files;
  if (!load_dir(1, 1, dirs, files)) return false;
  remove_unreachable("dirs", dirs);
  remove_unreachable("files", files);
  return true;
}

// ---------------------------------------------------------------------------
// Operations. Every one starts with the power check.

#define POWER_CHECK(req)        \
  do {                          \
    if (g.dead) {               \
      fuse_reply_err(req, EIO); \
      return;                   \
    }                           \
  } while (0)

bool valid_name(const char* name) {
  return std::strchr(name, '\n') == nullptr && std::strlen(name) <= 255;
}

Node* dir_or_reply(fuse_req_t req, fuse_ino_t ino) {
  Node* d = find(ino);
  if (d == nullptr) {
    fuse_reply_err(req, ENOENT);
    return nullptr;
  }
  if (!d->is_dir) {
    fuse_reply_err(req, ENOTDIR);
    return nullptr;
  }
  return d;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  POWER_CHECK(req);
  Node* d = dir_or_reply(req, parent);
  if (d == nullptr) return;
  auto it = d->entries.find(name);
  if (it == d->entries.end()) {
    fuse_entry_param e{};
    e.ino = 0;  // negative entry, not cached (timeout 0)
    fuse_reply_entry(req, &e);
    return;
  }
  reply_entry(req, find(it->second));
}

void op_forget(fuse_req_t req, fuse_ino_t, uint64_t) {
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  POWER_CHECK(req);
  Node* n = find(ino);
  if (n == nullptr) return (void)fuse_reply_err(req, ENOENT);
  reply_attr(req, n);
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  POWER_CHECK(req);
  Node* n = find(ino);
  if (n == nullptr) return (void)fuse_reply_err(req, ENOENT);
  timespec t = now();
  if (to_set & FUSE_SET_ATTR_MODE) {
    n->mode = attr->st_mode & 07777;
    n->mode_dirty = true;
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (n->is_dir) return (void)fuse_reply_err(req, EISDIR);
    if (int err = resize_file(n, static_cast<uint64_t>(attr->st_size)))
      return (void)fuse_reply_err(req, err);
    n->mtime = t;
  }
  if (to_set & FUSE_SET_ATTR_ATIME) n->atime = attr->st_atim;
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) n->atime = t;
  if (to_set & FUSE_SET_ATTR_MTIME) n->mtime = attr->st_mtim;
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) n->mtime = t;
  n->ctime = t;
  reply_attr(req, n);
}

void add_entry(Node* d, const std::string& name, Node* child) {
  d->entries[name] = child->ino;
  if (child->is_dir) {
    child->parent = d->ino;
    d->links++;
  } else {
    child->links++;
  }
  d->mtime = d->ctime = now();
}

void drop_entry(Node* d, const std::string& name) {
  auto it = d->entries.find(name);
  Node* child = find(it->second);
  d->entries.erase(it);
  d->mtime = d->ctime = now();
  if (child->is_dir) {
    d->links--;
    child->links = 0;
  } else {
    child->links--;
    child->ctime = d->mtime;
    maybe_evict(child);
  }
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  POWER_CHECK(req);
  Node* d = dir_or_reply(req, parent);
  if (d == nullptr) return;
  if (!valid_name(name)) return (void)fuse_reply_err(req, EINVAL);
  if (d->entries.count(name)) return (void)fuse_reply_err(req, EEXIST);
  Node* n = make_node(true, mode);
  add_entry(d, name, n);
  reply_entry(req, n);
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               fuse_file_info* fi) {
  POWER_CHECK(req);
  Node* d = dir_or_reply(req, parent);
  if (d == nullptr) return;
  if (!valid_name(name)) return (void)fuse_reply_err(req, EINVAL);
  auto it = d->entries.find(name);
  Node* n;
  if (it != d->entries.end()) {
    if (fi->flags & O_EXCL) return (void)fuse_reply_err(req, EEXIST);
    n = find(it->second);
    if (n->is_dir) return (void)fuse_reply_err(req, EISDIR);
    if (fi->flags & O_TRUNC) {
      if (int err = resize_file(n, 0)) return (void)fuse_reply_err(req, err);
    }
  } else {
    n = make_node(false, mode);
    add_entry(d, name, n);
  }
  n->open_count++;
  fi->keep_cache = 1;
  fuse_entry_param e{};
  e.ino = n->ino;
  e.attr_timeout = e.entry_timeout = 1.0;
  fill_stat(n, &e.attr);
  fuse_reply_create(req, &e, fi);
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  POWER_CHECK(req);
  Node* n = find(ino);
  Node* d = dir_or_reply(req, newparent);
  if (d == nullptr) return;
  if (n == nullptr) return (void)fuse_reply_err(req, ENOENT);
  if (n->is_dir) return (void)fuse_reply_err(req, EPERM);
  if (!valid_name(newname)) return (void)fuse_reply_err(req, EINVAL);
  if (d->entries.count(newname)) return (void)fuse_reply_err(req, EEXIST);
  add_entry(d, newname, n);
  n->ctime = now();
  reply_entry(req, n);
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  POWER_CHECK(req);
  Node* d = dir_or_reply(req, parent);
  if (d == nullptr) return;
  auto it = d->entries.find(name);
  if (it == d->entries.end()) return (void)fuse_reply_err(req, ENOENT);
  if (find(it->second)->is_dir) return (void)fuse_reply_err(req, EISDIR);
  drop_entry(d, name);
  fuse_reply_err(req, 0);
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  POWER_CHECK(req);
  Node* d = dir_or_reply(req, parent);
  if (d == nullptr) return;
  auto it = d->entries.find(name);
  if (it == d->entries.end()) return (void)fuse_reply_err(req, ENOENT);
  Node* c = find(it->second);
  if (!c->is_dir) return (void)fuse_reply_err(req, ENOTDIR);
  if (!c->entries.empty()) return (void)fuse_reply_err(req, ENOTEMPTY);
  drop_entry(d, name);
  fuse_reply_err(req, 0);
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned int flags) {
  POWER_CHECK(req);
  Node* from = dir_or_reply(req, parent);
  if (from == nullptr) return;
  Node* to = dir_or_reply(req, newparent);
  if (to == nullptr) return;
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) return (void)fuse_reply_err(req, EINVAL);
  if (!valid_name(newname)) return (void)fuse_reply_err(req, EINVAL);
  auto src = from->entries.find(name);
  if (src == from->entries.end()) return (void)fuse_reply_err(req, ENOENT);
  Node* moving = find(src->second);
  auto dst = to->entries.find(newname);
  if (dst != to->entries.end()) {
    if (flags & RENAME_NOREPLACE) return (void)fuse_reply_err(req, EEXIST);
    if (dst->second == moving->ino) return (void)fuse_reply_err(req, 0);
    Node* victim = find(dst->second);
    if (victim->is_dir && !moving->is_dir) return (void)fuse_reply_err(req, EISDIR);
    if (!victim->is_dir && moving->is_dir) return (void)fuse_reply_err(req, ENOTDIR);
    if (victim->is_dir && !victim->entries.empty()) return (void)fuse_reply_err(req, ENOTEMPTY);
    drop_entry(to, newname);
  }
  if (moving->is_dir) {
    // Refuse to move a directory under itself.
    for (Node* p = to; p->ino != 1; p = find(p->parent))
      if (p == moving) return (void)fuse_reply_err(req, EINVAL);
  }
  std::string kept(name);
  from->entries.erase(kept);
  if (moving->is_dir)
    from->links--;
  else
    moving->links--;
  from->mtime = from->ctime = now();
  add_entry(to, newname, moving);
  moving->ctime = now();
  fuse_reply_err(req, 0);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  POWER_CHECK(req);
  Node* n = find(ino);
  if (n == nullptr) return (void)fuse_reply_err(req, ENOENT);
  if (n->is_dir) return (void)fuse_reply_err(req, EISDIR);
  if (fi->flags & O_TRUNC) {
    if (int err = resize_file(n, 0)) return (void)fuse_reply_err(req, err);
  }
  n->open_count++;
  fi->keep_cache = 1;  // every change passes through this mount: its page cache stays valid
  fuse_reply_open(req, fi);
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  POWER_CHECK(req);
  Node* n = find(ino);
  if (n == nullptr) return (void)fuse_reply_err(req, ENOENT);
  if (int err = ensure_loaded(n)) return (void)fuse_reply_err(req, err);
  uint64_t o = static_cast<uint64_t>(off);
  if (o >= n->size) return (void)fuse_reply_buf(req, nullptr, 0);
  size_t len = static_cast<size_t>(std::min<uint64_t>(size, n->size - o));
  fuse_reply_buf(req, n->data.data() + o, len);
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
              fuse_file_info*) {
  POWER_CHECK(req);
  Node* n = find(ino);
  if (n == nullptr) return (void)fuse_reply_err(req, ENOENT);
  if (int err = ensure_loaded(n)) return (void)fuse_reply_err(req, err);
  uint64_t o = static_cast<uint64_t>(off);
  if (o + size > n->size) resize_file(n, o + size);  // loaded: cannot fail
  std::memcpy(n->data.data() + o, buf, size);
  mark_dirty(n, o, size);
  n->mtime = n->ctime = now();
  fuse_reply_write(req, size);
}

void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, fuse_file_info*) {
  POWER_CHECK(req);
  Node* n = find(ino);
  if (n == nullptr) return (void)fuse_reply_err(req, ENOENT);
  if (mode != 0) return (void)fuse_reply_err(req, EOPNOTSUPP);
  if (int err = ensure_loaded(n)) return (void)fuse_reply_err(req, err);
  uint64_t end = static_cast<uint64_t>(off) + static_cast<uint64_t>(len);
  if (end > n->size) resize_file(n, end);  // loaded: cannot fail
  fuse_reply_err(req, 0);
}

void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  POWER_CHECK(req);
  fuse_reply_err(req, 0);  // close(2) promises nothing about durability
}

void op_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (Node* n = find(ino)) {
    n->open_count--;
    maybe_evict(n);
  }
  fuse_reply_err(req, 0);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  POWER_CHECK(req);
  Node* n = find(ino);
  if (n == nullptr) return (void)fuse_reply_err(req, ENOENT);
  if (n->is_dir) return (void)fuse_reply_err(req, persist_dir(n));
  fuse_reply_err(req, persist_file(n));
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  POWER_CHECK(req);
  if (dir_or_reply(req, ino) == nullptr) return;
  fuse_reply_open(req, fi);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  POWER_CHECK(req);
  Node* d = dir_or_reply(req, ino);
  if (d == nullptr) return;
  std::vector<std::pair<std::string, Node*>> all{{".", d}, {"..", find(d->parent)}};
  for (const auto& [name, child] : d->entries) all.emplace_back(name, find(child));
  std::string buf;
  for (size_t i = static_cast<size_t>(off); i < all.size(); ++i) {
    struct stat st;
    fill_stat(all[i].second, &st);
    size_t need = fuse_add_direntry(req, nullptr, 0, all[i].first.c_str(), nullptr, 0);
    if (buf.size() + need > size) break;
    size_t at = buf.size();
    buf.resize(at + need);
    fuse_add_direntry(req, buf.data() + at, need, all[i].first.c_str(), &st,
                      static_cast<off_t>(i + 1));
  }
  fuse_reply_buf(req, buf.data(), buf.size());
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(req, 0);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  POWER_CHECK(req);
  Node* d = dir_or_reply(req, ino);
  if (d == nullptr) return;
  fuse_reply_err(req, persist_dir(d));
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  POWER_CHECK(req);
  struct statvfs s {};
  s.f_bsize = s.f_frsize = 4096;
  s.f_blocks = s.f_bfree = s.f_bavail = 1ull << 24;
  s.f_files = s.f_ffree = s.f_favail = 1ull << 20;
  s.f_namemax = 255;
  fuse_reply_statfs(req, &s);
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char*, size_t, int) {
  POWER_CHECK(req);
  if (ino == FUSE_ROOT_ID && std::strcmp(name, kCutAttribute) == 0) {
    g.dead = true;
    std::fprintf(stderr, "powerloss_fs: power cut; unsynced changes discarded\n");
    return (void)fuse_reply_err(req, 0);
  }
  fuse_reply_err(req, ENOTSUP);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s BACKING_DIR MOUNTPOINT\n", argv[0]);
    return 2;
  }
  if (!mount_state(argv[1])) {
    std::fprintf(stderr, "powerloss_fs: cannot load %s\n", argv[1]);
    return 1;
  }
  fuse_lowlevel_ops ops{};
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.releasedir = op_releasedir;
  ops.fsyncdir = op_fsyncdir;
  ops.statfs = op_statfs;
  ops.setxattr = op_setxattr;
  ops.create = op_create;
  ops.fallocate = op_fallocate;

  char prog[] = "powerloss_fs";
  char opt_flag[] = "-o";
  char opts[] = "fsname=powerloss,subtype=powerloss";
  char* fargv[] = {prog, opt_flag, opts, nullptr};
  fuse_args args = FUSE_ARGS_INIT(3, fargv);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), nullptr);
  if (se == nullptr) return 1;
  int rc = 1;
  if (fuse_set_signal_handlers(se) == 0) {
    if (fuse_session_mount(se, argv[2]) == 0) {
      std::fprintf(stderr, "powerloss_fs: mounted %s on %s\n", argv[1], argv[2]);
      rc = fuse_session_loop(se) == 0 ? 0 : 1;
      fuse_session_unmount(se);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  return rc;
}
