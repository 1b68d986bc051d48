// The pipeline graph: resolves `inputs` (ids and globs) into edges and checks
// that the result is a DAG in which data flows from inputs to sinks.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace vitals::core {

struct Graph {
  // consumer id -> the ids feeding it, in config order, without duplicates.
  std::map<std::string, std::vector<std::string>> upstream;
  // producer id -> the ids it feeds.
  std::map<std::string, std::vector<std::string>> downstream;
  // Enabled component ids, producers before their consumers.
  std::vector<std::string> topological_order;
};

// Builds the graph of the enabled components. Records unknown ids, edges out
// of sinks, globs matching nothing (warning) and cycles (with their path).
Graph build_graph(const Config &config, Diagnostics &diags);

}  // namespace vitals::core
