#include "llm/anthropic_codec.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/json.hpp"
#include "llm/wire_json.hpp"

namespace parley::llm {

namespace bj = boost::json;

namespace {

constexpr int kMinThinkingBudget = 1024;  // the API rejects smaller budgets

// The helpers the three codecs share (llm/wire_json.hpp), by their short names.
using wire::count_field;
using wire::kMaxDepth;
using wire::Malformed;
using wire::object_field;
using wire::parse_or_throw;
using wire::push_text;
using wire::push_thinking;
using wire::string_field;

const bj::object& required_object(const bj::object& o, std::string_view key) {
    const bj::object* field = object_field(o, key);
    if (field == nullptr) {
        throw Malformed("`" + std::string(key) + "` is missing");
    }
    return *field;
}

std::string_view required_string(const bj::object& o, std::string_view key) {
    const auto field = string_field(o, key);
    if (!field) {
        throw Malformed("`" + std::string(key) + "` is missing");
    }
    return *field;
}

// Overwrites the counts `u` reports (they are cumulative totals) and keeps the others.
void update_usage(Usage& usage, const bj::object& u) {
    if (const auto input = count_field(u, "input_tokens")) {
        usage.input_tokens = *input;
    }
    if (const auto output = count_field(u, "output_tokens")) {
        usage.output_tokens = *output;
    }
}

FinishReason map_stop_reason(std::string_view reason) noexcept {
    if (reason == "max_tokens" || reason == "model_context_window_exceeded") {
        return FinishReason::length;
    }
    if (reason == "tool_use") {
        return FinishReason::tool_use;
    }
    if (reason == "refusal") {
        return FinishReason::content_filter;
    }
    // end_turn, stop_sequence, pause_turn, and reasons added later: the model ended its turn.
    return FinishReason::stop;
}

std::optional<UpstreamError> kind_from_type(std::string_view type) noexcept {
    if (type == "overloaded_error") {
        return UpstreamError::overloaded;
    }
    if (type == "rate_limit_error") {
        return UpstreamError::rate_limit;
    }
    if (type == "api_error") {
        return UpstreamError::server;
    }
    if (type == "invalid_request_error" || type == "not_found_error" ||
        type == "request_too_large") {
        return UpstreamError::invalid_request;
    }
    // billing_error (402): retrying cannot help, another provider can.
    if (type == "authentication_error" || type == "permission_error" || type == "billing_error") {
        return UpstreamError::authentication;
    }
    if (type == "timeout_error") {
        return UpstreamError::timeout;
    }
    return std::nullopt;
}

struct ProviderError {
    std::string message;
    std::optional<UpstreamError> kind;
};

// The error an `{"type":"error","error":{type,message}}` object carries; nullopt when `o` has no
// `error` object.
std::optional<ProviderError> find_error(const bj::object& o) {
    const bj::value* e = o.if_contains("error");
    if (e == nullptr || !e->is_object()) {
        return std::nullopt;
    }
    ProviderError out;
    const bj::object& error = e->get_object();
    if (const bj::value* m = error.if_contains("message"); m != nullptr && m->is_string()) {
        out.message = std::string(m->get_string());
    }
    if (const bj::value* t = error.if_contains("type"); t != nullptr && t->is_string()) {
        out.kind = kind_from_type(t->get_string());
    }
    return out;
}

StreamEvent stream_failure(const std::optional<ProviderError>& e) {
    if (!e) {
        return StreamEvent::failure(UpstreamError::server, "upstream sent an error event");
    }
    return StreamEvent::failure(
        e->kind.value_or(UpstreamError::server),
        e->message.empty() ? std::string("upstream sent an error event") : e->message
    );
}

// The text of a content block (a whole one in a response, or a `content_block_start` shell, which
// is normally empty).
void push_block(std::vector<StreamEvent>& out, const bj::object& block) {
    const auto type = string_field(block, "type");
    if (type == "text") {
        push_text(out, required_string(block, "text"));
    } else if (type == "thinking") {
        push_thinking(out, required_string(block, "thinking"));
    }
    // redacted_thinking, tool_use, server_tool_use, …: nothing to show.
}

bool is_known_event(std::string_view name) noexcept {
    return name == "message_start" || name == "content_block_start" ||
           name == "content_block_delta" || name == "content_block_stop" ||
           name == "message_delta" || name == "message_stop" || name == "error";
}

}  // namespace

std::string build_anthropic_request(const ChatRequest& r, bool stream) {
    const std::int64_t budget = std::max(kMinThinkingBudget, r.thinking_budget);
    std::int64_t max_tokens = r.max_tokens;
    // The API requires budget_tokens < max_tokens; max_tokens counts the thinking too.
    if (r.thinking && max_tokens <= budget) {
        max_tokens = budget + r.max_tokens;
    }
    bj::array messages;
    for (const ChatMessage& m : r.messages) {
        messages.push_back(bj::object{{"role", m.role}, {"content", m.content}});
    }
    bj::object body;
    body["model"] = r.model;
    body["max_tokens"] = max_tokens;
    if (!r.system.empty()) {
        body["system"] = r.system;
    }
    body["messages"] = std::move(messages);
    body["stream"] = stream;
    // With thinking on, the API accepts only temperature 1, its default: leave it out.
    if (r.temperature && !r.thinking) {
        body["temperature"] = *r.temperature;
    }
    if (r.thinking) {
        body["thinking"] = bj::object{{"type", "enabled"}, {"budget_tokens", budget}};
    }
    return bj::serialize(body);
}

std::vector<StreamEvent> AnthropicStreamDecoder::decode(
    std::string_view event, std::string_view data
) {
    std::vector<StreamEvent> out;
    if (done_) {
        return out;
    }
    // Named events we do not use (ping, and types added later) are skipped unread.
    if (!event.empty() && !is_known_event(event)) {
        return out;
    }
    try {
        const bj::value value = parse_or_throw(data);
        const bj::object* object = value.if_object();
        if (object == nullptr) {
            throw Malformed("event data is not a JSON object");
        }
        const std::string_view type =
            event.empty() ? string_field(*object, "type").value_or(std::string_view{}) : event;
        if (type == "error") {
            out.push_back(stream_failure(find_error(*object)));
            done_ = true;
            return out;
        }
        if (type == "message_start") {
            const bj::object& message = required_object(*object, "message");
            if (const bj::object* usage = object_field(message, "usage")) {
                update_usage(usage_, *usage);
            }
        } else if (type == "content_block_start") {
            push_block(out, required_object(*object, "content_block"));
        } else if (type == "content_block_delta") {
            const bj::object& delta = required_object(*object, "delta");
            const std::string_view delta_type = required_string(delta, "type");
            if (delta_type == "text_delta") {
                push_text(out, required_string(delta, "text"));
            } else if (delta_type == "thinking_delta") {
                push_thinking(out, required_string(delta, "thinking"));
            }
            // input_json_delta, signature_delta, citations_delta: not shown.
        } else if (type == "message_delta") {
            if (const bj::object* delta = object_field(*object, "delta")) {
                if (const auto reason = string_field(*delta, "stop_reason")) {
                    finish_ = map_stop_reason(*reason);
                }
            }
            if (const bj::object* usage = object_field(*object, "usage")) {
                update_usage(usage_, *usage);
                out.push_back(StreamEvent::usage_event(usage_));
            }
        } else if (type == "message_stop") {
            out.push_back(StreamEvent::stop(finish_.value_or(FinishReason::stop)));
            done_ = true;
        }
        // content_block_stop, ping and unknown types: nothing.
    } catch (const Malformed& e) {
        out.clear();
        out.push_back(StreamEvent::failure(
            UpstreamError::malformed, std::string("malformed stream event: ") + e.what()
        ));
        done_ = true;
    }
    return out;
}

std::vector<StreamEvent> AnthropicStreamDecoder::finish() {
    std::vector<StreamEvent> out;
    if (done_) {
        return out;
    }
    done_ = true;
    if (finish_) {
        out.push_back(StreamEvent::stop(*finish_));
    } else {
        out.push_back(StreamEvent::failure(
            UpstreamError::connection, "the stream ended before it was complete"
        ));
    }
    return out;
}

Result<std::vector<StreamEvent>> decode_anthropic_response(std::string_view body) {
    std::vector<StreamEvent> out;
    try {
        const bj::value value = parse_or_throw(body);
        const bj::object* message = value.if_object();
        if (message == nullptr) {
            throw Malformed("response is not a JSON object");
        }
        if (string_field(*message, "type") == "error" || message->contains("error")) {
            out.push_back(stream_failure(find_error(*message)));
            return out;
        }
        const bj::value* content = message->if_contains("content");
        if (content == nullptr || !content->is_array()) {
            throw Malformed("`content` is not an array");
        }
        for (const bj::value& block : content->get_array()) {
            if (!block.is_object()) {
                throw Malformed("a content block is not an object");
            }
            push_block(out, block.get_object());
        }
        if (const bj::object* usage = object_field(*message, "usage")) {
            Usage totals;
            update_usage(totals, *usage);
            out.push_back(StreamEvent::usage_event(totals));
        }
        const auto reason = string_field(*message, "stop_reason");
        out.push_back(StreamEvent::stop(reason ? map_stop_reason(*reason) : FinishReason::stop));
    } catch (const Malformed& e) {
        return wire::unreadable_response("Anthropic", e);
    }
    return out;
}

StreamEvent decode_anthropic_error(
    int status, std::string_view body, std::optional<std::chrono::seconds> retry_after
) {
    return wire::http_error_from_body(
        status,
        body,
        retry_after,
        [](const bj::value& v) -> std::optional<ProviderError> {
            if (!v.is_object()) {
                return std::nullopt;
            }
            return find_error(v.get_object());
        }
    );
}

}  // namespace parley::llm
