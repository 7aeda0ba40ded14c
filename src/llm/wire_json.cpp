#include "llm/wire_json.hpp"

#include <cmath>
#include <utility>

#include <boost/json/serialize.hpp>

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

namespace {

// Made where it goes (issue 14: a delta's event was built, moved into the vector and destroyed,
// a StreamEvent being a dozen members).
void push_delta(std::vector<StreamEvent>& out, StreamEvent::Kind kind, std::string_view s) {
    if (!s.empty()) {
        StreamEvent& e = out.emplace_back();
        e.kind = kind;
        e.text.assign(s);
    }
}

}  // namespace

void push_text(std::vector<StreamEvent>& out, std::string_view s) {
    push_delta(out, StreamEvent::Kind::text_delta, s);
}

void push_thinking(std::vector<StreamEvent>& out, std::string_view s) {
    push_delta(out, StreamEvent::Kind::thinking_delta, s);
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

ToolCall complete_tool_call(std::string id, std::string name, std::string_view arguments) {
    ToolCall call;
    call.id = std::move(id);
    call.name = std::move(name);
    call.arguments = "{}";
    std::size_t first = 0;
    while (first < arguments.size() && (arguments[first] == ' ' || arguments[first] == '\n' ||
                                        arguments[first] == '\r' || arguments[first] == '\t')) {
        ++first;
    }
    if (first == arguments.size()) {
        return call;  // none: a tool without parameters
    }
    auto parsed = json::parse(arguments, kMaxDepth);
    if (!parsed) {
        call.invalid_arguments = "arguments are not valid JSON: " + parsed.error().message;
    } else if (!parsed->is_object()) {
        call.invalid_arguments = "arguments are not a JSON object";
    } else {
        call.arguments = bj::serialize(*parsed);
    }
    return call;
}

std::string generated_call_id(std::size_t n) {
    return "call_" + std::to_string(n);
}

void ToolCallAssembler::start(std::int64_t key, std::string_view id, std::string_view name) {
    Open& open = open_[key];
    if (!id.empty()) {
        open.id = std::string(id);
    }
    if (!name.empty()) {
        open.name = std::string(name);
    }
    last_key_ = key;
}

void ToolCallAssembler::append(std::int64_t key, std::string_view fragment) {
    open_[key].arguments += fragment;
    last_key_ = key;
}

std::optional<ToolCall> ToolCallAssembler::complete(std::int64_t key) {
    const auto it = open_.find(key);
    if (it == open_.end()) {
        return std::nullopt;
    }
    Open open = std::move(it->second);
    open_.erase(it);
    return finish(std::move(open));
}

std::vector<ToolCall> ToolCallAssembler::complete_all() {
    std::vector<ToolCall> out;
    out.reserve(open_.size());
    for (auto& [key, open] : open_) {
        out.push_back(finish(std::move(open)));
    }
    open_.clear();
    return out;
}

std::optional<std::int64_t> ToolCallAssembler::last_key() const noexcept {
    if (!last_key_ || !open_.contains(*last_key_)) {
        return std::nullopt;
    }
    return last_key_;
}

std::optional<std::int64_t> ToolCallAssembler::find_id(std::string_view id) const {
    for (const auto& [key, open] : open_) {
        if (open.id == id) {
            return key;
        }
    }
    return std::nullopt;
}

std::int64_t ToolCallAssembler::next_key() const noexcept {
    return open_.empty() ? 0 : open_.rbegin()->first + 1;
}

ToolCall ToolCallAssembler::finish(Open open) {
    ++completed_;
    std::string id = open.id.empty() ? generated_call_id(completed_) : std::move(open.id);
    return complete_tool_call(std::move(id), std::move(open.name), open.arguments);
}

void push_tool_calls(std::vector<StreamEvent>& out, std::vector<ToolCall> calls) {
    for (ToolCall& call : calls) {
        out.push_back(StreamEvent::tool_call_event(std::move(call)));
    }
}

bj::object schema_object(std::string_view parameters) {
    if (auto parsed = json::parse(parameters, kMaxDepth); parsed && parsed->is_object()) {
        return std::move(parsed->get_object());
    }
    return bj::object{{"type", "object"}, {"properties", bj::object{}}};
}

bj::object arguments_object(std::string_view arguments) {
    if (auto parsed = json::parse(arguments, kMaxDepth); parsed && parsed->is_object()) {
        return std::move(parsed->get_object());
    }
    return bj::object{};
}

bj::object tool_result_object(std::string_view content) {
    if (auto parsed = json::parse(content, kMaxDepth); parsed && parsed->is_object()) {
        return std::move(parsed->get_object());
    }
    return bj::object{{"result", content}};
}

}  // namespace parley::llm::wire
