// HTTP/1.1 response serialisation: the status line, headers and body in one contiguous buffer, so
// a response goes out in one write (one sendmsg) instead of Beast's buffer sequence. Pure.
#pragma once

#include <string>
#include <string_view>

#include "http/response.hpp"

namespace parley::http {

struct WireOptions {
    bool keep_alive = true;
    bool http10 = false;        // the request was HTTP/1.0: keep-alive must be announced
    bool head_request = false;  // HEAD: Content-Length of the body, but no body
};

// The bytes of `res`, including Content-Length (not on 1xx, 204 or 304) and Connection headers.
std::string serialize_response(const Response& res, const WireOptions& options);

// The status line and headers of a streamed body: `Transfer-Encoding: chunked` (HTTP/1.1), or
// no framing and `Connection: close` (HTTP/1.0). The body follows as append_chunk() pieces and
// ends with kLastChunk.
std::string serialize_stream_head(const Response& res, const WireOptions& options);

// Appends `data` as one chunk (as is for HTTP/1.0); nothing for empty data.
void append_chunk(std::string& out, std::string_view data, bool http10);

inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace parley::http
