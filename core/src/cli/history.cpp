// `vitals query` and `vitals backup`: history from a running agent (over its
// HTTP API) or straight from a database file (--db), by loading the storage
// plugin in-process and asking it the same JSON query the API would.
#include <cjson/cJSON.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>

#include "commands.hpp"
#include "engine/pipeline.hpp"
#include "engine/scheduler.hpp"
#include "vitals/storage.hpp"
#include "vitals/time_parse.hpp"

namespace vitals::core {

namespace fs = std::filesystem;

namespace {

using Json = std::unique_ptr<cJSON, decltype(&cJSON_Delete)>;

struct Answer {
  int status = 0;
  std::string body;
};

// A plain HTTP/1.1 GET against the agent (loopback; no TLS).
Answer http_get(const std::string &host_port, const std::string &target, const std::string &token, std::string &error) {
  std::string host = host_port.substr(0, host_port.rfind(':'));
  std::string port = host_port.substr(host_port.rfind(':') + 1);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) {
    error = "cannot resolve " + host_port;
    return {};
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  freeaddrinfo(res);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    error = "cannot connect to the agent at " + host_port + " (is `vitals run` running? use --db to read a file)";
    return {};
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host_port + "\r\nConnection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  req += "\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) {
    error = "malformed answer from " + host_port;
    return {};
  }
  Answer a;
  a.status = std::atoi(raw.c_str() + 9);
  std::string head = raw.substr(0, head_end);
  a.body = raw.substr(head_end + 4);
  if (head.find("Transfer-Encoding: chunked") != std::string::npos ||
      head.find("transfer-encoding: chunked") != std::string::npos) {
    std::string out;
    size_t p = 0;
    while (p < a.body.size()) {
      size_t eol = a.body.find("\r\n", p);
      if (eol == std::string::npos) break;
      size_t len = std::strtoul(a.body.c_str() + p, nullptr, 16);
      if (len == 0) break;
      out += a.body.substr(eol + 2, len);
      p = eol + 2 + len + 2;
    }
    a.body = out;
  }
  return a;
}

std::string url_encode(const std::string &s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '*' || c == ':') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// Runs one storage query in-process on a database file.
Answer query_file(const AgentOptions &options, const fs::path &db, const std::string &request, std::string &error) {
  std::error_code ec;
  if (!fs::exists(db, ec)) {
    error = "no database at " + db.string();
    return {};
  }
  Config config;
  Diagnostics diags;
  std::string toml = "[storage.cli]\nplugin = \"sqlite\"\ninputs = []\nread_only = true\npath = \"" +
                     fs::absolute(db).string() + "\"\n";
  load_config_text(toml, "(vitals query --db)", config, diags);
  PluginCatalog catalog;
  catalog.scan(plugin_search_dirs(options, config.agent));
  CheckedConfig checked = check_config(std::move(config), catalog, diags);
  if (diags.has_errors()) {
    for (const auto &d : diags.items()) error += d.message + "\n";
    return {};
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  Answer answer;
  {
    SeriesRegistry series;
    MetricsRegistry metrics;
    Pipeline pipeline(&loop, series, metrics, fs::absolute(db).parent_path().string());
    if (!pipeline.start(checked, diags, /*schedule=*/false)) {
      for (const auto &d : diags.items()) error += d.message + "\n";
    } else {
      pipeline.query_storage("cli", request, [&](int status, const std::string &, std::string body) {
        answer = {status, std::move(body)};
        pipeline.shutdown(5'000'000'000, [](bool) {});
      });
      uv_run(&loop, UV_RUN_DEFAULT);
    }
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  return answer;
}

// The first sqlite storage's database in conf.d, for --db defaults.
fs::path configured_db(const AgentOptions &options, const Config &config) {
  std::string error;
  fs::path data_dir = resolve_data_dir(options, config.agent, error);
  for (const auto &c : config.components) {
    if (c.kind != VITALS_KIND_STORAGE || c.plugin != "sqlite" || !c.enabled) continue;
    fs::path path = "metrics.db";
    if (auto p = c.table->get_as<std::string>("path")) path = p->get();
    return path.is_absolute() ? path : data_dir / path;
  }
  return data_dir / "metrics.db";
}

std::string agent_token(const AgentConfig &agent, const std::string &token_file) {
  std::string file = !token_file.empty() ? token_file : agent.http.token_file;
  if (file.empty()) return {};
  std::ifstream in(file);
  std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

std::string format_time(double ts_ns) {
  auto secs = static_cast<time_t>(ts_ns / 1e9);
  int ms = static_cast<int>(static_cast<int64_t>(ts_ns / 1e6) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf) + "." + (ms < 100 ? (ms < 10 ? "00" : "0") : "") + std::to_string(ms) + "Z";
}

int print_result(const Answer &answer, const std::string &format) {
  if (answer.status != 200) {
    std::fprintf(stderr, "vitals: query failed (%d): %s\n", answer.status, answer.body.c_str());
    return 1;
  }
  if (format == "json") {
    std::printf("%s\n", answer.body.c_str());
    return 0;
  }
  Json json(cJSON_Parse(answer.body.c_str()), cJSON_Delete);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(json.get(), "series");
  if (!cJSON_IsArray(list)) {
    std::fprintf(stderr, "vitals: unexpected answer: %s\n", answer.body.c_str());
    return 1;
  }
  if (format == "csv") std::printf("series,ts_ms,value\n");
  size_t rows = 0;
  const cJSON *s = nullptr;
  cJSON_ArrayForEach(s, list) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "series"));
    std::string csv_name = std::string("\"") + (name ? name : "") + "\"";
    for (size_t i = 1; i + 1 < csv_name.size(); ++i)
      if (csv_name[i] == '"') csv_name.insert(i++, 1, '"');
    if (format == "table") std::printf("%s\n", name ? name : "?");
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(s, "points");
    auto emit_point = [&](double ts, double value) {
      ++rows;
      if (format == "csv")
        std::printf("%s,%.0f,%.17g\n", csv_name.c_str(), ts / 1e6, value);
      else
        std::printf("  %s  %.15g\n", format_time(ts).c_str(), value);
    };
    if (cJSON_IsArray(points)) {
      const cJSON *p = nullptr;
      cJSON_ArrayForEach(p, points) {
        emit_point(cJSON_GetArrayItem(p, 0)->valuedouble, cJSON_GetArrayItem(p, 1)->valuedouble);
      }
    } else {  // latest: one value per series
      emit_point(cJSON_GetObjectItemCaseSensitive(s, "ts")->valuedouble,
                 cJSON_GetObjectItemCaseSensitive(s, "value")->valuedouble);
    }
  }
  if (format == "table") {
    const cJSON *tier = cJSON_GetObjectItemCaseSensitive(json.get(), "tier");
    std::fprintf(stderr, "%zu series, %zu points%s%s\n", static_cast<size_t>(cJSON_GetArraySize(list)), rows,
                 tier ? ", tier " : "", tier ? tier->valuestring : "");
  }
  return 0;
}

}  // namespace

int cmd_query(const AgentOptions &options, const QueryOptions &q) {
  Diagnostics diags;
  Config config = load_config_dir(options.config_dir, diags);
  int64_t now = wall_clock_ns();
  std::string error;
  auto from = parse_time(q.from.empty() ? "-" + q.since : q.from, now, error);
  auto to = from ? parse_time(q.to, now, error) : std::nullopt;
  if (!from || !to) {
    std::fprintf(stderr, "vitals: %s\n", error.c_str());
    return 2;
  }
  Answer answer;
  if (!q.db.empty()) {
    // The same request the agent's /api/query builds, through the SDK's reader.
    json::Value request = json::Value::object();
    request.set("op", json::Value::string(q.latest ? "latest" : "query"));
    request.set("match", json::Value::string(q.selector));
    request.set("from", json::Value::number_literal(std::to_string(*from)));
    request.set("to", json::Value::number_literal(std::to_string(*to)));
    request.set("points", json::Value::number_literal(std::to_string(q.points)));
    request.set("method", json::Value::string(q.method));
    try {
      answer = query_file(options, q.db, storage::to_json(storage::parse_request(request, now)), error);
    } catch (const storage::BadRequest &e) {
      std::fprintf(stderr, "vitals: %s\n", e.what());
      return 2;
    }
  } else {
    std::string target = q.latest ? "/api/latest?match=" + url_encode(q.selector)
                                  : "/api/query?match=" + url_encode(q.selector) + "&from=" + std::to_string(*from) +
                                        "&to=" + std::to_string(*to) + "&points=" + std::to_string(q.points) +
                                        "&method=" + url_encode(q.method);
    std::string address = q.address.empty() ? config.agent.http.listen : q.address;
    answer = http_get(address, target, agent_token(config.agent, q.token_file), error);
  }
  if (answer.status == 0) {
    std::fprintf(stderr, "vitals: %s\n", error.c_str());
    return 1;
  }
  return print_result(answer, q.format);
}

int cmd_backup(const AgentOptions &options, const std::string &db_arg, const std::string &to) {
  Diagnostics diags;
  Config config = load_config_dir(options.config_dir, diags);
  fs::path db = db_arg.empty() ? configured_db(options, config) : fs::path(db_arg);
  std::string error;
  std::fprintf(stderr, "backing up %s to %s ...\n", db.c_str(), fs::absolute(to).c_str());
  Answer answer = query_file(options, db, storage::to_json(storage::BackupQuery{fs::absolute(to).string()}), error);
  if (answer.status != 200) {
    std::fprintf(stderr, "vitals: backup failed: %s\n", answer.status ? answer.body.c_str() : error.c_str());
    return 1;
  }
  std::printf("%s\n", answer.body.c_str());
  return 0;
}

}  // namespace vitals::core
