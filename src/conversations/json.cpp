#include "conversations/json.hpp"

#include "common/json.hpp"

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
    auto v = json::parse(text, 64);
    if (v && v->is_object()) {
        return bj::object(std::move(v->as_object()), sp);
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
    auto o = message_json(p.message, sp);
    o["sibling_count"] = p.sibling_count;
    o["sibling_index"] = p.sibling_index;
    return o;
}

}  // namespace parley::conversations
