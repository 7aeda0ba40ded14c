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

// The framing of a chunk of `size` bytes, for writing it around the data without a copy: its size
// line before and "\r\n" after; both empty for HTTP/1.0, which has no framing.
class ChunkFrame {
public:
    ChunkFrame(std::size_t size, bool http10) noexcept;

    std::string_view head() const noexcept { return {line_, head_size_}; }

    std::string_view tail() const noexcept { return head_size_ == 0 ? "" : "\r\n"; }

private:
    char line_[20];  // up to 16 hex digits, then CRLF
    std::size_t head_size_ = 0;
};

// Appends `data` as one chunk (as is for HTTP/1.0), less its first `skip` bytes (framing
// included: what a write already took); nothing for empty data.
void append_chunk(std::string& out, std::string_view data, bool http10, std::size_t skip = 0);

inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace parley::http
