// Compressed request bodies (Content-Encoding: gzip, x-gzip, deflate), as
// InfluxDB clients such as Telegraf send by default: decoded before the
// handler sees them, bounded by max_body after decompression.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vitals::core::http {

enum class DecodeStatus {
  decoded,      // `body` now holds the decoded bytes
  not_encoded,  // no coding, or "identity": `body` is untouched
  unsupported,  // a coding we do not decode (br, zstd, ...): left to the route
  too_large,    // more than `max_bytes` once decoded (a zip bomb): 413
  corrupt,      // not a valid stream of that coding: 400
};

// Decodes `body` in place according to a Content-Encoding value; `error`
// says why for too_large and corrupt.
DecodeStatus decode_content(std::string_view content_encoding, std::string &body, uint64_t max_bytes,
                            std::string &error);

}  // namespace vitals::core::http
