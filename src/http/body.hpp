// Reading a request body as JSON: content type, size (already bounded by the session), UTF-8,
// nesting depth, duplicate keys and shape, each failure a structured client error.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/error.hpp"
#include "http/request.hpp"

namespace parley::http {

// The body as a JSON object. Errors: unsupported_media_type (415) when Content-Type is not
// application/json; invalid_request (400) for an empty body, invalid UTF-8, malformed JSON,
// nesting deeper than the request's limit or a key repeated in any object (I-JSON, RFC 7493);
// unprocessable (422) when the JSON is not an object. Which fields the object may have is the
// route's to check, with json::reject_unknown_fields.
Result<boost::json::object> read_json_object(const Request& req);

// The body as any JSON value (a document that may be an array), with read_json_object's checks
// except the last.
Result<boost::json::value> read_json_value(const Request& req);

}  // namespace parley::http
