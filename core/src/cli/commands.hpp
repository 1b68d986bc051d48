// The CLI verbs that are not the daemon itself.
#pragma once

#include <string>

#include "agent.hpp"

namespace vitals::core {

struct QueryOptions {
  std::string selector;
  std::string since = "1h";  // used when from is empty
  std::string from, to = "now";
  int points = 200;
  std::string method = "lttb";
  std::string format = "table";  // table, json or csv
  std::string db;                // read this file instead of asking the agent
  std::string address;           // host:port of the agent; default [agent.http] listen
  std::string token_file;
  bool latest = false;
};

int cmd_check(const AgentOptions &options);
int cmd_query(const AgentOptions &options, const QueryOptions &query);
int cmd_backup(const AgentOptions &options, const std::string &db, const std::string &to);
int cmd_plugins(const AgentOptions &options, const std::string &describe);

}  // namespace vitals::core
