#include "conversations/json.hpp"

#include <array>

#include <boost/json/monotonic_resource.hpp>

#include "common/json.hpp"
#include "common/json_writer.hpp"

namespace parley::conversations {

namespace bj = boost::json;

namespace {

bj::value text_or_null(const std::optional<std::string>& s, const bj::storage_ptr& sp) {
    return s ? bj::value(*s, sp) : bj::value(nullptr, sp);
}

bj::object object_or_empty(std::string_view text, const bj::storage_ptr& sp) {
    if (text == "{}") {
        return bj::object(sp);  // what most rows store: no parser to set up (issue 14)
    }
    auto v = json::parse(text, 64, json::DuplicateKeys::keep_last, sp);
    if (v && v->is_object()) {
        return std::move(v->as_object());
    }
    return bj::object(sp);
}

}  // namespace

double to_usd(std::int64_t micros) noexcept {
    return static_cast<double>(micros) / 1'000'000.0;
}

bj::object conversation_json(const store::Conversation& c, const bj::storage_ptr& sp) {
    return bj::object(
        {
            {"id", c.id},
            {"user_id", c.user_id},
            {"title", text_or_null(c.title, sp)},
            {"model", c.model},
            {"system_prompt", text_or_null(c.system_prompt, sp)},
            {"metadata", object_or_empty(c.metadata, sp)},
            {"settings", object_or_empty(c.settings, sp)},
            {"is_archived", c.is_archived},
            {"is_pinned", c.is_pinned},
            {"summary", text_or_null(c.summary, sp)},
            {"summary_updated_at", json::time_or_null(c.summary_updated_at)},
            {"created_at", to_iso8601(c.created_at)},
            {"updated_at", to_iso8601(c.updated_at)},
            {"active_leaf_id", text_or_null(c.active_leaf_id, sp)},
        },
        sp
    );
}

bj::object message_json(const store::Message& m, const bj::storage_ptr& sp) {
    bj::object metadata = object_or_empty(m.metadata, sp);
    metadata["input_tokens"] = m.input_tokens;
    metadata["output_tokens"] = m.output_tokens;
    metadata["cost_usd"] = to_usd(m.cost_micros);
    return bj::object(
        {
            {"id", m.id},
            {"conversation_id", m.conversation_id},
            {"parent_id", text_or_null(m.parent_id, sp)},
            {"role", m.role},
            {"content", m.content},
            {"thinking", text_or_null(m.thinking, sp)},
            {"model", text_or_null(m.model, sp)},
            {"provider", text_or_null(m.provider, sp)},
            {"finish_reason", text_or_null(m.finish_reason, sp)},
            {"latency_ms", m.latency_ms ? bj::value(*m.latency_ms) : bj::value(nullptr)},
            {"token_count", m.token_count},
            {"status", m.status},
            {"created_at", to_iso8601(m.created_at)},
            {"metadata", std::move(metadata)},
        },
        sp
    );
}

bj::object path_message_json(const store::PathMessage& p, const bj::storage_ptr& sp) {
    auto o = message_json(*p.message, sp);
    o["sibling_count"] = p.sibling_count;
    o["sibling_index"] = p.sibling_index;
    return o;
}

namespace {

// A stored JSON object as object_or_empty shows it: `{}` as it is, anything else parsed and
// serialised again (what the tree did), so the bytes stay the same.
void write_object_or_empty(json::Writer& w, std::string_view text) {
    if (text == "{}") {
        w.begin_object().end_object();
        return;
    }
    w.value(bj::value(object_or_empty(text, {})));
}

void write_message_fields(json::Writer& w, const store::Message& m) {
    w.key("id").string(m.id);
    w.key("conversation_id").string(m.conversation_id);
    w.key("parent_id").string_or_null(m.parent_id);
    w.key("role").string(m.role);
    w.key("content").string(m.content);
    w.key("thinking").string_or_null(m.thinking);
    w.key("model").string_or_null(m.model);
    w.key("provider").string_or_null(m.provider);
    w.key("finish_reason").string_or_null(m.finish_reason);
    w.key("latency_ms").integer_or_null(m.latency_ms);
    w.key("token_count").integer(m.token_count);
    w.key("status").string(m.status);
    w.key("created_at");
    w.timestamp(m.created_at);
    w.key("metadata");
    if (m.metadata == "{}") {
        w.begin_object();
        w.key("input_tokens").integer(m.input_tokens);
        w.key("output_tokens").integer(m.output_tokens);
        w.key("cost_usd").number(to_usd(m.cost_micros));
        w.end_object();
    } else {
        // Keys already stored keep their place and take the row's figures, as in message_json.
        // Parsed into a scratch buffer on the stack: written and dropped at once (issue 14).
        std::array<unsigned char, 2048> scratch_buffer;
        bj::monotonic_resource scratch(scratch_buffer.data(), scratch_buffer.size());
        bj::object metadata = object_or_empty(m.metadata, &scratch);
        metadata["input_tokens"] = m.input_tokens;
        metadata["output_tokens"] = m.output_tokens;
        metadata["cost_usd"] = to_usd(m.cost_micros);
        w.value(bj::value(std::move(metadata)));
    }
}

void write_conversation_fields(json::Writer& w, const store::Conversation& c) {
    w.key("id").string(c.id);
    w.key("user_id").string(c.user_id);
    w.key("title").string_or_null(c.title);
    w.key("model").string(c.model);
    w.key("system_prompt").string_or_null(c.system_prompt);
    w.key("metadata");
    write_object_or_empty(w, c.metadata);
    w.key("settings");
    write_object_or_empty(w, c.settings);
    w.key("is_archived").boolean(c.is_archived);
    w.key("is_pinned").boolean(c.is_pinned);
    w.key("summary").string_or_null(c.summary);
    w.key("summary_updated_at");
    if (c.summary_updated_at) {
        w.timestamp(*c.summary_updated_at);
    } else {
        w.null();
    }
    w.key("created_at");
    w.timestamp(c.created_at);
    w.key("updated_at");
    w.timestamp(c.updated_at);
    w.key("active_leaf_id").string_or_null(c.active_leaf_id);
}

}  // namespace

void write_conversation(json::Writer& w, const store::Conversation& c) {
    w.begin_object();
    write_conversation_fields(w, c);
    w.end_object();
}

void write_conversation_with_messages(
    json::Writer& w, const store::Conversation& c, const std::vector<store::PathMessage>& messages
) {
    w.begin_object();
    write_conversation_fields(w, c);
    w.key("messages").begin_array();
    for (const auto& m : messages) {
        write_path_message(w, m);
    }
    w.end_array();
    w.end_object();
}

void write_message(json::Writer& w, const store::Message& m) {
    w.begin_object();
    write_message_fields(w, m);
    w.end_object();
}

void write_path_message(json::Writer& w, const store::PathMessage& p) {
    w.begin_object();
    write_message_fields(w, *p.message);
    w.key("sibling_count").integer(p.sibling_count);
    w.key("sibling_index").integer(p.sibling_index);
    w.end_object();
}

}  // namespace parley::conversations
