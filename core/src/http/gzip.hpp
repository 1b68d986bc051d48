// gzip for response bodies: when the client accepts it and the content is
// worth compressing.
#pragma once

#include <string>
#include <string_view>

namespace vitals::core::http {

// Whether an Accept-Encoding value allows gzip ("gzip", "x-gzip" or "*",
// unless given q=0).
bool accepts_gzip(std::string_view accept_encoding);

// Text, JSON, JavaScript, XML and SVG shrink well; images and archives do not.
bool is_compressible(std::string_view content_type);

// Compresses `input` into a gzip member; false on a zlib failure.
bool gzip_compress(std::string_view input, int level, std::string &out);

}  // namespace vitals::core::http
