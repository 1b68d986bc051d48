// Durability at the file system: an acknowledgement comes only after the
// commit's fsync, and a failed fsync fails the batches of that commit while
// nothing acknowledged goes missing. A VFS shim over the default one (every
// connection the plugin opens in this process goes through it) counts the
// WAL's fsyncs, notes how many acks had completed at each, and fails them on
// demand, as a dying disk or a full thin volume would.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace test;

namespace {

struct ShimFile {
  sqlite3_file base;  // pMethods: the shim's
  bool wal;           // a -wal file: the one a WAL commit syncs
  sqlite3_file *real() { return reinterpret_cast<sqlite3_file *>(this + 1); }
};

std::atomic<bool> fail_wal_sync{false};
std::atomic<int> wal_syncs{0};
vitals::testing::Host *watched_host = nullptr;  // acks completed at each WAL sync
std::vector<size_t> acks_at_sync;

sqlite3_vfs *real_vfs = nullptr;
sqlite3_vfs shim_vfs;
sqlite3_io_methods shim_methods;

sqlite3_file *real_of(sqlite3_file *f) { return reinterpret_cast<ShimFile *>(f)->real(); }

int shim_close(sqlite3_file *f) { return real_of(f)->pMethods->xClose(real_of(f)); }
int shim_read(sqlite3_file *f, void *p, int n, sqlite3_int64 o) {
  return real_of(f)->pMethods->xRead(real_of(f), p, n, o);
}
int shim_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 o) {
  return real_of(f)->pMethods->xWrite(real_of(f), p, n, o);
}
int shim_truncate(sqlite3_file *f, sqlite3_int64 n) { return real_of(f)->pMethods->xTruncate(real_of(f), n); }
int shim_sync(sqlite3_file *f, int flags) {
  if (reinterpret_cast<ShimFile *>(f)->wal) {
    ++wal_syncs;
    if (watched_host) acks_at_sync.push_back(watched_host->completions().size());
    if (fail_wal_sync) return SQLITE_IOERR_FSYNC;
  }
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}
int shim_file_size(sqlite3_file *f, sqlite3_int64 *n) { return real_of(f)->pMethods->xFileSize(real_of(f), n); }
int shim_lock(sqlite3_file *f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
int shim_unlock(sqlite3_file *f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
int shim_check_reserved(sqlite3_file *f, int *out) { return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out); }
int shim_file_control(sqlite3_file *f, int op, void *arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int shim_sector_size(sqlite3_file *f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int shim_device(sqlite3_file *f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
int shim_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, extend, p);
}
int shim_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
void shim_shm_barrier(sqlite3_file *f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int shim_shm_unmap(sqlite3_file *f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }
int shim_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p) {
  return real_of(f)->pMethods->xFetch(real_of(f), o, n, p);
}
int shim_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return real_of(f)->pMethods->xUnfetch(real_of(f), o, p); }

int shim_open(sqlite3_vfs *, sqlite3_filename name, sqlite3_file *f, int flags, int *out_flags) {
  auto *shim = reinterpret_cast<ShimFile *>(f);
  shim->base.pMethods = nullptr;
  int rc = real_vfs->xOpen(real_vfs, name, shim->real(), flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  shim->wal = (flags & SQLITE_OPEN_WAL) != 0;
  shim->base.pMethods = &shim_methods;
  return SQLITE_OK;
}

// Installs the shim as the default VFS for the scope.
struct ShimScope {
  ShimScope() {
    real_vfs = sqlite3_vfs_find(nullptr);
    shim_vfs = *real_vfs;
    shim_vfs.zName = "vitals-test-shim";
    shim_vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + real_vfs->szOsFile;
    shim_vfs.xOpen = shim_open;
    shim_vfs.pNext = nullptr;
    shim_methods = {3,
                    shim_close,
                    shim_read,
                    shim_write,
                    shim_truncate,
                    shim_sync,
                    shim_file_size,
                    shim_lock,
                    shim_unlock,
                    shim_check_reserved,
                    shim_file_control,
                    shim_sector_size,
                    shim_device,
                    shim_shm_map,
                    shim_shm_lock,
                    shim_shm_barrier,
                    shim_shm_unmap,
                    shim_fetch,
                    shim_unfetch};
    REQUIRE(sqlite3_vfs_register(&shim_vfs, 1) == SQLITE_OK);
  }
  ~ShimScope() {
    sqlite3_vfs_register(real_vfs, 1);
    sqlite3_vfs_unregister(&shim_vfs);
    watched_host = nullptr;
    fail_wal_sync = false;
  }
};

std::vector<int64_t> stored_ts(vitals::testing::Host &host, vitals::testing::Instance &storage, int64_t from,
                               int64_t to) {
  auto reply = query(host, storage,
                     R"({"op":"query","match":"m","method":"raw","from":)" + std::to_string(from) + R"(,"to":)" +
                         std::to_string(to) + "}");
  std::vector<int64_t> out;
  if (reply["series"].size() == 0) return out;
  const Json &points = reply["series"][0]["points"];
  for (size_t i = 0; i < points.size(); ++i) out.push_back(points[i][0].integer());
  return out;
}

}  // namespace

TEST_CASE("durability: acks follow the commit's fsync; a failed fsync fails its batches and loses no acked one") {
  for (const char *layout : {"v3", "v2"}) {
    CAPTURE(layout);
    ShimScope shim;
    vitals::testing::Host host;
    watched_host = &host;
    acks_at_sync.clear();
    auto id = host.intern("m");
    const std::string config = std::string("layout = \"") + layout + "\"\nflush_interval = \"1h\"";
    const int64_t t0 = now_ns() - minute;
    {
      auto storage = host.create_started(vitals_plugin(), config);
      // A: synced, then acknowledged.
      REQUIRE(consume(storage, {{id, t0, 1}, {id, t0 + 1, 2}}, 1) == VITALS_PENDING);
      const int syncs_before = wal_syncs;
      const size_t acks_before = host.completions().size();
      REQUIRE(storage.flush() == VITALS_OK);
      REQUIRE(wal_syncs > syncs_before);
      CHECK(acks_at_sync.back() == acks_before);  // A's ack was not out yet when its commit synced
      CHECK(host.completions().back() == std::pair<uintptr_t, int>{1, VITALS_OK});

      // B: its commit's fsync fails; B fails, nothing of it is acknowledged.
      REQUIRE(consume(storage, {{id, t0 + 2, 3}}, 2) == VITALS_PENDING);
      fail_wal_sync = true;
      CHECK(storage.flush() == VITALS_ERROR);
      fail_wal_sync = false;
      CHECK(host.completions().back() == std::pair<uintptr_t, int>{2, VITALS_ERROR});

      // C: the storage goes on.
      REQUIRE(consume(storage, {{id, t0 + 3, 4}}, 3) == VITALS_PENDING);
      REQUIRE(storage.flush() == VITALS_OK);
      CHECK(host.completions().back() == std::pair<uintptr_t, int>{3, VITALS_OK});
      const auto live = stored_ts(host, storage, t0, t0 + 10);
      CHECK(live == std::vector<int64_t>{t0, t0 + 1, t0 + 3});
    }
    // Reopened: every acknowledged sample is there (B may or may not be:
    // it was never acknowledged).
    auto storage = host.create_started(vitals_plugin(), config);
    const auto reopened = stored_ts(host, storage, t0, t0 + 10);
    for (int64_t ts : {t0, t0 + 1, t0 + 3}) CHECK(std::find(reopened.begin(), reopened.end(), ts) != reopened.end());
  }
}

TEST_CASE("commit_interval: batches within it share one commit, acknowledged once it has passed, with no batch after") {
  vitals::testing::Host host;
  auto id = host.intern("m");
  auto storage = host.create_started(vitals_plugin(), "commit_interval = \"300ms\"");
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t ts = now_ns() - minute;
  REQUIRE(consume(storage, {{id, ts, 1}}, 1) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);  // the queue ran empty: too early to commit
  REQUIRE(consume(storage, {{id, ts + 1, 2}}, 2) == VITALS_PENDING);
  REQUIRE(storage.flush() == VITALS_OK);
  CHECK(host.completions().empty());
  // No third batch comes: the alarm commits.
  for (int i = 0; i < 200 && host.completions().size() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(host.completions() == std::vector<std::pair<uintptr_t, int>>{{1, VITALS_OK}, {2, VITALS_OK}});
  CHECK(waited >= std::chrono::milliseconds(300));
  CHECK(waited < std::chrono::milliseconds(1500));
  CHECK(storage.stats()["commits"] == 1);
  CHECK(query(host, storage, R"({"op":"latest","match":"m"})")["series"][0]["value"].number() == 2);
}
