// Graph resolution and validation.
#include "graph.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "vitals/selector.hpp"

namespace vitals::core {

namespace {
// Optimizers feed too: what they emit (their findings, and the events of the
// changes they make through vitals.control) goes to outputs and storage.
bool can_feed(vitals_kind_t kind) {
  return kind == VITALS_KIND_INPUT || kind == VITALS_KIND_PROCESSOR || kind == VITALS_KIND_OPTIMIZER;
}
}  // namespace

Graph build_graph(const Config &config, Diagnostics &diags) {
  Graph g;
  std::map<std::string, const ComponentConfig *> enabled;
  for (const auto &c : config.components)
    if (c.enabled) enabled[c.id] = &c;

  for (const auto &c : config.components) {
    if (!c.enabled) continue;
    auto &ups = g.upstream[c.id];
    for (const auto &pattern : c.inputs) {
      bool is_glob = pattern.find('*') != std::string::npos;
      bool matched = false;
      for (const auto &other : config.components) {
        if (!glob_match(pattern, other.id)) continue;
        if (is_glob && (other.id == c.id || !can_feed(other.kind))) continue;  // globs pick sources only
        if (!other.enabled) {
          if (!is_glob)
            diags.warning(c.file, c.inputs_line,
                          "'" + other.id + "' in inputs is disabled; [" + kind_name(c.kind) + "." + c.id +
                              "] will not receive from it");
          matched = true;
          continue;
        }
        matched = true;
        if (!can_feed(other.kind)) {
          diags.error(c.file, c.inputs_line,
                      "'" + other.id + "' in inputs is a " + kind_name(other.kind) +
                          ": only inputs, processors and optimizers can feed other components");
          continue;
        }
        if (std::find(ups.begin(), ups.end(), other.id) == ups.end()) ups.push_back(other.id);
      }
      if (!matched) {
        if (is_glob)
          diags.warning(c.file, c.inputs_line, "'" + pattern + "' in inputs matches no input, processor or optimizer");
        else
          diags.error(c.file, c.inputs_line, "unknown id '" + pattern + "' in inputs");
      }
    }
  }
  for (const auto &[consumer, ups] : g.upstream)
    for (const auto &producer : ups) g.downstream[producer].push_back(consumer);

  // Depth-first search for cycles (only processors can form them) and order.
  std::map<std::string, int> state;  // 0 new, 1 on stack, 2 done
  std::vector<std::string> stack;
  std::set<std::string> reported;
  std::function<void(const std::string &)> visit = [&](const std::string &id) {
    state[id] = 1;
    stack.push_back(id);
    for (const auto &up : g.upstream[id]) {
      if (state[up] == 1) {
        auto from = std::find(stack.begin(), stack.end(), up);
        std::string path;
        for (auto it = from; it != stack.end(); ++it) path += *it + " <- ";
        path += up;
        if (reported.insert(up).second) {
          const ComponentConfig *c = enabled[id];
          diags.error(c->file, c->inputs_line, "cycle in pipeline: " + path);
        }
      } else if (state[up] == 0) {
        visit(up);
      }
    }
    stack.pop_back();
    state[id] = 2;
    g.topological_order.push_back(id);
  };
  for (const auto &c : config.components)
    if (c.enabled && state[c.id] == 0) visit(c.id);
  return g;
}

}  // namespace vitals::core
