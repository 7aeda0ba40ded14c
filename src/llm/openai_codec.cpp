#include "llm/openai_codec.hpp"

#include <algorithm>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/json.hpp"
#include "common/json_writer.hpp"
#include "common/strings.hpp"
#include "llm/openai_chunk_scan.hpp"
#include "llm/wire_json.hpp"

namespace parley::llm {

namespace bj = boost::json;

namespace {

constexpr std::string_view kOpenTag = "<think>";
constexpr std::string_view kCloseTag = "</think>";

// The helpers the three codecs share (llm/wire_json.hpp), by their short names.
using wire::array_field;
using wire::count_field;
using wire::kMaxDepth;
using wire::Malformed;
using wire::object_field;
using wire::parse_or_throw;
using wire::push_text;
using wire::push_thinking;
using wire::string_field;

bool is_space(char c) noexcept {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

std::string_view skip_space(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size() && is_space(s[i])) {
        ++i;
    }
    return s.substr(i);
}

// Length of the longest suffix of `s` that is a proper prefix of `tag`: the part to hold back
// because the next fragment may complete the tag.
std::size_t partial_tag_suffix(std::string_view s, std::string_view tag) noexcept {
    for (std::size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
        if (s.substr(s.size() - n) == tag.substr(0, n)) {
            return n;
        }
    }
    return 0;
}

FinishReason map_finish(std::string_view reason) noexcept {
    if (reason == "length") {
        return FinishReason::length;
    }
    if (reason == "tool_calls" || reason == "function_call") {
        return FinishReason::tool_use;
    }
    if (reason == "content_filter") {
        return FinishReason::content_filter;
    }
    // "stop", and values a compatible server may invent ("eos", "end_turn"): the model ended.
    return FinishReason::stop;
}

Usage read_usage(const bj::object& u) {
    Usage usage;
    usage.input_tokens = count_field(u, "prompt_tokens").value_or(0);
    usage.output_tokens = count_field(u, "completion_tokens").value_or(0);
    return usage;
}

// The reasoning text of a delta or message: `reasoning` (Groq, newer vLLM), else
// `reasoning_content` (DeepSeek, older vLLM). Servers that send both send the same text twice.
std::string_view reasoning_of(const bj::object& o) {
    const auto reasoning = string_field(o, "reasoning");
    if (reasoning && !reasoning->empty()) {
        return *reasoning;
    }
    return string_field(o, "reasoning_content").value_or(std::string_view{});
}

std::optional<UpstreamError> kind_from_code(std::string_view code) noexcept {
    if (code == "invalid_api_key" || code == "account_deactivated") {
        return UpstreamError::authentication;
    }
    // Out of credit: waiting cannot help, another provider can.
    if (code == "insufficient_quota") {
        return UpstreamError::authentication;
    }
    if (code == "rate_limit_exceeded") {
        return UpstreamError::rate_limit;
    }
    if (code == "context_length_exceeded" || code == "model_not_found") {
        return UpstreamError::invalid_request;
    }
    if (code == "server_error") {
        return UpstreamError::server;
    }
    return std::nullopt;
}

std::optional<UpstreamError> kind_from_type(std::string_view type) noexcept {
    if (type == "authentication_error" || type == "permission_error" ||
        type == "insufficient_quota") {
        return UpstreamError::authentication;
    }
    if (type == "rate_limit_error" || type == "rate_limit_exceeded") {
        return UpstreamError::rate_limit;
    }
    if (type == "overloaded_error") {
        return UpstreamError::overloaded;
    }
    if (type == "timeout_error") {
        return UpstreamError::timeout;
    }
    if (type == "invalid_request_error" || type == "not_found_error" || type == "BadRequestError" ||
        type == "NotFoundError") {
        return UpstreamError::invalid_request;
    }
    if (type == "server_error" || type == "api_error" || type == "InternalServerError") {
        return UpstreamError::server;
    }
    return std::nullopt;
}

struct ProviderError {
    std::string message;
    std::optional<UpstreamError> kind;  // from code, then type
    std::optional<int> status;          // vLLM puts the HTTP status in `code`
};

// The error a body or chunk carries: `{"error":{message,type,code}}`, `{"error":"text"}` (Ollama
// and proxies) or vLLM's bare `{"object":"error",message,type,code}`; nullopt when none.
std::optional<ProviderError> find_error(const bj::object& o) {
    const bj::object* e = nullptr;
    if (const bj::value* v = o.if_contains("error"); v != nullptr && !v->is_null()) {
        if (v->is_string()) {
            return ProviderError{std::string(v->get_string()), std::nullopt, std::nullopt};
        }
        if (!v->is_object()) {
            return ProviderError{};
        }
        e = &v->get_object();
    } else if (const bj::value* obj = o.if_contains("object");
               obj != nullptr && obj->is_string() && obj->get_string() == "error") {
        e = &o;
    } else {
        return std::nullopt;
    }
    ProviderError out;
    if (const bj::value* m = e->if_contains("message"); m != nullptr && m->is_string()) {
        out.message = std::string(m->get_string());
    }
    if (const bj::value* c = e->if_contains("code"); c != nullptr) {
        if (c->is_string()) {
            out.kind = kind_from_code(c->get_string());
        } else if (c->is_int64() && c->get_int64() >= 400 && c->get_int64() < 600) {
            out.status = static_cast<int>(c->get_int64());
        }
    }
    if (!out.kind) {
        if (const bj::value* t = e->if_contains("type"); t != nullptr && t->is_string()) {
            out.kind = kind_from_type(t->get_string());
        }
    }
    return out;
}

// A mid-stream error: the body's own kind, else the status it names, else server.
StreamEvent stream_failure(const ProviderError& e) {
    UpstreamError kind = UpstreamError::server;
    if (e.kind) {
        kind = *e.kind;
    } else if (e.status) {
        kind = classify_status(*e.status);
    }
    return StreamEvent::failure(
        kind, e.message.empty() ? std::string("upstream reported an error mid-stream") : e.message
    );
}

// Groq: `x_groq.error` says why a stream was stopped early.
std::optional<std::string> groq_error(const bj::object& chunk) {
    const bj::value* x = chunk.if_contains("x_groq");
    if (x == nullptr || !x->is_object()) {
        return std::nullopt;
    }
    const bj::value* e = x->get_object().if_contains("error");
    if (e == nullptr || e->is_null()) {
        return std::nullopt;
    }
    if (e->is_string()) {
        return std::string(e->get_string());
    }
    if (e->is_object()) {
        if (const bj::value* m = e->get_object().if_contains("message");
            m != nullptr && m->is_string()) {
            return std::string(m->get_string());
        }
    }
    return std::string("upstream stopped the stream early");
}

// One history message: text messages as they are; an assistant message with its tool calls (no
// text: content null, as OpenAI writes it); a tool result answering its call.
// A message of the request's `messages`, written straight into the body (issue 14: the request
// of every turn carries the whole context; a JSON tree of it cost as much as the writing).
void write_message(json::Writer& w, const ChatMessage& m) {
    w.begin_object().key("role");
    if (m.role == "tool") {
        w.string("tool").key("tool_call_id").string(m.tool_call_id);
        w.key("content").string(m.content).end_object();
        return;
    }
    w.string(m.role).key("content");
    const bool calls = m.role == "assistant" && !m.tool_calls.empty();
    if (calls && m.content.empty()) {
        w.null();
    } else {
        w.string(m.content);
    }
    if (calls) {
        w.key("tool_calls").begin_array();
        for (const ToolCall& c : m.tool_calls) {
            w.begin_object().key("id").string(c.id).key("type").string("function");
            w.key("function").begin_object().key("name").string(c.name);
            w.key("arguments").string(c.arguments.empty() ? std::string_view("{}") : c.arguments);
            w.end_object().end_object();
        }
        w.end_array();
    }
    w.end_object();
}

void write_tools(json::Writer& w, const std::vector<ToolSpec>& tools) {
    w.begin_array();
    for (const ToolSpec& t : tools) {
        w.begin_object().key("type").string("function");
        w.key("function").begin_object().key("name").string(t.name);
        if (!t.description.empty()) {
            w.key("description").string(t.description);
        }
        w.key("parameters").value(wire::schema_object(t.parameters));
        w.end_object().end_object();
    }
    w.end_array();
}

// The arguments of a tool call's `function`: text (the format), or an object some compatible
// servers send whole (then its serialization); absent → "".
std::string arguments_of(const bj::object& function) {
    const bj::value* v = function.if_contains("arguments");
    if (v == nullptr || v->is_null()) {
        return {};
    }
    if (v->is_string()) {
        return std::string(v->get_string());
    }
    if (v->is_object()) {
        return bj::serialize(*v);
    }
    throw Malformed("`arguments` is not a string");
}

// The calls of a complete message (`message.tool_calls`), in order.
std::vector<ToolCall> message_tool_calls(const bj::object& message) {
    std::vector<ToolCall> out;
    const bj::array* calls = array_field(message, "tool_calls");
    if (calls == nullptr) {
        return out;
    }
    for (const bj::value& v : *calls) {
        const bj::object* call = v.if_object();
        if (call == nullptr) {
            throw Malformed("a tool call is not an object");
        }
        const bj::object* function = object_field(*call, "function");
        if (function == nullptr) {
            throw Malformed("a tool call has no `function`");
        }
        std::string id(string_field(*call, "id").value_or(std::string_view{}));
        if (id.empty()) {
            id = wire::generated_call_id(out.size() + 1);
        }
        out.push_back(wire::complete_tool_call(
            std::move(id),
            std::string(string_field(*function, "name").value_or(std::string_view{})),
            arguments_of(*function)
        ));
    }
    return out;
}

}  // namespace

std::string build_openai_request(const ChatRequest& r, bool stream) {
    std::string body;
    std::size_t size = r.system.size() + 256;
    for (const ChatMessage& m : r.messages) {
        size += m.content.size() + 32;
    }
    body.reserve(size);
    json::Writer w(body);
    w.begin_object().key("model").string(r.model).key("messages").begin_array();
    if (!r.system.empty()) {
        w.begin_object().key("role").string("system").key("content").string(r.system).end_object();
    }
    for (const ChatMessage& m : r.messages) {
        write_message(w, m);
    }
    w.end_array();
    if (!r.tools.empty()) {
        w.key("tools");
        write_tools(w, r.tools);
    }
    // `max_tokens`, not `max_completion_tokens`: the name Groq, vLLM, Ollama and llama.cpp accept.
    w.key("max_tokens").integer(r.max_tokens);
    if (r.temperature) {
        w.key("temperature").number(*r.temperature);
    }
    if (!r.stop.empty()) {
        w.key("stop").begin_array();
        for (const std::string& s : r.stop) {
            w.string(s);
        }
        w.end_array();
    }
    w.key("stream").boolean(stream);
    if (stream) {
        w.key("stream_options").begin_object().key("include_usage").boolean(true).end_object();
    }
    w.end_object();
    return body;
}

void OpenAiStreamDecoder::decode(
    std::string_view event, std::string_view data, std::vector<StreamEvent>& out
) {
    out.clear();
    if (done_) {
        return;
    }
    // A chunk starts with its `{` (checked first: trimming every delta's data was a tenth of its
    // decoding).
    const std::string_view trimmed = !data.empty() && data.front() == '{' ? data : trim(data);
    if (trimmed == "[DONE]") {
        flush_pending(out);
        flush_calls(out);
        out.push_back(StreamEvent::stop(final_reason()));
        done_ = true;
        return;
    }
    if (trimmed.empty() && event != "error") {
        return;  // keep-alive
    }
    // Nearly every chunk is a piece of text: read it without building a JSON tree. An `error`
    // event fails whatever its data, so it takes the full path.
    if (scan_ == ChunkScan::on && event != "error") {
        const PlainChunk shape = scanner_.scan(data, content_);
        if (shape == PlainChunk::content) {
            on_content(content_, out);
        }
        if (shape != PlainChunk::other) {
            return;
        }
    }
    try {
        const bj::value value = parse_or_throw(data);
        const bj::object* chunk = value.if_object();
        if (chunk == nullptr) {
            throw Malformed("chunk is not a JSON object");
        }
        if (auto e = find_error(*chunk)) {
            fail(out, stream_failure(*e));
            return;
        }
        if (event == "error") {
            fail(out, StreamEvent::failure(UpstreamError::server, "upstream sent an error event"));
            return;
        }
        if (auto e = groq_error(*chunk)) {
            fail(out, StreamEvent::failure(UpstreamError::server, std::move(*e)));
            return;
        }
        // `out` holds nothing yet: a shape error half-way leaves only the failure (see catch).
        if (const bj::array* choices = array_field(*chunk, "choices")) {
            for (const bj::value& c : *choices) {
                const bj::object* choice = c.if_object();
                if (choice == nullptr) {
                    throw Malformed("a choice is not an object");
                }
                if (count_field(*choice, "index").value_or(0) != 0) {
                    continue;  // we ask for one choice (n = 1)
                }
                if (const bj::object* delta = object_field(*choice, "delta")) {
                    push_thinking(out, reasoning_of(*delta));
                    if (const auto content = string_field(*delta, "content")) {
                        on_content(*content, out);
                    }
                    if (const auto refusal = string_field(*delta, "refusal")) {
                        flush_pending(out);
                        push_text(out, *refusal);
                    }
                    if (const bj::array* calls = array_field(*delta, "tool_calls")) {
                        for (const bj::value& call : *calls) {
                            on_tool_call(call);
                        }
                    }
                }
                if (const auto reason = string_field(*choice, "finish_reason")) {
                    finish_ = map_finish(*reason);
                    flush_pending(out);
                    flush_calls(out);
                }
            }
        }
        // Groq reports usage in `x_groq.usage` on the last chunk instead of `usage`.
        const bj::object* usage = object_field(*chunk, "usage");
        if (usage == nullptr) {
            if (const bj::object* x_groq = object_field(*chunk, "x_groq")) {
                usage = object_field(*x_groq, "usage");
            }
        }
        if (usage != nullptr) {
            out.push_back(StreamEvent::usage_event(read_usage(*usage)));
        }
    } catch (const Malformed& e) {
        out.clear();
        fail(
            out,
            StreamEvent::failure(
                UpstreamError::malformed, std::string("malformed stream chunk: ") + e.what()
            )
        );
    }
}

std::vector<StreamEvent> OpenAiStreamDecoder::finish() {
    std::vector<StreamEvent> out;
    if (done_) {
        return out;
    }
    if (finish_) {
        flush_pending(out);
        flush_calls(out);
        out.push_back(StreamEvent::stop(final_reason()));
        done_ = true;
        return out;
    }
    fail(
        out,
        StreamEvent::failure(UpstreamError::connection, "the stream ended before it was complete")
    );
    return out;
}

// Content is text unless it opens with `<think>` (after optional whitespace): then everything up
// to `</think>` is reasoning, and whitespace right after `</think>` is dropped. A fragment that may
// be the beginning of a tag is held back in pending_ until the next one decides.
void OpenAiStreamDecoder::on_content(std::string_view fragment, std::vector<StreamEvent>& out) {
    if (think_ == ThinkState::text) {
        push_text(out, fragment);  // past the leading tag, nothing is held back: pending_ is empty
        return;
    }
    const std::string joined = pending_ + std::string(fragment);
    pending_.clear();
    std::string_view rest = joined;
    while (!rest.empty()) {
        switch (think_) {
            case ThinkState::start: {
                const std::string_view t = skip_space(rest);
                if (t.empty() || (t.size() < kOpenTag.size() && kOpenTag.starts_with(t))) {
                    pending_ = std::string(rest);
                    return;
                }
                if (t.starts_with(kOpenTag)) {
                    think_ = ThinkState::inside;
                    rest = t.substr(kOpenTag.size());
                } else {
                    think_ = ThinkState::text;
                }
                break;
            }
            case ThinkState::inside: {
                const std::size_t close = rest.find(kCloseTag);
                if (close != std::string_view::npos) {
                    push_thinking(out, rest.substr(0, close));
                    think_ = ThinkState::after;
                    rest = rest.substr(close + kCloseTag.size());
                    break;
                }
                const std::size_t keep = partial_tag_suffix(rest, kCloseTag);
                push_thinking(out, rest.substr(0, rest.size() - keep));
                pending_ = std::string(rest.substr(rest.size() - keep));
                return;
            }
            case ThinkState::after:
                rest = skip_space(rest);
                if (!rest.empty()) {
                    think_ = ThinkState::text;
                }
                break;
            case ThinkState::text:
                push_text(out, rest);
                return;
        }
    }
}

// The choice is finished: what was held back is what it looked like (text before any `<think>`,
// reasoning inside one).
void OpenAiStreamDecoder::flush_pending(std::vector<StreamEvent>& out) {
    if (think_ == ThinkState::start) {
        push_text(out, pending_);
        think_ = ThinkState::text;
    } else if (think_ == ThinkState::inside) {
        push_thinking(out, pending_);
    }
    pending_.clear();
}

// One piece of a tool call: `{index, id?, type?, function?: {name?, arguments?}}`. The first
// piece of a call carries its id and name, later ones fragments of the arguments. A server that
// leaves out `index` (some compatible ones) starts a new call with each id and continues the last
// one otherwise.
void OpenAiStreamDecoder::on_tool_call(const boost::json::value& piece) {
    const bj::object* call = piece.if_object();
    if (call == nullptr) {
        throw Malformed("a tool call is not an object");
    }
    const std::string_view id = string_field(*call, "id").value_or(std::string_view{});
    std::int64_t key = 0;
    if (const auto index = count_field(*call, "index")) {
        key = *index;
    } else if (!id.empty()) {
        key = calls_.find_id(id).value_or(calls_.next_key());
    } else {
        key = calls_.last_key().value_or(calls_.next_key());
    }
    std::string_view name;
    std::string arguments;
    if (const bj::object* function = object_field(*call, "function")) {
        name = string_field(*function, "name").value_or(std::string_view{});
        arguments = arguments_of(*function);
    }
    calls_.start(key, id, name);
    calls_.append(key, arguments);
}

// The choice is finished: its tool calls are complete.
void OpenAiStreamDecoder::flush_calls(std::vector<StreamEvent>& out) {
    wire::push_tool_calls(out, calls_.complete_all());
}

// What the stop says: the finish_reason, but tool_use when the model called tools and the server
// still said "stop" (Ollama and other compatible servers do).
FinishReason OpenAiStreamDecoder::final_reason() const noexcept {
    const FinishReason reason = finish_.value_or(FinishReason::stop);
    if (reason == FinishReason::stop && calls_.completed() > 0) {
        return FinishReason::tool_use;
    }
    return reason;
}

void OpenAiStreamDecoder::fail(std::vector<StreamEvent>& out, StreamEvent failure) {
    out.push_back(std::move(failure));
    done_ = true;
}

Result<std::vector<StreamEvent>> decode_openai_response(std::string_view body) {
    std::vector<StreamEvent> out;
    try {
        const bj::value value = parse_or_throw(body);
        const bj::object* response = value.if_object();
        if (response == nullptr) {
            throw Malformed("response is not a JSON object");
        }
        if (auto e = find_error(*response)) {
            out.push_back(stream_failure(*e));
            return out;
        }
        const bj::array* choices = array_field(*response, "choices");
        if (choices == nullptr || choices->empty() || !choices->front().is_object()) {
            throw Malformed("`choices` has no choice");
        }
        const bj::object& choice = choices->front().get_object();
        FinishReason finish = FinishReason::stop;
        if (const auto reason = string_field(choice, "finish_reason")) {
            finish = map_finish(*reason);
        }
        const bj::object* message = object_field(choice, "message");
        if (message == nullptr) {
            throw Malformed("the choice has no `message`");
        }
        push_thinking(out, reasoning_of(*message));
        const std::string_view content =
            string_field(*message, "content").value_or(std::string_view{});
        const std::string_view opened = skip_space(content);
        if (opened.starts_with(kOpenTag)) {
            const std::string_view inner = opened.substr(kOpenTag.size());
            const std::size_t close = inner.find(kCloseTag);
            // No `</think>`: the answer was cut off while still reasoning.
            push_thinking(out, inner.substr(0, close));
            if (close != std::string_view::npos) {
                push_text(out, skip_space(inner.substr(close + kCloseTag.size())));
            }
        } else {
            push_text(out, content);
        }
        push_text(out, string_field(*message, "refusal").value_or(std::string_view{}));
        std::vector<ToolCall> calls = message_tool_calls(*message);
        if (!calls.empty() && finish == FinishReason::stop) {
            finish = FinishReason::tool_use;
        }
        wire::push_tool_calls(out, std::move(calls));
        if (const bj::object* usage = object_field(*response, "usage")) {
            out.push_back(StreamEvent::usage_event(read_usage(*usage)));
        }
        out.push_back(StreamEvent::stop(finish));
    } catch (const Malformed& e) {
        return wire::unreadable_response("OpenAI-compatible", e);
    }
    return out;
}

StreamEvent decode_openai_error(
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
