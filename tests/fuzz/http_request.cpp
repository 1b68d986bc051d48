// The agent's HTTP/1.1 server (core/src/http) as a client reaches it: the
// input is every byte one connection sends (request lines, headers, bodies,
// chunked encoding, pipelined requests, gzip/deflate bodies, upgrades), sent
// to a real HttpServer over 127.0.0.1. That runs the http_parser callbacks in
// connection.cpp, header and target handling (headers.cpp, uri.cpp), Host and
// Origin checks, token auth, content decoding, routing, response framing and
// gzip, and the WebSocket handover. Routes: http_fuzz_server.hpp.
#include <cstdint>
#include <string>
#include <string_view>

#include "http_fuzz_server.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string answer =
      vitals::fuzz::FuzzServer::get().exchange(std::string_view(reinterpret_cast<const char *>(data), size));
  vitals::fuzz::show_answer(answer);
  return 0;
}
