#include "messages/stream_format.hpp"

#include <optional>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include "common/json_writer.hpp"
#include "conversations/json.hpp"
#include "messages/resume.hpp"

namespace parley::messages {

namespace bj = boost::json;

namespace {

constexpr std::string_view kEventStream = "text/event-stream; charset=utf-8";

// A JSON document's text as a value; text that is not JSON stays a string.
bj::value json_or_text(std::string_view text) {
    boost::system::error_code ec;
    auto v = bj::parse(text, ec);
    if (ec) {
        return bj::value(bj::string(text));
    }
    return v;
}

// Parley's own account of the answer, carried next to the provider-shaped fields of the final
// event (Anthropic message_delta / error, OpenAI usage chunk / error), written as the value of a
// member. The ids come from the start, so they are right even when the reply could not be stored.
void write_parley(json::Writer& w, const StreamStart& s, const store::Message& reply) {
    w.begin_object()
        .key("message_id")
        .string(s.message_id)
        .key("conversation_id")
        .string(s.conversation_id)
        .key("user_message_id")
        .string(s.user_message_id)
        .key("status")
        .string(reply.status)
        .key("model")
        .string_or_null(reply.model)
        .key("provider")
        .string_or_null(reply.provider)
        .key("cost_usd")
        .number(conversations::to_usd(reply.cost_micros))
        .key("latency_ms")
        .integer_or_null(reply.latency_ms)
        .key("ttft_ms")
        .integer_or_null(reply.ttft_ms)
        .key("input_tokens")
        .integer(reply.input_tokens)
        .key("output_tokens")
        .integer(reply.output_tokens)
        .end_object();
}

std::string_view finish_reason_of(const store::Message& reply) {
    return reply.finish_reason ? std::string_view(*reply.finish_reason) : std::string_view();
}

// --- Anthropic ----------------------------------------------------------------------------------

class AnthropicEncoder final : public StreamEncoder {
public:
    std::string start(const StreamStart& s) override {
        start_ = s;
        std::string out;
        json::Writer w = begin_event(out, "message_start");
        w.begin_object()
            .key("type")
            .string("message_start")
            .key("message")
            .begin_object()
            .key("id")
            .string(s.message_id)
            .key("type")
            .string("message")
            .key("role")
            .string("assistant")
            .key("content")
            .begin_array()
            .end_array()
            .key("model")
            .string(s.model)
            .key("stop_reason")
            .null()
            .key("stop_sequence")
            .null()
            .key("usage")
            .begin_object()
            .key("input_tokens")
            .integer(s.input_tokens)
            .key("output_tokens")
            .integer(0)
            .end_object()
            .key("parley")
            .begin_object()
            .key("conversation_id")
            .string(s.conversation_id)
            .key("user_message_id")
            .string(s.user_message_id)
            .key("message_id")
            .string(s.message_id)
            .end_object()
            .end_object()
            .end_object();
        out += "\n\n";
        return out;
    }

    std::string thinking(std::string_view delta) override {
        std::string out = enter(Block::thinking);
        block_delta(out, "thinking_delta", "thinking", delta);
        return out;
    }

    std::string text(std::string_view delta) override {
        std::string out = enter(Block::text);
        block_delta(out, "text_delta", "text", delta);
        return out;
    }

    std::string finish(const StreamEnd& end) override {
        std::string out;
        if (end.error_type) {
            // The SDK throws on `event: error`; anything after it would never be read, and a
            // block closed here would pretend the answer was whole.
            json::Writer w = begin_event(out, "error");
            w.begin_object()
                .key("type")
                .string("error")
                .key("error")
                .begin_object()
                .key("type")
                .string(*end.error_type)
                .key("message")
                .string(end.error_message)
                .end_object()
                .key("parley");
            write_parley(w, start_, end.reply);
            w.end_object();
            out += "\n\n";
            return out;
        }
        if (!had_text_) {
            // finalText() needs a text block, even an empty one.
            out += enter(Block::text);
        }
        out += close();
        json::Writer w = begin_event(out, "message_delta");
        w.begin_object()
            .key("type")
            .string("message_delta")
            .key("delta")
            .begin_object()
            .key("stop_reason")
            .string(anthropic_stop_reason(finish_reason_of(end.reply)))
            .key("stop_sequence")
            .null()
            .end_object()
            .key("usage")
            .begin_object()
            .key("input_tokens")
            .integer(end.reply.input_tokens)
            .key("output_tokens")
            .integer(end.reply.output_tokens)
            .end_object()
            .key("parley");
        write_parley(w, start_, end.reply);
        w.end_object();
        out += "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        return out;
    }

    std::string ping() override { return event("ping", {{"type", "ping"}}); }

    // A whole tool_use block: start (empty input), the arguments as one input_json_delta, stop.
    std::string tool_call(std::string_view id, std::string_view name, std::string_view arguments)
        override {
        std::string out = close();
        index_ = next_index_++;
        out += event(
            "content_block_start",
            {{"type", "content_block_start"},
             {"index", index_},
             {"content_block",
              {{"type", "tool_use"}, {"id", id}, {"name", name}, {"input", bj::object()}}}}
        );
        out += event(
            "content_block_delta",
            {{"type", "content_block_delta"},
             {"index", index_},
             {"delta", {{"type", "input_json_delta"}, {"partial_json", arguments}}}}
        );
        out += event("content_block_stop", {{"type", "content_block_stop"}, {"index", index_}});
        return out;
    }

    // Parley's own event (the SDK ignores event types it does not know): what the tool gave back.
    std::string tool_result(
        std::string_view id, std::string_view name, std::string_view result, bool ok
    ) override {
        return event(
            "tool_result",
            {{"type", "tool_result"},
             {"tool_use_id", id},
             {"name", name},
             {"result", json_or_text(result)},
             {"is_error", !ok}}
        );
    }

    std::string_view content_type() const noexcept override { return kEventStream; }

private:
    enum class Block { none, thinking, text };

    // A content_block_delta event, written straight into `out` (issue 14: the same bytes as
    // event() with its JSON tree, which was most of a delta's cost).
    void block_delta(
        std::string& out, std::string_view type, std::string_view field, std::string_view delta
    ) const {
        out.reserve(out.size() + delta.size() + 112);
        json::Writer w = begin_event(out, "content_block_delta");
        w.begin_object()
            .key("type")
            .string("content_block_delta")
            .key("index")
            .integer(index_)
            .key("delta")
            .begin_object()
            .key("type")
            .string(type)
            .key(field)
            .string(delta)
            .end_object()
            .end_object();
        out += "\n\n";
    }

    // Appends an event's `event:` line and the start of its `data:` line; the caller writes the
    // data's JSON with the writer returned and ends the event with a blank line.
    static json::Writer begin_event(std::string& out, std::string_view name) {
        out += "event: ";
        out += name;
        out += "\ndata: ";
        return json::Writer(out);
    }

    static std::string event(std::string_view name, const bj::object& data) {
        std::string out = "event: ";
        out += name;
        out += "\ndata: ";
        out += bj::serialize(data);
        out += "\n\n";
        return out;
    }

    // Closes the open block, if any.
    std::string close() {
        if (open_ == Block::none) {
            return {};
        }
        open_ = Block::none;
        return event("content_block_stop", {{"type", "content_block_stop"}, {"index", index_}});
    }

    // Makes a block of `kind` the open one: the current block if it already is, else a new one
    // at the next index after closing the current block.
    std::string enter(Block kind) {
        if (open_ == kind) {
            return {};
        }
        std::string out = close();
        index_ = next_index_++;
        open_ = kind;
        bj::object block;
        if (kind == Block::thinking) {
            block = {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}};
        } else {
            had_text_ = true;
            block = {{"type", "text"}, {"text", ""}};
        }
        out += event(
            "content_block_start",
            {{"type", "content_block_start"},
             {"index", index_},
             {"content_block", std::move(block)}}
        );
        return out;
    }

    StreamStart start_;
    Block open_ = Block::none;
    std::int64_t index_ = 0;       // of the open block
    std::int64_t next_index_ = 0;  // of the next block to open
    bool had_text_ = false;
};

// --- OpenAI -------------------------------------------------------------------------------------

class OpenAiEncoder final : public StreamEncoder {
public:
    // `ndjson`: one JSON object per line, no [DONE], and the usage folded into the finish chunk
    // (a line-by-line reader expects choices[0] on every line).
    // `usage_chunk`: the SSE stream ends with the usage chunk (`choices: []`) before [DONE]; the
    // compatible endpoint sends it only when stream_options.include_usage asks, as OpenAI does.
    OpenAiEncoder(bool ndjson, bool usage_chunk) : ndjson_(ndjson), usage_chunk_(usage_chunk) {}

    std::string start(const StreamStart& s) override {
        start_ = s;
        head_.clear();
        json::Writer w(head_);
        w.begin_object()
            .key("id")
            .string("chatcmpl-" + s.message_id)
            .key("object")
            .string("chat.completion.chunk")
            .key("created")
            .integer(s.created_unix)
            .key("model")
            .string(s.model);
        head_ += ',';  // the object is left open: head_ is its first members
        text_ = delta_template("content");
        return chunk(R"({"role":"assistant","content":""})", "null");
    }

    std::string thinking(std::string_view delta) override {
        if (!thinking_) {
            thinking_ = delta_template("reasoning");  // most answers have no thinking
        }
        return thinking_->with(delta, std::exchange(spare_, {}));
    }

    std::string text(std::string_view delta) override {
        return text_.with(delta, std::exchange(spare_, {}));
    }

    void recycle(std::string&& used) override {
        // A delta's size: one large event's buffer is not held for the rest of the stream.
        constexpr std::size_t kMostKept = 1024;
        if (used.capacity() > spare_.capacity() && used.capacity() <= kMostKept) {
            spare_ = std::move(used);
        }
    }

    std::string finish(const StreamEnd& end) override {
        std::string out(line_start());
        if (end.error_type) {
            // The SDK throws on a top-level `error` key; no [DONE], so a raw reader sees the
            // stream end without the sentinel too.
            json::Writer w(out);
            w.begin_object()
                .key("error")
                .begin_object()
                .key("message")
                .string(end.error_message)
                .key("type")
                .string(*end.error_type)
                .key("code")
                .null()
                .end_object()
                .key("parley");
            write_parley(w, start_, end.reply);
            w.end_object();
            out += line_end();
            return out;
        }
        std::string finish_reason;
        json::append_quoted(finish_reason, openai_finish_reason(finish_reason_of(end.reply)));
        if (ndjson_) {
            begin_chunk(out, "{}", finish_reason);
            write_usage_and_parley(out, end);
            out += line_end();
            return out;
        }
        out = chunk("{}", finish_reason);
        if (usage_chunk_) {
            out += line_start();
            out += head_;
            out += R"("choices":[],"usage":)";
            write_usage_and_parley(out, end);
            out += line_end();
        }
        out += "data: [DONE]\n\n";
        return out;
    }

    std::string ping() override { return ndjson_ ? std::string() : std::string(": ping\n\n"); }

    std::string tool_call(std::string_view id, std::string_view name, std::string_view arguments)
        override {
        const bj::object delta{
            {"tool_calls",
             bj::array{bj::object{
                 {"index", tool_index_++},
                 {"id", id},
                 {"type", "function"},
                 {"function", {{"name", name}, {"arguments", arguments}}},
             }}}};
        return chunk(bj::serialize(delta), "null");
    }

    std::string_view content_type() const noexcept override {
        return ndjson_ ? std::string_view("application/x-ndjson") : kEventStream;
    }

private:
    // What comes before and after a JSON document on the wire.
    std::string_view line_start() const noexcept { return ndjson_ ? "" : "data: "; }

    std::string_view line_end() const noexcept { return ndjson_ ? "\n" : "\n\n"; }

    // The chunk object with one choice (`delta` and `finish_reason` as JSON text) up to its
    // `usage` value, which the caller writes and closes. (After line_start(), if the caller
    // wants it.)
    void begin_chunk(std::string& out, std::string_view delta, std::string_view finish_reason)
        const {
        out += head_;
        out += R"("choices":[{"index":0,"delta":)";
        out += delta;
        out += R"(,"logprobs":null,"finish_reason":)";
        out += finish_reason;
        out += R"(}],"usage":)";
    }

    // A whole chat.completion.chunk line with one choice and `usage` null.
    std::string chunk(std::string_view delta, std::string_view finish_reason) const {
        std::string out(line_start());
        out.reserve(head_.size() + delta.size() + 120);
        begin_chunk(out, delta, finish_reason);
        out += "null}";
        out += line_end();
        return out;
    }

    // The final chunk's `usage` value and its `parley` member, closing the chunk.
    void write_usage_and_parley(std::string& out, const StreamEnd& end) const {
        json::Writer w(out);
        w.begin_object()
            .key("prompt_tokens")
            .integer(end.reply.input_tokens)
            .key("completion_tokens")
            .integer(end.reply.output_tokens)
            .key("total_tokens")
            .integer(end.reply.input_tokens + end.reply.output_tokens)
            .end_object();
        out += R"(,"parley":)";
        json::Writer p(out);
        write_parley(p, start_, end.reply);
        out += '}';
    }

    // A chunk whose delta is {"<field>": text}, cut around the text: the same bytes as the chunk
    // written whole, with only the text to add per delta.
    struct DeltaTemplate {
        std::string head;  // up to and including `{"<field>":`
        std::string tail;  // from the `}` closing the delta

        // The chunk for `text`, written into `out` (cleared first; its capacity reused).
        std::string with(std::string_view text, std::string out = {}) const {
            out.clear();
            // Room for the quotes and escapes, and for the `id: <n>` line a resumable stream
            // puts in front (EventNumberer::number_in_place; without it, a second allocation).
            out.reserve(head.size() + text.size() + tail.size() + 8 + EventNumberer::kMaxIdLine);
            out.append(head);
            json::append_quoted(out, text);
            out.append(tail);
            return out;
        }
    };

    DeltaTemplate delta_template(std::string_view field) const {
        // The chunk with a delta of {"<field>":""}, cut at that empty string.
        std::string delta = "{";
        json::append_quoted(delta, field);
        delta += R"(:""})";
        const std::string whole = chunk(delta, "null");
        // Found past the chunk's head (whose strings cannot hold it unescaped): the first one.
        const std::size_t at = whole.find(delta, line_start().size() + head_.size());
        const std::size_t cut = at + delta.size() - 3;  // before `""}`
        DeltaTemplate t;
        t.head = whole.substr(0, cut);
        t.tail = whole.substr(cut + 2);
        return t;
    }

    StreamStart start_;
    // The chunk object's first members and a comma: `{"id":…,"object":…,"created":…,"model":…,`
    std::string head_;
    DeltaTemplate text_;
    std::optional<DeltaTemplate> thinking_;
    std::string spare_;  // a delta's string given back (recycle), for the next delta
    bool ndjson_;
    bool usage_chunk_;
    std::int64_t tool_index_ = 0;
};

// --- plain text ---------------------------------------------------------------------------------

class TextEncoder final : public StreamEncoder {
public:
    std::string start(const StreamStart& /*s*/) override { return {}; }

    std::string thinking(std::string_view /*delta*/) override { return {}; }

    std::string text(std::string_view delta) override { return std::string(delta); }

    // Plain text has no way to say more: a failure ends the text where it stopped (the partial
    // answer is stored all the same).
    std::string finish(const StreamEnd& /*end*/) override { return {}; }

    std::string ping() override { return {}; }

    std::string_view content_type() const noexcept override { return "text/plain; charset=utf-8"; }
};

// --- WebSocket ----------------------------------------------------------------------------------

class WebSocketEncoder final : public StreamEncoder {
public:
    std::string start(const StreamStart& /*s*/) override { return {}; }

    std::string thinking(std::string_view delta) override {
        return bj::serialize(bj::object{{"type", "thinking"}, {"content", delta}});
    }

    std::string text(std::string_view delta) override {
        return bj::serialize(bj::object{{"type", "token"}, {"content", delta}});
    }

    std::string finish(const StreamEnd& end) override {
        if (end.error_type) {
            bj::object frame{
                {"type", "error"},
                {"content", end.error_message},
                {"error_type", *end.error_type},
            };
            if (!end.reply.id.empty()) {
                frame["message"] = conversations::message_json(end.reply);
            }
            return bj::serialize(frame);
        }
        bj::object frame{{"type", "done"}};
        for (auto& field : conversations::message_json(end.reply)) {
            frame.emplace(field.key(), std::move(field.value()));
        }
        frame["message_id"] = end.reply.id;
        return bj::serialize(frame);
    }

    std::string ping() override { return {}; }

    // Seed 004's frames: the arguments and the result as JSON objects, sent once complete.
    std::string tool_call(std::string_view id, std::string_view name, std::string_view arguments)
        override {
        return bj::serialize(bj::object{
            {"type", "tool_call"},
            {"tool", name},
            {"arguments", json_or_text(arguments)},
            {"id", id}});
    }

    std::string tool_result(
        std::string_view id, std::string_view name, std::string_view result, bool ok
    ) override {
        return bj::serialize(bj::object{
            {"type", "tool_result"},
            {"tool", name},
            {"result", json_or_text(result)},
            {"ok", ok},
            {"id", id}});
    }

    std::string_view content_type() const noexcept override { return {}; }
};

}  // namespace

std::unique_ptr<StreamEncoder> make_anthropic_encoder() {
    return std::make_unique<AnthropicEncoder>();
}

std::unique_ptr<StreamEncoder> make_openai_encoder(bool usage_chunk) {
    return std::make_unique<OpenAiEncoder>(false, usage_chunk);
}

std::unique_ptr<StreamEncoder> make_openai_ndjson_encoder() {
    return std::make_unique<OpenAiEncoder>(true, true);
}

std::unique_ptr<StreamEncoder> make_text_encoder() {
    return std::make_unique<TextEncoder>();
}

std::unique_ptr<StreamEncoder> make_websocket_encoder() {
    return std::make_unique<WebSocketEncoder>();
}

std::string_view anthropic_stop_reason(std::string_view finish_reason) noexcept {
    if (finish_reason == "length") {
        return "max_tokens";
    }
    if (finish_reason == "tool_use") {
        return "tool_use";
    }
    if (finish_reason == "content_filter") {
        return "refusal";
    }
    return "end_turn";
}

std::string_view openai_finish_reason(std::string_view finish_reason) noexcept {
    if (finish_reason == "length") {
        return "length";
    }
    if (finish_reason == "tool_use") {
        return "tool_calls";
    }
    if (finish_reason == "content_filter") {
        return "content_filter";
    }
    return "stop";
}

}  // namespace parley::messages
