// Self-metrics storage and the process figures read from /proc.
#include "self_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace vitals::core {

double SelfMetric::quantile(double q) const {
  uint64_t total = count();
  if (total == 0) return 0;
  double rank = q * static_cast<double>(total);
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (static_cast<double>(cumulative(i)) >= rank) return kBuckets[i];
  return kBuckets.back();
}

SelfMetric *MetricsRegistry::get(const std::string &owner, vitals_metric_type_t type, const std::string &name,
                                 const std::string &help, MetricLabels labels) {
  std::lock_guard lock(mutex_);
  auto range = metrics_.equal_range(owner);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second->name() == name && it->second->labels() == labels) return it->second.get();
  auto m = std::make_unique<SelfMetric>(type, name, help, std::move(labels));
  SelfMetric *raw = m.get();
  metrics_.emplace(owner, std::move(m));
  return raw;
}

void MetricsRegistry::remove_owner(const std::string &owner) {
  std::lock_guard lock(mutex_);
  metrics_.erase(owner);
}

void MetricsRegistry::for_each(const std::function<void(const SelfMetric &)> &fn) const {
  std::lock_guard lock(mutex_);
  for (const auto &[owner, m] : metrics_) fn(*m);
}

void MetricsRegistry::visit(const Visitor &fn) const {
  for_each([&](const SelfMetric &m) {
    if (m.type() != VITALS_METRIC_HISTOGRAM) {
      fn(m.name(), m.labels(), m.value());
      return;
    }
    for (size_t i = 0; i <= SelfMetric::kBuckets.size(); ++i) {
      MetricLabels labels = m.labels();
      char le[32];
      if (i < SelfMetric::kBuckets.size())
        std::snprintf(le, sizeof le, "%g", SelfMetric::kBuckets[i]);
      else
        std::snprintf(le, sizeof le, "+Inf");
      labels.emplace_back("le", le);
      fn(m.name() + "_bucket", labels, static_cast<double>(m.cumulative(i)));
    }
    fn(m.name() + "_sum", m.labels(), m.value());
    fn(m.name() + "_count", m.labels(), static_cast<double>(m.count()));
  });
  for (const auto &collect : collectors_) collect(fn);
  ProcessStats p = read_process_stats();
  fn("vitals_process_cpu_seconds_total", {}, p.cpu_seconds);
  fn("vitals_process_resident_memory_bytes", {}, p.resident_bytes);
  fn("vitals_process_max_resident_memory_bytes", {}, p.max_resident_bytes);
  fn("vitals_process_open_fds", {}, p.open_fds);
  fn("vitals_process_threads", {}, p.threads);
}

ProcessStats read_process_stats() {
  ProcessStats s;
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    s.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    s.max_resident_bytes = static_cast<double>(ru.ru_maxrss) * 1024;
  }
  if (FILE *f = std::fopen("/proc/self/statm", "re")) {
    long pages_total = 0, pages_resident = 0;
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) == 2)
      s.resident_bytes = static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  if (DIR *d = opendir("/proc/self/fd")) {
    int n = 0;
    while (dirent *e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    s.open_fds = n - 1;  // minus the descriptor of the listing itself
  }
  if (FILE *f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "Threads: %lf", &s.threads) == 1) break;
    std::fclose(f);
  }
  return s;
}

}  // namespace vitals::core
