// One writer per database file. SQLite itself lets two connections take
// turns writing, but two storages (a reload's successor opened too early, two
// [storage] tables naming one path, two agents on one data dir) would each
// keep their own series ids and caches and corrupt each other's view. An
// flock on "<path>-lock" is held for the writer's whole life: flock, not
// fcntl, because closing any descriptor of the database file itself would
// drop SQLite's own fcntl locks in this process.
#pragma once

#include <string>

namespace vitals::sqlite {

class WriterLock {
 public:
  WriterLock() = default;
  // Takes the lock or throws std::runtime_error naming the file and why.
  explicit WriterLock(const std::string &db_path);
  ~WriterLock();
  WriterLock(WriterLock &&other) noexcept;
  WriterLock &operator=(WriterLock &&other) noexcept;
  WriterLock(const WriterLock &) = delete;
  WriterLock &operator=(const WriterLock &) = delete;

  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace vitals::sqlite
