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
#include "common/json_writer.hpp"
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

// A body already written as JSON (json::Writer), with a status.
Response json_text(int status, std::string body);

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

// The same envelopes written with json::Writer, no tree (issue 14: the large responses, a page of
// conversations or a conversation with its messages), status 200: `write_data(w)` writes the
// data, then each of `write_after(w)` more members of the envelope; success_list_written's
// `write_items(w)` writes the list's elements. The same bytes as success() and success_list().
template <class WriteData, class... WriteAfter>
Response success_written(WriteData&& write_data, WriteAfter&&... write_after) {
    std::string body;
    json::Writer w(body);
    w.begin_object().key("status").string("success").key("data");
    std::forward<WriteData>(write_data)(w);
    (std::forward<WriteAfter>(write_after)(w), ...);
    w.end_object();
    return json_text(200, std::move(body));
}

template <class WriteItems>
Response success_list_written(
    WriteItems&& write_items, std::int64_t page, std::int64_t per_page, std::int64_t total
) {
    return success_written(
        [&](json::Writer& w) {
            w.begin_array();
            std::forward<WriteItems>(write_items)(w);
            w.end_array();
        },
        [&](json::Writer& w) {
            w.key("page").integer(page).key("per_page").integer(per_page);
            w.key("total").integer(total);
        }
    );
}

// 204 No Content.
Response no_content();

// The structured error body and status for `error`; adds Retry-After when the error carries one.
Response error_response(const Error& error, std::string_view request_id);

}  // namespace parley::http
