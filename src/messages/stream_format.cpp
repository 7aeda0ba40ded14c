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

namespace parley::messages {

namespace bj = boost::json;

namespace {

constexpr std::string_view kEventStream = "text/event-stream; charset=utf-8";

bj::value text_or_null(const std::optional<std::string>& s) {
    return s ? bj::value(*s) : bj::value(nullptr);
}

// A JSON document's text as a value; text that is not JSON stays a string.
bj::value json_or_text(std::string_view text) {
    boost::system::error_code ec;
    auto v = bj::parse(text, ec);
    if (ec) {
        return bj::value(bj::string(text));
    }
    return v;
}

bj::value int_or_null(const std::optional<std::int64_t>& n) {
    return n ? bj::value(*n) : bj::value(nullptr);
}

// Parley's own account of the answer, carried next to the provider-shaped fields of the final
// event (Anthropic message_delta / error, OpenAI usage chunk / error). The ids come from the
// start, so they are right even when the reply could not be stored.
bj::object parley_json(const StreamStart& s, const store::Message& reply) {
    return {
        {"message_id", s.message_id},
        {"conversation_id", s.conversation_id},
        {"user_message_id", s.user_message_id},
        {"status", reply.status},
        {"model", text_or_null(reply.model)},
        {"provider", text_or_null(reply.provider)},
        {"cost_usd", conversations::to_usd(reply.cost_micros)},
        {"latency_ms", int_or_null(reply.latency_ms)},
        {"ttft_ms", int_or_null(reply.ttft_ms)},
        {"input_tokens", reply.input_tokens},
        {"output_tokens", reply.output_tokens},
    };
}

std::string_view finish_reason_of(const store::Message& reply) {
    return reply.finish_reason ? std::string_view(*reply.finish_reason) : std::string_view();
}

// --- Anthropic ----------------------------------------------------------------------------------

class AnthropicEncoder final : public StreamEncoder {
public:
    std::string start(const StreamStart& s) override {
        start_ = s;
        bj::object message{
            {"id", s.message_id},
            {"type", "message"},
            {"role", "assistant"},
            {"content", bj::array()},
            {"model", s.model},
            {"stop_reason", nullptr},
            {"stop_sequence", nullptr},
            {"usage", {{"input_tokens", s.input_tokens}, {"output_tokens", 0}}},
            {"parley",
             {{"conversation_id", s.conversation_id},
              {"user_message_id", s.user_message_id},
              {"message_id", s.message_id}}},
        };
        return event("message_start", {{"type", "message_start"}, {"message", std::move(message)}});
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
        if (end.error_type) {
            // The SDK throws on `event: error`; anything after it would never be read, and a
            // block closed here would pretend the answer was whole.
            return event(
                "error",
                {{"type", "error"},
                 {"error", {{"type", *end.error_type}, {"message", end.error_message}}},
                 {"parley", parley_json(start_, end.reply)}}
            );
        }
        std::string out;
        if (!had_text_) {
            // finalText() needs a text block, even an empty one.
            out += enter(Block::text);
        }
        out += close();
        out += event(
            "message_delta",
            {{"type", "message_delta"},
             {"delta",
              {{"stop_reason", anthropic_stop_reason(finish_reason_of(end.reply))},
               {"stop_sequence", nullptr}}},
             {"usage",
              {{"input_tokens", end.reply.input_tokens},
               {"output_tokens", end.reply.output_tokens}}},
             {"parley", parley_json(start_, end.reply)}}
        );
        out += event("message_stop", {{"type", "message_stop"}});
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
        out += "event: content_block_delta\ndata: ";
        json::Writer w(out);
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
        text_ = delta_template("content");
        return chunk_with_delta({{"role", "assistant"}, {"content", ""}}, nullptr);
    }

    std::string thinking(std::string_view delta) override {
        if (!thinking_) {
            thinking_ = delta_template("reasoning");  // most answers have no thinking
        }
        return thinking_->with(delta);
    }

    std::string text(std::string_view delta) override { return text_.with(delta); }

    std::string finish(const StreamEnd& end) override {
        if (end.error_type) {
            // The SDK throws on a top-level `error` key; no [DONE], so a raw reader sees the
            // stream end without the sentinel too.
            return data(
                {{"error",
                  {{"message", end.error_message}, {"type", *end.error_type}, {"code", nullptr}}},
                 {"parley", parley_json(start_, end.reply)}}
            );
        }
        const auto usage = bj::object{
            {"prompt_tokens", end.reply.input_tokens},
            {"completion_tokens", end.reply.output_tokens},
            {"total_tokens", end.reply.input_tokens + end.reply.output_tokens},
        };
        if (ndjson_) {
            bj::object last =
                chunk(bj::object(), bj::string(openai_finish_reason(finish_reason_of(end.reply))));
            last["usage"] = usage;
            last["parley"] = parley_json(start_, end.reply);
            return data(last);
        }
        std::string out = chunk_with_delta(
            bj::object(), bj::string(openai_finish_reason(finish_reason_of(end.reply)))
        );
        if (!usage_chunk_) {
            out += "data: [DONE]\n\n";
            return out;
        }
        bj::object usage_chunk = chunk_head();
        usage_chunk["choices"] = bj::array();
        usage_chunk["usage"] = usage;
        usage_chunk["parley"] = parley_json(start_, end.reply);
        out += data(usage_chunk);
        out += "data: [DONE]\n\n";
        return out;
    }

    std::string ping() override { return ndjson_ ? std::string() : std::string(": ping\n\n"); }

    std::string tool_call(std::string_view id, std::string_view name, std::string_view arguments)
        override {
        return chunk_with_delta(
            {{"tool_calls",
              bj::array{bj::object{
                  {"index", tool_index_++},
                  {"id", id},
                  {"type", "function"},
                  {"function", {{"name", name}, {"arguments", arguments}}},
              }}}},
            nullptr
        );
    }

    std::string_view content_type() const noexcept override {
        return ndjson_ ? std::string_view("application/x-ndjson") : kEventStream;
    }

private:
    std::string data(const bj::object& o) const {
        if (ndjson_) {
            std::string out = bj::serialize(o);
            out += '\n';
            return out;
        }
        std::string out = "data: ";
        out += bj::serialize(o);
        out += "\n\n";
        return out;
    }

    bj::object chunk_head() const {
        return {
            {"id", "chatcmpl-" + start_.message_id},
            {"object", "chat.completion.chunk"},
            {"created", start_.created_unix},
            {"model", start_.model},
        };
    }

    bj::object chunk(bj::object delta, bj::value finish_reason) const {
        bj::object out = chunk_head();
        out["choices"] = bj::array{bj::object{
            {"index", 0},
            {"delta", std::move(delta)},
            {"logprobs", nullptr},
            {"finish_reason", std::move(finish_reason)},
        }};
        out["usage"] = nullptr;
        return out;
    }

    std::string chunk_with_delta(bj::object delta, bj::value finish_reason) const {
        return data(chunk(std::move(delta), std::move(finish_reason)));
    }

    // A chunk whose delta is {"<field>": text}, cut around the text: the same bytes as building
    // and serialising the chunk, without the JSON tree (which was most of a delta's cost).
    struct DeltaTemplate {
        std::string head;  // up to and including `{"<field>":`
        std::string tail;  // from the `}` closing the delta

        std::string with(std::string_view text) const {
            std::string out;
            out.reserve(head.size() + text.size() + tail.size() + 8);
            out.append(head);
            json::append_quoted(out, text);
            out.append(tail);
            return out;
        }
    };

    // Serialises the chunk once with an empty string and splits it there. (The marker cannot
    // occur earlier: quotes inside the id or model are escaped.)
    DeltaTemplate delta_template(std::string_view field) const {
        const std::string whole = chunk_with_delta({{field, ""}}, nullptr);
        const std::string marker = "{\"" + std::string(field) + "\":\"\"}";
        const auto at = whole.find(marker);
        return {whole.substr(0, at + marker.size() - 3), whole.substr(at + marker.size() - 1)};
    }

    StreamStart start_;
    DeltaTemplate text_;
    std::optional<DeltaTemplate> thinking_;
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
