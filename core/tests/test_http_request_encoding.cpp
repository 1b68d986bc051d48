// Compressed request bodies over real sockets (Content-Encoding: gzip or
// deflate, as Telegraf sends by default): handlers see the decoded body, the
// decoded size is bounded by max_body, and a broken stream is a 400.
#include <doctest/doctest.h>
#include <zlib.h>

#include "http/gzip.hpp"
#include "http_test_support.hpp"

using namespace vitals::core;
using namespace vitals::testing;

namespace {

// zlib-wrapped (RFC 1950, what HTTP calls "deflate") or raw (RFC 1951, what
// some clients send under the same name).
std::string deflate_body(std::string_view input, bool raw) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, raw ? -15 : 15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(input.size())) + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  zs.next_out = reinterpret_cast<Bytef *>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string gzip_body(std::string_view input) {
  std::string out;
  REQUIRE(http::gzip_compress(input, 6, out));
  return out;
}

std::string post(const std::string &encoding, const std::string &body) {
  return "POST /in HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Encoding: " + encoding +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("gzip and deflate request bodies reach the handler decoded") {
  auto config = test_config();
  Harness h(config);
  std::vector<std::string> bodies, encodings;
  h.route("POST", "/in", [&](const HttpRequest &req, std::shared_ptr<HttpResponse> res) {
    bodies.push_back(req.body);
    encodings.push_back(std::string(req.header("Content-Encoding").value_or("(none)")));
    res->send(204, "text/plain", "");
  });
  const std::string lines = "cpu,host=a usage=1 1700000000000000000\ncpu,host=b usage=2 1700000000000000000\n";
  std::string two_members = gzip_body("first\n") + gzip_body("second\n");
  std::vector<ParsedResponse> r;
  h.run([&] {
    TestClient c(h.port());
    for (const std::string &req :
         {post("gzip", gzip_body(lines)), post("x-gzip", gzip_body(lines)), post("deflate", deflate_body(lines, false)),
          post("Deflate", deflate_body(lines, true)), post("identity", lines), post("gzip", two_members)}) {
      c.send(req);
      r.push_back(c.read_response());
    }
  });
  REQUIRE(r.size() == 6);
  for (const auto &one : r) CHECK(one.status == 204);
  REQUIRE(bodies.size() == 6);
  for (size_t i = 0; i < 5; ++i) CHECK(bodies[i] == lines);
  CHECK(bodies[5] == "first\nsecond\n");
  // Decoded: the handler must not decode again ("identity" is left as sent).
  REQUIRE(encodings.size() == 6);
  for (size_t i : {0, 1, 2, 3, 5}) CHECK(encodings[i] == "(none)");
}

TEST_CASE("a body that inflates past max_body gets 413 naming the limit; a broken stream 400") {
  auto config = test_config();
  config.max_body_bytes = 64 * 1024;
  Harness h(config);
  bool called = false;
  h.route("POST", "/in", [&](const HttpRequest &, std::shared_ptr<HttpResponse> res) {
    called = true;
    res->send(204, "text/plain", "");
  });
  std::string bomb = gzip_body(std::string(32 * 1024 * 1024, '\0'));  // 32 MiB of zeros in ~32 KiB
  REQUIRE(bomb.size() < config.max_body_bytes);
  std::string corrupt = gzip_body("cpu usage=1\n");
  corrupt[corrupt.size() / 2] ^= 0x55;
  corrupt.resize(corrupt.size() - 4);
  ParsedResponse big, broken, unknown;
  h.run([&] {
    TestClient a(h.port());
    a.send(post("gzip", bomb));
    big = a.read_response();
    TestClient b(h.port());
    b.send(post("gzip", corrupt));
    broken = b.read_response();
    TestClient c(h.port());
    c.send(post("br", "whatever"));  // not ours to decode: the route decides
    unknown = c.read_response();
  });
  CHECK(big.status == 413);
  CHECK(big.body.find("decompressed") != std::string::npos);
  CHECK(big.body.find("65536") != std::string::npos);
  CHECK(broken.status == 400);
  CHECK(broken.body.find("gzip") != std::string::npos);
  CHECK(unknown.status == 204);
  CHECK(called);  // only for the unknown coding
}
