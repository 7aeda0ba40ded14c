#include "llm/wire_json.hpp"

#include <cmath>
#include <utility>

#include "common/json.hpp"

namespace parley::llm::wire {

namespace bj = boost::json;

namespace {

bool refines_status(UpstreamError kind) noexcept {
    return kind == UpstreamError::authentication || kind == UpstreamError::rate_limit ||
           kind == UpstreamError::overloaded || kind == UpstreamError::timeout;
}

}  // namespace

bj::value parse_or_throw(std::string_view text) {
    auto parsed = json::parse(text, kMaxDepth);
    if (!parsed) {
        throw Malformed(parsed.error().message);
    }
    return std::move(*parsed);
}

const bj::object* object_field(const bj::object& o, std::string_view key) {
    const bj::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return nullptr;
    }
    if (!v->is_object()) {
        throw Malformed("`" + std::string(key) + "` is not an object");
    }
    return &v->get_object();
}

const bj::array* array_field(const bj::object& o, std::string_view key) {
    const bj::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return nullptr;
    }
    if (!v->is_array()) {
        throw Malformed("`" + std::string(key) + "` is not an array");
    }
    return &v->get_array();
}

std::optional<std::string_view> string_field(const bj::object& o, std::string_view key) {
    const bj::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::nullopt;
    }
    if (!v->is_string()) {
        throw Malformed("`" + std::string(key) + "` is not a string");
    }
    return std::string_view(v->get_string());
}

std::optional<std::int64_t> count_field(const bj::object& o, std::string_view key) {
    const bj::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::nullopt;
    }
    if (v->is_int64() && v->get_int64() >= 0) {
        return v->get_int64();
    }
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v->get_uint64());
    }
    if (v->is_double()) {
        const double d = v->get_double();
        if (d >= 0 && d < 9.0e15 && std::floor(d) == d) {
            return static_cast<std::int64_t>(d);
        }
    }
    throw Malformed("`" + std::string(key) + "` is not a token count");
}

void push_text(std::vector<StreamEvent>& out, std::string_view s) {
    if (!s.empty()) {
        out.push_back(StreamEvent::text_delta(std::string(s)));
    }
}

void push_thinking(std::vector<StreamEvent>& out, std::string_view s) {
    if (!s.empty()) {
        out.push_back(StreamEvent::thinking_delta(std::string(s)));
    }
}

Error unreadable_response(std::string_view api, const Malformed& e) {
    return make_error(
        ErrorType::upstream,
        "the model provider sent a response Parley could not read",
        "malformed " + std::string(api) + " response: " + e.what()
    );
}

StreamEvent http_error_event(
    int status,
    std::string body_message,
    std::optional<UpstreamError> body_kind,
    std::optional<std::chrono::seconds> retry_after
) {
    UpstreamError kind = classify_status(status);
    if (body_kind && refines_status(*body_kind)) {
        kind = *body_kind;
    }
    if (body_message.empty()) {
        body_message = "upstream returned HTTP " + std::to_string(status);
    }
    StreamEvent event = StreamEvent::failure(kind, std::move(body_message), status);
    event.retry_after = retry_after;
    return event;
}

}  // namespace parley::llm::wire
