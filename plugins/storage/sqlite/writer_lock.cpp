// The single-writer lock (writer_lock.hpp).
#include "writer_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace vitals::sqlite {

WriterLock::WriterLock(const std::string &db_path) {
  std::string lock_path = db_path + "-lock";
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("path: cannot open " + lock_path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw std::runtime_error("path: " + db_path +
                               " is already open for writing (another [storage] with the same path, or another "
                               "vitals agent on this data directory); one file takes one writer");
    throw std::runtime_error("path: cannot lock " + lock_path + ": " + std::strerror(err));
  }
}

WriterLock::~WriterLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

WriterLock::WriterLock(WriterLock &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

WriterLock &WriterLock::operator=(WriterLock &&other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

}  // namespace vitals::sqlite
