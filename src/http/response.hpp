// Parley's own HTTP response, returned by route handlers, and the helpers that shape the JSON
// envelopes of the seed wire contract: `{"status":"success","data":…}` (lists add page, per_page,
// total) and `{"status":"error","error":{type,message,request_id}}`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "common/error.hpp"
#include "http/stream.hpp"

namespace parley::http {

struct Response {
    int status = 200;
    std::string content_type;  // empty: no body
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // API responses get `Cache-Control: no-store`; static assets set this to keep their own.
    bool cacheable = false;
    // A streamed body (Server-Sent Events): the session writes the status and headers, then runs
    // this until it returns; `body` is ignored.
    BodyWriter body_writer;
    // Set by a handler that accepts a WebSocket upgrade: the session completes the handshake and
    // runs this until it returns.
    WebSocketHandler websocket;

    void set_header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
    }

    // The first value of a header this response already carries, or empty.
    std::string_view header(std::string_view name) const noexcept;
};

// Any JSON value with a status.
Response json_response(int status, const boost::json::value& body);

// A storage for the JSON of one large response: a monotonic arena, released at once when the last
// value using it is destroyed. Build the data on it and pass it to success() / success_list(),
// whose envelopes take their data's storage (issue 14: allocating and freeing every node of a
// page of conversations was a third of its cost).
boost::json::storage_ptr json_arena();

// `{"status":"success","data":data}`. `data` is moved into the body: pass an rvalue, and a
// conversation with its messages is not copied on the way (issue 14).
Response success(boost::json::value data, int status = 200);

// `{"status":"success","data":[…],"page":…,"per_page":…,"total":…}`, on `data`'s storage.
Response success_list(
    boost::json::array data, std::int64_t page, std::int64_t per_page, std::int64_t total
);

// 204 No Content.
Response no_content();

// The structured error body and status for `error`; adds Retry-After when the error carries one.
Response error_response(const Error& error, std::string_view request_id);

}  // namespace parley::http
