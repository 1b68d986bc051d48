// Output `jsonl`: one JSON object per sample or event, one per line, to stdout
// or to a file that rotates by size (path, path.1, ... path.<max_files>).
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sample_toml.h"
#include "vitals/json_writer.hpp"
#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace {

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

// Owns a file descriptor.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) : fd_(fd) {}
  FileHandle(FileHandle &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileHandle &operator=(FileHandle &&other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~FileHandle() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

class Jsonl final : public vitals::Output {
 public:
  struct Settings {
    std::string path;
    vitals::ByteSize max_size;
    int64_t max_files = 0;
    bool fsync = false;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, "\"-\"", "file to append to, relative to data_dir; \"-\" is stdout"),
      vitals::key("max_size", &Settings::max_size, "\"0\"", "rotate the file before it grows past this size; 0: never"),
      vitals::key("max_files", &Settings::max_files, "5", "rotated files kept (path.1 is the newest)",
                  vitals::between("0", "1000")),
      vitals::key("fsync", &Settings::fsync, "false", "fdatasync after every batch and on flush"));
  static constexpr const char *sample_config = vitals_sample_toml;
  static constexpr uint64_t flags = VITALS_FLAG_CONSUME_ON_THREAD;

  // Past this many bytes of cached prefixes the cache starts over: bounded
  // in bytes, since one series with long labels may take kilobytes.
  static constexpr size_t max_cached_bytes = 8u << 20;

  Jsonl(vitals::Host host, const vitals::Config &config) : Jsonl(host, schema.read(config)) {}
  Jsonl(vitals::Host host, const Settings &s)
      : Output(host),
        to_stdout_(s.path == "-"),
        max_size_(s.max_size.bytes),
        fsync_(s.fsync),
        max_files_(static_cast<int>(s.max_files)) {
    if (to_stdout_) {
      if (max_size_ > 0) throw std::invalid_argument("max_size: rotation needs a file, but path is \"-\" (stdout)");
      path_ = "stdout";
      return;
    }
    std::filesystem::path path = s.path;
    if (path.empty()) throw std::invalid_argument("path: must not be empty (\"-\" means stdout)");
    if (path.is_relative()) path = std::filesystem::path(host.data_dir()) / path;
    path_ = path.string();
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw std::runtime_error("path: cannot create " + path.parent_path().string() + ": " + ec.message());
    open_file();
  }

  vitals::Status consume(const vitals::BatchView &batch, vitals_ack_t *) override {
    std::lock_guard lock(mutex_);
    buffer_.clear();
    line_ends_.clear();
    for (size_t i = 0; i < batch.size(); ++i) {
      buffer_ += "{\"ts\":";
      vitals::json::append_int(buffer_, batch.ts_ns(i));
      buffer_ += ',';
      buffer_ += series_fields(batch.series(i));
      buffer_ += ",\"value\":";
      vitals::json::append_double(buffer_, batch.value(i));
      buffer_ += "}\n";
      line_ends_.push_back(buffer_.size());
    }
    for (size_t i = 0; i < batch.event_count(); ++i) {
      const vitals_event_t &e = batch.event(i);
      buffer_ += "{\"ts\":";
      vitals::json::append_int(buffer_, e.ts_ns);
      buffer_ += ",\"event\":{";
      vitals::json::append_event_fields(buffer_, vitals::severity_name(e.severity), e);
      buffer_ += "}}\n";
      line_ends_.push_back(buffer_.size());
    }
    write_buffer();
    lines_written_ += line_ends_.size();
    if (fsync_) sync();
    return vitals::Status::ok;
  }

  void flush() override {
    std::lock_guard lock(mutex_);
    if (fsync_) sync();
  }

  void stats(const vitals::StatsVisitor &visit) override {
    std::lock_guard lock(mutex_);
    visit("lines_written", static_cast<double>(lines_written_), {});
    visit("bytes_written", static_cast<double>(bytes_written_), {});
    visit("rotations", static_cast<double>(rotations_), {});
  }

 private:
  int fd() const { return to_stdout_ ? STDOUT_FILENO : file_.get(); }

  // `"series":..,"name":..,"labels":{..}` for a series, escaped once and reused.
  const std::string &series_fields(vitals::SeriesId id) {
    if (auto it = series_cache_.find(id); it != series_cache_.end()) return it->second;
    if (series_cache_bytes_ >= max_cached_bytes) {
      series_cache_.clear();
      series_cache_bytes_ = 0;
    }
    std::string fields;
    if (const vitals_series_t *s = host().series(id)) {
      fields += "\"series\":";
      vitals::json::append_string(fields, s->text ? s->text : "");
      fields += ",\"name\":";
      vitals::json::append_string(fields, s->name ? s->name : "");
      fields += ",\"labels\":";
      vitals::json::append_labels(fields, s->labels, s->n_labels);
    } else {
      fields = "\"series\":null,\"name\":null,\"labels\":{}";
    }
    series_cache_bytes_ += fields.size() + sizeof(vitals::SeriesId) + 64;  // the text and the node holding it
    return series_cache_.emplace(id, std::move(fields)).first->second;
  }

  void open_file() {
    file_ = FileHandle(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!file_) throw std::runtime_error("cannot open " + path_ + ": " + errno_text(errno));
    struct stat st {};
    if (::fstat(file_.get(), &st) != 0) throw std::runtime_error("cannot stat " + path_ + ": " + errno_text(errno));
    file_size_ = static_cast<uint64_t>(st.st_size);
  }

  // Writes the buffer in one write unless the file must rotate part way;
  // then whole lines fill the file up to max_size and the rest go to the next.
  void write_buffer() {
    size_t pos = 0;
    while (pos < buffer_.size()) {
      if (!to_stdout_ && !file_) open_file();  // a failed rotation left it closed
      size_t end = buffer_.size();
      if (max_size_ > 0) {
        uint64_t room = max_size_ > file_size_ ? max_size_ - file_size_ : 0;
        auto fits = std::upper_bound(line_ends_.begin(), line_ends_.end(), pos + room);
        end = fits == line_ends_.begin() ? pos : *std::prev(fits);
        if (end <= pos) {
          if (file_size_ > 0) {
            rotate();
            continue;
          }
          end = *std::upper_bound(line_ends_.begin(), line_ends_.end(), pos);  // one oversized line, alone
        }
      }
      write_all(buffer_.data() + pos, end - pos);
      file_size_ += end - pos;
      bytes_written_ += end - pos;
      pos = end;
    }
  }

  void write_all(const char *data, size_t size) {
    while (size > 0) {
      ssize_t n = ::write(fd(), data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // stdout may be a non-blocking pipe; this thread may wait for it.
        pollfd p{fd(), POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      if (n < 0) throw std::runtime_error("write " + path_ + ": " + errno_text(errno));
      if (n == 0) throw std::runtime_error("write " + path_ + ": wrote nothing");
      data += n;
      size -= static_cast<size_t>(n);
    }
  }

  void sync() {
    if (::fdatasync(fd()) == 0) return;
    // A terminal or pipe cannot be synced; that is not a failure of the data.
    if (to_stdout_ && (errno == EINVAL || errno == EROFS || errno == ENOTSUP)) return;
    throw std::runtime_error("fdatasync " + path_ + ": " + errno_text(errno));
  }

  void rotate() {
    if (fsync_) sync();
    file_.reset();
    auto numbered = [this](int n) { return path_ + "." + std::to_string(n); };
    auto move = [](const std::string &from, const std::string &to) {
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
        throw std::runtime_error("cannot rotate " + from + " to " + to + ": " + errno_text(errno));
    };
    if (max_files_ == 0) {
      if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
        throw std::runtime_error("cannot remove " + path_ + ": " + errno_text(errno));
    } else {
      if (::unlink(numbered(max_files_).c_str()) != 0 && errno != ENOENT)
        throw std::runtime_error("cannot remove " + numbered(max_files_) + ": " + errno_text(errno));
      for (int n = max_files_ - 1; n >= 1; --n) move(numbered(n), numbered(n + 1));
      move(path_, numbered(1));
    }
    ++rotations_;
    open_file();
  }

  bool to_stdout_;
  uint64_t max_size_;
  bool fsync_;
  int max_files_ = 0;
  std::string path_;
  FileHandle file_;
  uint64_t file_size_ = 0;
  // consume() runs on the instance's thread, flush() and stats() may not.
  std::mutex mutex_;
  std::string buffer_;
  std::vector<size_t> line_ends_;
  std::unordered_map<vitals::SeriesId, std::string> series_cache_;
  size_t series_cache_bytes_ = 0;
  uint64_t lines_written_ = 0, bytes_written_ = 0, rotations_ = 0;
};

}  // namespace

VITALS_PLUGIN(Jsonl, "jsonl", "1.0.0", "Writes samples and events as JSON lines to stdout or a rotating file")
