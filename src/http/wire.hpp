// HTTP/1.1 response serialisation: the status line, headers and body in one contiguous buffer, so
// a response goes out in one write (one sendmsg) instead of Beast's buffer sequence. Pure.
#pragma once

#include <string>

#include "http/response.hpp"

namespace parley::http {

struct WireOptions {
    bool keep_alive = true;
    bool http10 = false;        // the request was HTTP/1.0: keep-alive must be announced
    bool head_request = false;  // HEAD: Content-Length of the body, but no body
};

// The bytes of `res`, including Content-Length (not on 1xx, 204 or 304) and Connection headers.
std::string serialize_response(const Response& res, const WireOptions& options);

}  // namespace parley::http
