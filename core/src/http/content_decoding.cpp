// Request body decoding with zlib: gzip (any number of members), and
// "deflate" both as RFC 9110 defines it (zlib-wrapped) and as some clients
// send it (raw).
#include "content_decoding.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "request.hpp"

namespace vitals::core::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

enum class Inflated { ok, too_large, corrupt };

// window_bits: 15 + 32 reads a zlib or gzip header, -15 raw deflate.
Inflated inflate_all(std::string_view input, int window_bits, uint64_t max_bytes, std::string &out) {
  if (input.size() > UINT_MAX) return Inflated::too_large;
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Inflated::corrupt;
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  out.clear();
  char buffer[64 * 1024];
  Inflated result = Inflated::ok;
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef *>(buffer);
    zs.avail_out = sizeof buffer;
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = sizeof buffer - zs.avail_out;
    // Checked per step, before appending: memory never exceeds the limit by
    // more than one buffer, however well the input compresses.
    if (out.size() + produced > max_bytes) {
      result = Inflated::too_large;
      break;
    }
    out.append(buffer, produced);
    if (rc == Z_STREAM_END) {
      // gzip allows several members back to back (RFC 1952 section 2.2).
      if (zs.avail_in == 0 || window_bits < 0) {
        if (zs.avail_in != 0) result = Inflated::corrupt;
        break;
      }
      if (inflateReset(&zs) != Z_OK) {
        result = Inflated::corrupt;
        break;
      }
      continue;
    }
    if (rc == Z_OK) continue;
    // Z_BUF_ERROR with input left means no progress; without input left the
    // stream ended early (truncated). Everything else is a broken stream.
    result = Inflated::corrupt;
    break;
  }
  inflateEnd(&zs);
  return result;
}

}  // namespace

DecodeStatus decode_content(std::string_view content_encoding, std::string &body, uint64_t max_bytes,
                            std::string &error) {
  std::string_view coding = trim(content_encoding);
  if (coding.empty() || iequals(coding, "identity")) return DecodeStatus::not_encoded;
  bool gzip = iequals(coding, "gzip") || iequals(coding, "x-gzip");
  bool deflate = iequals(coding, "deflate");
  if (!gzip && !deflate) return DecodeStatus::unsupported;

  std::string decoded;
  Inflated result = inflate_all(body, 15 + 32, max_bytes, decoded);
  // Raw deflate has no header to recognise: tried when the zlib form fails.
  if (deflate && result == Inflated::corrupt) result = inflate_all(body, -15, max_bytes, decoded);
  switch (result) {
    case Inflated::ok:
      body = std::move(decoded);
      return DecodeStatus::decoded;
    case Inflated::too_large:
      error = "request body larger than " + std::to_string(max_bytes) +
              " bytes once decompressed (Content-Encoding: " + std::string(coding) + ")";
      return DecodeStatus::too_large;
    case Inflated::corrupt:
      break;
  }
  error = "request body is not valid " + std::string(gzip ? "gzip" : "deflate") +
          " (Content-Encoding: " + std::string(coding) + ")";
  return DecodeStatus::corrupt;
}

}  // namespace vitals::core::http
