#include "llm/anthropic_codec.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

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
    // redacted_thinking, tool_use (see below), server_tool_use, …: nothing to show.
}

// A `tool_use` block's `input` as argument text: its serialization ("" when it is absent or an
// empty object, as in every `content_block_start` shell).
std::string input_text(const bj::object& block) {
    const bj::value* input = block.if_contains("input");
    if (input == nullptr || input->is_null() ||
        (input->is_object() && input->get_object().empty())) {
        return {};
    }
    return bj::serialize(*input);
}

// A whole `tool_use` block of a complete response.
ToolCall whole_tool_call(const bj::object& block) {
    return wire::complete_tool_call(
        std::string(required_string(block, "id")),
        std::string(required_string(block, "name")),
        input_text(block)
    );
}

// Whether the model is inside a tool loop: its last message made tool calls. (Also when a user
// message follows the results, as after a turn stopped at its round limit: that message joins the
// results' turn, so the API still counts the loop as open.)
bool in_tool_loop(const std::vector<ChatMessage>& messages) {
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        if (it->role == "assistant") {
            return !it->tool_calls.empty();
        }
    }
    return false;
}

// A user message whose content is a block array: tool results, which later results and text join.
bj::array* open_user_blocks(bj::array& messages) {
    if (messages.empty()) {
        return nullptr;
    }
    bj::object& last = messages.back().as_object();
    if (last.at("role") != "user") {
        return nullptr;
    }
    return last.at("content").if_array();
}

bj::array encode_messages(const std::vector<ChatMessage>& history) {
    bj::array messages;
    for (const ChatMessage& m : history) {
        if (m.role == "tool") {
            bj::object result{{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}};
            if (!m.content.empty()) {
                result["content"] = m.content.view();
            }
            if (m.tool_error) {
                result["is_error"] = true;
            }
            if (bj::array* blocks = open_user_blocks(messages)) {
                blocks->push_back(std::move(result));
            } else {
                messages.push_back(bj::object{
                    {"role", "user"}, {"content", bj::array{std::move(result)}}});
            }
            continue;
        }
        if (m.role == "user") {
            if (bj::array* blocks = open_user_blocks(messages)) {
                if (!m.content.empty()) {
                    blocks->push_back(bj::object{{"type", "text"}, {"text", m.content.view()}});
                }
                continue;
            }
        }
        if (m.role == "assistant" && !m.tool_calls.empty()) {
            bj::array blocks;
            // The API rejects empty text blocks.
            if (!m.content.empty()) {
                blocks.push_back(bj::object{{"type", "text"}, {"text", m.content.view()}});
            }
            for (const ToolCall& c : m.tool_calls) {
                blocks.push_back(bj::object{
                    {"type", "tool_use"},
                    {"id", c.id},
                    {"name", c.name},
                    {"input", wire::arguments_object(c.arguments)},
                });
            }
            messages.push_back(bj::object{{"role", "assistant"}, {"content", std::move(blocks)}});
            continue;
        }
        messages.push_back(bj::object{{"role", m.role}, {"content", m.content.view()}});
    }
    return messages;
}

bj::array encode_tools(const std::vector<ToolSpec>& tools) {
    bj::array out;
    for (const ToolSpec& t : tools) {
        bj::object tool{{"name", t.name}};
        if (!t.description.empty()) {
            tool["description"] = t.description;
        }
        tool["input_schema"] = wire::schema_object(t.parameters);
        out.push_back(std::move(tool));
    }
    return out;
}

bool is_known_event(std::string_view name) noexcept {
    return name == "message_start" || name == "content_block_start" ||
           name == "content_block_delta" || name == "content_block_stop" ||
           name == "message_delta" || name == "message_stop" || name == "error";
}

}  // namespace

std::string build_anthropic_request(const ChatRequest& r, bool stream) {
    const bool thinking = r.thinking && !in_tool_loop(r.messages);
    const std::int64_t budget = std::max(kMinThinkingBudget, r.thinking_budget);
    std::int64_t max_tokens = r.max_tokens;
    // The API requires budget_tokens < max_tokens; max_tokens counts the thinking too.
    if (thinking && max_tokens <= budget) {
        max_tokens = budget + r.max_tokens;
    }
    bj::object body;
    body["model"] = r.model;
    body["max_tokens"] = max_tokens;
    if (!r.system.empty()) {
        body["system"] = r.system;
    }
    body["messages"] = encode_messages(r.messages);
    if (!r.tools.empty()) {
        body["tools"] = encode_tools(r.tools);
    }
    if (!r.stop.empty()) {
        body["stop_sequences"] = bj::value_from(r.stop);
    }
    body["stream"] = stream;
    // With thinking on, the API accepts only temperature 1, its default: leave it out.
    if (r.temperature && !thinking) {
        body["temperature"] = *r.temperature;
    }
    if (thinking) {
        body["thinking"] = bj::object{{"type", "enabled"}, {"budget_tokens", budget}};
    }
    return bj::serialize(body);
}

void AnthropicStreamDecoder::decode(
    std::string_view event, std::string_view data, std::vector<StreamEvent>& out
) {
    out.clear();
    if (done_) {
        return;
    }
    // Named events we do not use (ping, and types added later) are skipped unread.
    if (!event.empty() && !is_known_event(event)) {
        return;
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
            return;
        }
        if (type == "message_start") {
            const bj::object& message = required_object(*object, "message");
            if (const bj::object* usage = object_field(message, "usage")) {
                update_usage(usage_, *usage);
            }
        } else if (type == "content_block_start") {
            const bj::object& block = required_object(*object, "content_block");
            if (string_field(block, "type") == "tool_use") {
                const std::int64_t index = count_field(*object, "index").value_or(0);
                calls_.start(index, required_string(block, "id"), required_string(block, "name"));
                calls_.append(index, input_text(block));
            } else {
                push_block(out, block);
            }
        } else if (type == "content_block_delta") {
            const bj::object& delta = required_object(*object, "delta");
            const std::string_view delta_type = required_string(delta, "type");
            if (delta_type == "text_delta") {
                push_text(out, required_string(delta, "text"));
            } else if (delta_type == "thinking_delta") {
                push_thinking(out, required_string(delta, "thinking"));
            } else if (delta_type == "input_json_delta") {
                const std::int64_t index = count_field(*object, "index").value_or(0);
                const std::string_view fragment = required_string(delta, "partial_json");
                // Only a tool_use block's input is ours; server tools stream theirs too.
                if (calls_.is_open(index)) {
                    calls_.append(index, fragment);
                }
            }
            // signature_delta, citations_delta: not shown.
        } else if (type == "content_block_stop") {
            const std::int64_t index = count_field(*object, "index").value_or(0);
            if (auto call = calls_.complete(index)) {
                out.push_back(StreamEvent::tool_call_event(std::move(*call)));
            }
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
            // A tool_use block the server never closed is as complete as it will get.
            wire::push_tool_calls(out, calls_.complete_all());
            out.push_back(StreamEvent::stop(finish_.value_or(FinishReason::stop)));
            done_ = true;
        }
        // ping and unknown types: nothing.
    } catch (const Malformed& e) {
        out.clear();
        out.push_back(StreamEvent::failure(
            UpstreamError::malformed, std::string("malformed stream event: ") + e.what()
        ));
        done_ = true;
    }
}

std::vector<StreamEvent> AnthropicStreamDecoder::finish() {
    std::vector<StreamEvent> out;
    if (done_) {
        return out;
    }
    done_ = true;
    if (finish_) {
        wire::push_tool_calls(out, calls_.complete_all());
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
            if (string_field(block.get_object(), "type") == "tool_use") {
                out.push_back(StreamEvent::tool_call_event(whole_tool_call(block.get_object())));
            } else {
                push_block(out, block.get_object());
            }
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
