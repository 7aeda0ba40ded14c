#include "conversations/requests.hpp"

#include <algorithm>

#include <boost/json/serialize.hpp>

#include "common/json.hpp"

namespace parley::conversations {

namespace bj = boost::json;

namespace {

constexpr std::size_t kMaxTitle = 200;
constexpr std::size_t kMaxSystemPrompt = 100'000;
constexpr std::size_t kMaxMetadataBytes = 16 * 1024;

std::optional<std::string> bounded_text(
    const bj::object& o, std::string_view key, std::size_t max
) {
    auto v = value_or_throw(json::optional_string(o, key));
    if (v && v->size() > max) {
        unprocessable(
            "`" + std::string(key) + "` is longer than " + std::to_string(max) + " characters"
        );
    }
    return v;
}

std::optional<std::string> metadata_of(const bj::object& o) {
    const auto* v = o.if_contains("metadata");
    if (v == nullptr || v->is_null()) {
        return std::nullopt;
    }
    if (!v->is_object()) {
        unprocessable("`metadata` must be an object");
    }
    auto text = bj::serialize(*v);
    if (text.size() > kMaxMetadataBytes) {
        unprocessable("`metadata` is larger than 16 KiB");
    }
    return text;
}

// `tools`: the names of the tools the conversation offers its model (null: none).
std::optional<std::vector<std::string>> tools_of(const bj::object& o) {
    const auto* v = o.if_contains("tools");
    if (v == nullptr || v->is_null()) {
        return std::nullopt;
    }
    if (!v->is_array() || v->as_array().size() > 16) {
        unprocessable("`tools` must be an array of at most 16 tool names");
    }
    std::vector<std::string> names;
    for (const auto& n : v->as_array()) {
        if (!n.is_string() || n.as_string().empty() || n.as_string().size() > 64) {
            unprocessable("`tools` must be an array of tool names");
        }
        std::string name(n.as_string());
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            names.push_back(std::move(name));
        }
    }
    return names;
}

}  // namespace

void unprocessable(std::string message) {
    throw ErrorException(make_error(ErrorType::unprocessable, std::move(message)));
}

NewConversation new_conversation_of(const bj::object& body) {
    value_or_throw(json::reject_unknown_fields(
        body,
        {"title",
         "model",
         "system_prompt",
         "metadata",
         "temperature",
         "max_tokens",
         "thinking",
         "tools",
         "routing"}
    ));
    NewConversation spec;
    spec.title = bounded_text(body, "title", kMaxTitle);
    spec.model = value_or_throw(json::optional_string(body, "model"));
    spec.system_prompt = bounded_text(body, "system_prompt", kMaxSystemPrompt);
    spec.metadata = metadata_of(body).value_or("{}");
    spec.settings.temperature = value_or_throw(json::optional_number(body, "temperature"));
    spec.settings.max_tokens = value_or_throw(json::optional_int(body, "max_tokens"));
    spec.settings.thinking = value_or_throw(json::optional_bool(body, "thinking"));
    spec.settings.tools = tools_of(body);
    spec.settings.routing = value_or_throw(json::optional_bool(body, "routing"));
    return spec;
}

ConversationPatch conversation_patch_of(const bj::object& body) {
    // Read-only fields (id, settings, created_at, …) are unknown here too.
    value_or_throw(json::reject_unknown_fields(
        body,
        {"title",
         "system_prompt",
         "model",
         "metadata",
         "is_archived",
         "is_pinned",
         "tools",
         "routing",
         "active_leaf"}
    ));
    ConversationPatch patch;
    for (const auto& [key, value] : body) {
        const std::string_view k = key;
        if (k == "title") {
            if (!value.is_null() && !value.is_string()) {
                unprocessable("`title` must be a string or null");
            }
            patch.title = bounded_text(body, "title", kMaxTitle);
        } else if (k == "system_prompt") {
            if (!value.is_null() && !value.is_string()) {
                unprocessable("`system_prompt` must be a string or null");
            }
            patch.system_prompt = bounded_text(body, "system_prompt", kMaxSystemPrompt);
        } else if (k == "model") {
            patch.model = value_or_throw(json::required_string(body, "model"));
        } else if (k == "metadata") {
            patch.metadata = metadata_of(body).value_or("{}");
        } else if (k == "is_archived") {
            patch.is_archived = value_or_throw(json::optional_bool(body, "is_archived"));
        } else if (k == "is_pinned") {
            patch.is_pinned = value_or_throw(json::optional_bool(body, "is_pinned"));
        } else if (k == "active_leaf") {
            patch.active_leaf = value_or_throw(json::required_string(body, "active_leaf"));
        } else if (k == "tools") {
            patch.tools = tools_of(body).value_or(std::vector<std::string>{});
        } else if (k == "routing") {
            patch.routing = value_or_throw(json::optional_bool(body, "routing"));
        }
    }
    return patch;
}

}  // namespace parley::conversations
