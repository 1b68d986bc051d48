// Reading conf.d: structure, [agent] settings and the host-owned component
// keys. Every problem is recorded with file:line; nothing stops at the first.
#include "config.hpp"

#include <cjson/cJSON.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "vitals/config_schema.hpp"
#include "vitals/selector.hpp"
#include "vitals/units.hpp"

namespace vitals::core {

namespace fs = std::filesystem;

const char *kind_name(vitals_kind_t kind) {
  switch (kind) {
    case VITALS_KIND_INPUT:
      return "input";
    case VITALS_KIND_PROCESSOR:
      return "processor";
    case VITALS_KIND_STORAGE:
      return "storage";
    case VITALS_KIND_OUTPUT:
      return "output";
    case VITALS_KIND_OPTIMIZER:
      return "optimizer";
  }
  return "unknown";
}

std::optional<vitals_kind_t> parse_kind(std::string_view text) {
  for (auto k :
       {VITALS_KIND_INPUT, VITALS_KIND_PROCESSOR, VITALS_KIND_STORAGE, VITALS_KIND_OUTPUT, VITALS_KIND_OPTIMIZER})
    if (text == kind_name(k)) return k;
  return std::nullopt;
}

const char *overflow_name(Overflow o) {
  switch (o) {
    case Overflow::block:
      return "block";
    case Overflow::drop_oldest:
      return "drop_oldest";
    case Overflow::drop_newest:
      return "drop_newest";
  }
  return "?";
}

const ComponentConfig *Config::find(std::string_view id) const {
  for (const auto &c : components)
    if (c.id == id) return &c;
  return nullptr;
}

namespace {

uint32_t line_of(const toml::node &n) { return n.source().begin.line; }

bool valid_id(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Small typed readers that record a diagnostic on a type mismatch.
struct Reader {
  const std::string &file;
  Diagnostics &diags;

  std::optional<std::string> string(const toml::node &n, std::string_view key) {
    if (auto s = n.as_string()) return s->get();
    diags.error(file, line_of(n), "'" + std::string(key) + "' must be a string");
    return std::nullopt;
  }
  std::optional<int64_t> duration(const toml::node &n, std::string_view key) {
    auto s = n.as_string();
    auto ns = s ? parse_duration(s->get()) : std::nullopt;
    if (ns && *ns > 0) return ns;
    diags.error(file, line_of(n),
                "'" + std::string(key) + "' must be a positive duration like \"500ms\", \"1s\", \"5m\" or \"30d\"");
    return std::nullopt;
  }
  std::optional<uint64_t> size(const toml::node &n, std::string_view key) {
    if (auto i = n.as_integer(); i && i->get() >= 0) return static_cast<uint64_t>(i->get());
    if (auto s = n.as_string())
      if (auto b = parse_size(s->get())) return b;
    diags.error(file, line_of(n), "'" + std::string(key) + "' must be a size like 65536, \"64KB\" or \"16MiB\"");
    return std::nullopt;
  }
  std::optional<int64_t> positive_integer(const toml::node &n, std::string_view key) {
    if (auto i = n.as_integer(); i && i->get() > 0) return i->get();
    diags.error(file, line_of(n), "'" + std::string(key) + "' must be a positive integer");
    return std::nullopt;
  }
  std::optional<bool> boolean(const toml::node &n, std::string_view key) {
    if (auto b = n.as_boolean()) return b->get();
    diags.error(file, line_of(n), "'" + std::string(key) + "' must be true or false");
    return std::nullopt;
  }
  std::optional<std::vector<std::string>> strings(const toml::node &n, std::string_view key) {
    auto arr = n.as_array();
    std::vector<std::string> out;
    if (arr) {
      for (auto &&v : *arr) {
        if (!v.is_string()) {
          arr = nullptr;
          break;
        }
        out.push_back(v.as_string()->get());
      }
    }
    if (arr) return out;
    diags.error(file, line_of(n), "'" + std::string(key) + "' must be an array of strings");
    return std::nullopt;
  }
  void unknown(const toml::node &n, std::string_view key, std::string_view where, std::string_view known) {
    diags.error(
        file, line_of(n),
        "unknown key '" + std::string(key) + "' in " + std::string(where) + " (known: " + std::string(known) + ")");
  }
};

// Checks `table` against `fields` (reporting with this file's lines) and
// adds the keys it sets, converted, to the JSON object `set_keys`.
// `also_known`: a key read apart (the http table of [agent]) that the list of
// known keys in an unknown-key error should still name.
void read_declared(const toml::table &table, std::span<const vitals_config_field_t> fields,
                   std::span<const std::string_view> skip, std::string_view where, std::string_view also_known,
                   std::string &set_keys, Reader &r) {
  std::vector<ConfigError> errors;
  std::string checked = apply_config_schema(table, fields, skip, errors);
  for (auto &e : errors) {
    if (!also_known.empty() && e.message.starts_with("unknown key") && e.message.ends_with(")"))
      e.message.insert(e.message.size() - 1, ", " + std::string(also_known));
    r.diags.error(r.file, e.line, std::string(where) + " " + e.message);
  }
  using Json = std::unique_ptr<cJSON, decltype(&cJSON_Delete)>;
  Json values(cJSON_Parse(checked.c_str()), cJSON_Delete), set(cJSON_Parse(set_keys.c_str()), cJSON_Delete);
  for (auto &&[k, v] : table) {
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(values.get(), std::string(k.str()).c_str());
    if (!value) continue;  // refused above, or a key skipped here
    cJSON_DeleteItemFromObjectCaseSensitive(set.get(), value->string);
    cJSON_AddItemToObject(set.get(), value->string, cJSON_Duplicate(value, true));
  }
  char *text = cJSON_PrintUnformatted(set.get());
  set_keys = text ? text : "{}";
  cJSON_free(text);
}

void read_agent(const toml::table &t, AgentConfig &agent, Reader &r) {
  auto &seen = agent.key_origins;
  // Not read here: the http table (below) and keys another file set already.
  std::vector<std::string> skipped{"http"};
  for (auto &&[k, v] : t) {
    std::string key(k.str());
    std::string here = r.file + ":" + std::to_string(line_of(v));
    if (auto it = seen.find(key); it != seen.end()) {
      r.diags.error(r.file, line_of(v), "[agent] key '" + key + "' is already set at " + it->second);
      skipped.push_back(key);
      continue;
    }
    seen[key] = here;
  }
  std::vector<std::string_view> skip(skipped.begin(), skipped.end());
  read_declared(t, agent_fields(), skip, "[agent]", "http", agent.set_keys, r);
  const toml::node *v = t.get("http");
  if (v && std::count(skipped.begin(), skipped.end(), "http") == 1) {
    if (auto ht = v->as_table())
      read_declared(*ht, agent_http_fields(), {}, "[agent.http]", {}, agent.set_http_keys, r);
    else
      r.diags.error(r.file, line_of(*v), "'http' must be a table ([agent.http])");
  }
  agent.refresh();
  if (agent.file.empty()) {
    agent.file = r.file;
    agent.line = t.source().begin.line;
  }
}

void read_queue(const toml::node &node, QueueConfig &q, Reader &r) {
  auto t = node.as_table();
  if (!t) {
    r.diags.error(r.file, line_of(node),
                  "'queue' must be a table like { capacity = 10000, overflow = \"drop_oldest\" }");
    return;
  }
  for (auto &&[k, v] : *t) {
    std::string_view key = k.str();
    if (key == "capacity") {
      if (auto i = r.positive_integer(v, key)) q.capacity_samples = static_cast<uint64_t>(*i);
    } else if (key == "overflow") {
      auto s = r.string(v, key);
      if (!s) continue;
      if (*s == "block")
        q.overflow = Overflow::block;
      else if (*s == "drop_oldest")
        q.overflow = Overflow::drop_oldest;
      else if (*s == "drop_newest")
        q.overflow = Overflow::drop_newest;
      else
        r.diags.error(r.file, line_of(v), "'overflow' must be one of block, drop_oldest, drop_newest");
    } else {
      r.unknown(v, key, "queue", "capacity, overflow");
    }
  }
}

std::string fingerprint_of(const ComponentConfig &c) {
  toml::table copy = *c.table;
  copy.erase("inputs");
  std::ostringstream out;
  out << kind_name(c.kind) << '\n' << c.plugin << '\n' << copy;
  return out.str();
}

void read_component(vitals_kind_t kind, std::string_view id, const toml::table &t, Config &config, Reader &r,
                    const std::shared_ptr<const toml::table> &document) {
  uint32_t line = t.source().begin.line;
  if (!valid_id(id)) {
    r.diags.error(r.file, line, "invalid id '" + std::string(id) + "': use letters, digits, '_' and '-'");
    return;
  }
  if (const ComponentConfig *other = config.find(id)) {
    r.diags.error(r.file, line,
                  "duplicate id '" + std::string(id) + "': already declared as [" + kind_name(other->kind) + "." +
                      other->id + "] at " + other->file + ":" + std::to_string(other->line));
    return;
  }
  ComponentConfig c;
  c.kind = kind;
  c.id = std::string(id);
  c.plugin = c.id;
  c.file = r.file;
  c.line = line;
  c.document = document;
  c.table = &t;
  bool consumer = kind == VITALS_KIND_PROCESSOR || kind == VITALS_KIND_STORAGE || kind == VITALS_KIND_OUTPUT;
  if (auto n = t.get("plugin")) {
    if (auto s = r.string(*n, "plugin")) c.plugin = *s;
  }
  if (auto n = t.get("inputs")) {
    c.inputs_line = line_of(*n);
    if (!consumer) {
      r.diags.error(r.file, line_of(*n),
                    std::string("an ") + kind_name(kind) + " takes no 'inputs': nothing can feed into [" +
                        kind_name(kind) + "." + c.id + "]");
    } else if (auto s = r.strings(*n, "inputs")) {
      c.inputs = *s;
    }
  } else if (consumer) {
    r.diags.error(r.file, line, "missing required key 'inputs' in [" + std::string(kind_name(kind)) + "." + c.id + "]");
  }
  if (auto n = t.get("match")) {
    if (auto s = r.string(*n, "match")) {
      Selector sel;
      std::string err;
      if (Selector::parse(*s, sel, err))
        c.match = *s;
      else
        r.diags.error(r.file, line_of(*n), "'match': " + err);
    }
  }
  if (auto n = t.get("interval")) {
    if (kind != VITALS_KIND_INPUT && kind != VITALS_KIND_OPTIMIZER)
      r.diags.error(r.file, line_of(*n), "'interval' applies to inputs and optimizers only");
    else if (auto d = r.duration(*n, "interval"))
      c.interval_ns = *d;
  }
  if (auto n = t.get("queue")) {
    if (!consumer)
      r.diags.error(r.file, line_of(*n), "'queue' applies to processors, storage and outputs only");
    else
      read_queue(*n, c.queue, r);
  }
  if (auto n = t.get("enabled")) {
    if (auto b = r.boolean(*n, "enabled")) c.enabled = *b;
  }
  if (auto n = t.get("isolate")) {
    c.isolate_line = line_of(*n);
    if (kind == VITALS_KIND_STORAGE || kind == VITALS_KIND_OPTIMIZER)
      r.diags.error(r.file, line_of(*n),
                    std::string("'isolate' applies to inputs, processors and outputs only: a ") + kind_name(kind) +
                        " works inside the agent's process");
    else if (auto b = r.boolean(*n, "isolate"))
      c.isolate = *b;
  }
  if (auto n = t.get("watchdog")) {
    if (!c.isolate) {
      r.diags.error(r.file, line_of(*n), "'watchdog' applies to isolated components only (isolate = true)");
    } else if (auto d = r.duration(*n, "watchdog")) {
      if (*d < 100'000'000)
        r.diags.error(r.file, line_of(*n), "'watchdog' must be at least 100ms");
      else
        c.watchdog_ns = *d;
    }
  }
  c.fingerprint = fingerprint_of(c);
  config.components.push_back(std::move(c));
}

void read_document(const std::shared_ptr<const toml::table> &document, Config &config, Reader &r) {
  const toml::table &doc = *document;
  for (auto &&[k, v] : doc) {
    std::string_view section = k.str();
    if (section == "agent") {
      if (auto t = v.as_table())
        read_agent(*t, config.agent, r);
      else
        r.diags.error(r.file, line_of(v), "'agent' must be a table");
      continue;
    }
    auto kind = parse_kind(section);
    if (!kind) {
      r.diags.error(r.file, line_of(v),
                    "unknown section '" + std::string(section) +
                        "' (expected agent, input, processor, storage, output or optimizer)");
      continue;
    }
    auto group = v.as_table();
    if (!group) {
      // Built with append: GCC 12 at -O3 warns (-Wrestrict, a false
      // positive) on "literal" + std::string temporaries here.
      r.diags.error(
          r.file, line_of(v),
          std::string("'").append(section).append("' must hold tables like [").append(section).append(".my_id]"));
      continue;
    }
    for (auto &&[id, body] : *group) {
      if (auto t = body.as_table())
        read_component(*kind, id.str(), *t, config, r, document);
      else
        r.diags.error(r.file, line_of(body),
                      std::string("'").append(section).append(".").append(id.str()).append("' must be a table"));
    }
  }
}

}  // namespace

void load_config_text(std::string_view text, const std::string &name, Config &config, Diagnostics &diags) {
  std::shared_ptr<toml::table> doc;
  try {
    doc = std::make_shared<toml::table>(toml::parse(text, name));
  } catch (const toml::parse_error &e) {
    diags.error(name, e.source().begin.line, std::string(e.description()));
    return;
  }
  Reader r{name, diags};
  size_t first_new = config.components.size();
  read_document(doc, config, r);
  // toml++ iterates tables by key; keep the order the user wrote instead.
  std::stable_sort(config.components.begin() + static_cast<std::ptrdiff_t>(first_new), config.components.end(),
                   [](const ComponentConfig &a, const ComponentConfig &b) { return a.line < b.line; });
}

void load_config_file(const fs::path &file, Config &config, Diagnostics &diags) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diags.error(file.string(), 0, "cannot read file");
    return;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  config.files.push_back(file);
  load_config_text(buf.str(), file.string(), config, diags);
}

Config load_config_dir(const fs::path &dir, Diagnostics &diags) {
  Config config;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    diags.error(dir.string(), 0, "config directory does not exist");
    return config;
  }
  std::vector<fs::path> files;
  for (const auto &entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".toml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) diags.warning(dir.string(), 0, "no *.toml files: the agent will run an empty pipeline");
  for (const auto &f : files) load_config_file(f, config, diags);
  return config;
}

}  // namespace vitals::core
