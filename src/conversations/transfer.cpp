#include "conversations/transfer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <optional>
#include <unordered_map>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "common/json.hpp"
#include "common/strings.hpp"

namespace parley::conversations {

namespace bj = boost::json;

namespace {

constexpr std::string_view kFormat = "parley.conversation";
constexpr std::size_t kMaxJsonFieldBytes = 16 * 1024;  // settings, metadata

bj::value text_or_null(const std::optional<std::string>& s) {
    return s ? bj::value(*s) : bj::value(nullptr);
}

Error invalid(const std::string& where, const std::string& what) {
    return make_error(ErrorType::unprocessable, "import: " + where + ": " + what);
}

// One message read from a file, before it gets its place in a conversation.
struct Node {
    std::string old_id;
    std::optional<std::string> old_parent;
    bool keep = true;  // false: a ChatGPT node left out (its children move up)
    store::Message message;
};

// The conversation's rows from its nodes: new ids, parents first (breadth first from the
// roots), left-out nodes skipped with their children attached to the nearest message kept, the
// active leaf the nearest kept message at or above `active` (else the newest message). Errors:
// a repeated id, an unknown parent, a cycle, too many messages.
Result<store::ConversationTree> build_tree(
    const std::string& where,
    store::Conversation conversation,
    std::vector<Node> nodes,
    const std::optional<std::string>& active,
    const ImportLimits& limits,
    const ImportContext& ctx
) {
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!index.emplace(nodes[i].old_id, i).second) {
            return invalid(where, "the message id " + nodes[i].old_id + " appears twice");
        }
    }
    std::vector<std::vector<std::size_t>> children(nodes.size());
    std::deque<std::size_t> queue;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!nodes[i].old_parent) {
            queue.push_back(i);
            continue;
        }
        const auto it = index.find(*nodes[i].old_parent);
        if (it == index.end()) {
            return invalid(where, "the parent " + *nodes[i].old_parent + " is not in the file");
        }
        children[it->second].push_back(i);
    }
    // Breadth first from the roots: parents come first, and a node never reached is on a cycle.
    std::vector<std::optional<std::string>> new_id(nodes.size());  // the kept message standing in
    std::vector<bool> seen(nodes.size(), false);
    std::vector<store::Message> messages;
    std::size_t visited = 0;
    while (!queue.empty()) {
        const std::size_t i = queue.front();
        queue.pop_front();
        seen[i] = true;
        ++visited;
        std::optional<std::string> above;
        if (nodes[i].old_parent) {
            above = new_id[index.at(*nodes[i].old_parent)];
        }
        if (nodes[i].keep) {
            store::Message m = std::move(nodes[i].message);
            m.id = ctx.new_id();
            m.conversation_id = conversation.id;
            m.parent_id = above;
            new_id[i] = m.id;
            messages.push_back(std::move(m));
            if (messages.size() > limits.max_messages) {
                return invalid(
                    where,
                    "more than " + std::to_string(limits.max_messages) +
                        " messages in one conversation"
                );
            }
        } else {
            new_id[i] = above;
        }
        for (const std::size_t child : children[i]) {
            queue.push_back(child);
        }
    }
    if (visited != nodes.size()) {
        return invalid(where, "the messages' parents form a cycle");
    }
    if (active) {
        const auto it = index.find(*active);
        if (it == index.end()) {
            return invalid(where, "the current message " + *active + " is not in the file");
        }
        conversation.active_leaf_id = new_id[it->second];
    }
    if (!conversation.active_leaf_id && !messages.empty()) {
        const auto newest = std::max_element(
            messages.begin(),
            messages.end(),
            [](const store::Message& a, const store::Message& b) {
                return a.created_at < b.created_at;
            }
        );
        conversation.active_leaf_id = newest->id;
    }
    if (!messages.empty()) {
        conversation.updated_at = std::max(
            conversation.updated_at,
            std::max_element(
                messages.begin(),
                messages.end(),
                [](const store::Message& a, const store::Message& b) {
                    return a.created_at < b.created_at;
                }
            )->created_at
        );
    }
    return store::ConversationTree{std::move(conversation), std::move(messages)};
}

// A new conversation of the importing user, before its fields are read.
store::Conversation fresh_conversation(const ImportContext& ctx) {
    store::Conversation c;
    c.id = ctx.new_id();
    c.user_id = ctx.user_id;
    c.model = ctx.default_model;
    c.created_at = ctx.now;
    c.updated_at = ctx.now;
    return c;
}

// Optional string field: absent or null → nullopt; another type is an error.
Result<std::optional<std::string>> optional_text(
    const bj::object& o, std::string_view key, const std::string& where
) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::optional<std::string>{};
    }
    if (!v->is_string()) {
        return invalid(where, "`" + std::string(key) + "` must be a string or null");
    }
    return std::optional<std::string>{std::string(v->as_string())};
}

Result<void> check_text(
    const std::string& text, std::size_t max, const std::string& where, std::string_view what
) {
    if (utf8_length(text) > max) {
        return invalid(
            where, std::string(what) + " is longer than " + std::to_string(max) + " characters"
        );
    }
    return {};
}

Result<TimePoint> required_time(
    const bj::object& o, std::string_view key, const std::string& where
) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) {
        return invalid(where, "`" + std::string(key) + "` must be an ISO 8601 time");
    }
    auto t = parse_iso8601(v->as_string());
    if (!t) {
        return invalid(where, "`" + std::string(key) + "` must be an ISO 8601 time");
    }
    return *t;
}

// An object field kept as JSON text (settings, metadata): absent → "{}".
Result<std::string> object_text(
    const bj::object& o, std::string_view key, const std::string& where
) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::string("{}");
    }
    if (!v->is_object()) {
        return invalid(where, "`" + std::string(key) + "` must be an object");
    }
    auto text = bj::serialize(*v);
    if (text.size() > kMaxJsonFieldBytes) {
        return invalid(where, "`" + std::string(key) + "` is larger than 16 KiB");
    }
    return text;
}

std::optional<std::int64_t> optional_count(const bj::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v != nullptr && v->is_int64() && v->as_int64() >= 0) {
        return v->as_int64();
    }
    return std::nullopt;
}

// Parley's own export.
Result<store::ConversationTree> parse_parley(
    const bj::object& doc, const ImportLimits& limits, const ImportContext& ctx
) {
    const std::string where = "conversation";
    const auto* version = doc.if_contains("version");
    if (version == nullptr || !version->is_int64() || version->as_int64() != 1) {
        return invalid(where, "`version` must be 1");
    }
    const auto* conv = doc.if_contains("conversation");
    const auto* list = doc.if_contains("messages");
    if (conv == nullptr || !conv->is_object() || list == nullptr || !list->is_array()) {
        return invalid(where, "`conversation` (an object) and `messages` (an array) are required");
    }
    const auto& co = conv->as_object();
    store::Conversation c = fresh_conversation(ctx);
    auto title = optional_text(co, "title", where);
    auto system_prompt = optional_text(co, "system_prompt", where);
    auto model = optional_text(co, "model", where);
    auto settings = object_text(co, "settings", where);
    auto metadata = object_text(co, "metadata", where);
    auto active = optional_text(co, "active_leaf_id", where);
    if (!title) {
        return title.error();
    }
    if (!system_prompt) {
        return system_prompt.error();
    }
    if (!model) {
        return model.error();
    }
    if (!settings) {
        return settings.error();
    }
    if (!metadata) {
        return metadata.error();
    }
    if (!active) {
        return active.error();
    }
    if (*title) {
        if (auto ok = check_text(**title, limits.max_title_chars, where, "`title`"); !ok) {
            return ok.error();
        }
    }
    if (*system_prompt) {
        if (auto ok =
                check_text(**system_prompt, limits.max_content_chars, where, "`system_prompt`");
            !ok) {
            return ok.error();
        }
    }
    c.title = std::move(*title);
    c.system_prompt = std::move(*system_prompt);
    if (*model && ctx.known_model(**model)) {
        c.model = std::move(**model);
    }
    c.settings = std::move(*settings);
    c.metadata = std::move(*metadata);
    if (co.contains("created_at")) {
        auto created = required_time(co, "created_at", where);
        if (!created) {
            return created.error();
        }
        c.created_at = *created;
        c.updated_at = *created;
    }
    std::vector<Node> nodes;
    for (std::size_t i = 0; i < list->as_array().size(); ++i) {
        const std::string at = "messages[" + std::to_string(i) + "]";
        const auto& v = list->as_array()[i];
        if (!v.is_object()) {
            return invalid(at, "must be an object");
        }
        const auto& o = v.as_object();
        Node n;
        const auto* id = o.if_contains("id");
        if (id == nullptr || !id->is_string() || id->as_string().empty()) {
            return invalid(at, "`id` must be a non-empty string");
        }
        n.old_id = std::string(id->as_string());
        auto parent = optional_text(o, "parent_id", at);
        auto thinking = optional_text(o, "thinking", at);
        auto msg_model = optional_text(o, "model", at);
        auto provider = optional_text(o, "provider", at);
        auto finish = optional_text(o, "finish_reason", at);
        auto meta = object_text(o, "metadata", at);
        auto created = required_time(o, "created_at", at);
        if (!parent) {
            return parent.error();
        }
        if (!thinking) {
            return thinking.error();
        }
        if (!msg_model) {
            return msg_model.error();
        }
        if (!provider) {
            return provider.error();
        }
        if (!finish) {
            return finish.error();
        }
        if (!meta) {
            return meta.error();
        }
        if (!created) {
            return created.error();
        }
        const auto* role = o.if_contains("role");
        if (role == nullptr || !role->is_string() ||
            (role->as_string() != "user" && role->as_string() != "assistant")) {
            return invalid(at, "`role` must be \"user\" or \"assistant\"");
        }
        const auto* content = o.if_contains("content");
        if (content == nullptr || !content->is_string()) {
            return invalid(at, "`content` must be a string");
        }
        n.message.content = std::string(content->as_string());
        if (auto ok = check_text(n.message.content, limits.max_content_chars, at, "`content`");
            !ok) {
            return ok.error();
        }
        std::string status = "complete";
        if (const auto* s = o.if_contains("status"); s != nullptr && !s->is_null()) {
            if (!s->is_string() || (s->as_string() != "complete" && s->as_string() != "partial" &&
                                    s->as_string() != "error")) {
                return invalid(at, "`status` must be complete, partial or error");
            }
            status = std::string(s->as_string());
        }
        n.old_parent = std::move(*parent);
        n.message.role = std::string(role->as_string());
        n.message.thinking = std::move(*thinking);
        n.message.status = std::move(status);
        n.message.model = std::move(*msg_model);
        n.message.provider = std::move(*provider);
        n.message.finish_reason = std::move(*finish);
        n.message.metadata = std::move(*meta);
        n.message.created_at = *created;
        n.message.token_count = optional_count(o, "token_count").value_or(0);
        n.message.input_tokens = optional_count(o, "input_tokens").value_or(0);
        n.message.output_tokens = optional_count(o, "output_tokens").value_or(0);
        nodes.push_back(std::move(n));
        if (nodes.size() > limits.max_messages) {
            return invalid(where, "more than " + std::to_string(limits.max_messages) + " messages");
        }
    }
    return build_tree(where, std::move(c), std::move(nodes), *active, limits, ctx);
}

// A Unix time in seconds (ChatGPT's create_time), when it is a sane number.
std::optional<TimePoint> unix_time(const bj::value* v) {
    if (v == nullptr || !v->is_number()) {
        return std::nullopt;
    }
    const double seconds = v->to_number<double>();
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 32'503'680'000.0) {  // year 3000
        return std::nullopt;
    }
    return TimePoint{} + std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

// One conversation of a ChatGPT export (`mapping`: node id → {message, parent, children}).
Result<store::ConversationTree> parse_chatgpt(
    const bj::object& conv,
    const std::string& where,
    const ImportLimits& limits,
    const ImportContext& ctx
) {
    const auto* mapping = conv.if_contains("mapping");
    if (mapping == nullptr || !mapping->is_object()) {
        return invalid(where, "`mapping` must be an object");
    }
    if (mapping->as_object().size() > limits.max_messages) {
        return invalid(where, "more than " + std::to_string(limits.max_messages) + " messages");
    }
    store::Conversation c = fresh_conversation(ctx);
    auto title = optional_text(conv, "title", where);
    if (!title) {
        return title.error();
    }
    if (*title) {
        if (auto ok = check_text(**title, limits.max_title_chars, where, "`title`"); !ok) {
            return ok.error();
        }
    }
    c.title = std::move(*title);
    if (auto t = unix_time(conv.if_contains("create_time"))) {
        c.created_at = *t;
        c.updated_at = *t;
    }
    auto current = optional_text(conv, "current_node", where);
    if (!current) {
        return current.error();
    }
    std::vector<Node> nodes;
    for (const auto& [key, value] : mapping->as_object()) {
        const std::string at = where + ".mapping." + std::string(key);
        if (!value.is_object()) {
            return invalid(at, "must be an object");
        }
        const auto& o = value.as_object();
        Node n;
        n.old_id = std::string(key);
        auto parent = optional_text(o, "parent", at);
        if (!parent) {
            return parent.error();
        }
        n.old_parent = std::move(*parent);
        n.keep = false;
        const auto* message = o.if_contains("message");
        if (message != nullptr && !message->is_null()) {
            if (!message->is_object()) {
                return invalid(at, "`message` must be an object or null");
            }
            const auto& m = message->as_object();
            const auto* author = m.if_contains("author");
            const auto* role = author != nullptr && author->is_object()
                                   ? author->as_object().if_contains("role")
                                   : nullptr;
            if (role == nullptr || !role->is_string()) {
                return invalid(at, "`message.author.role` must be a string");
            }
            const auto* content = m.if_contains("content");
            if (content == nullptr || !content->is_object()) {
                return invalid(at, "`message.content` must be an object");
            }
            const auto* type = content->as_object().if_contains("content_type");
            const auto* parts = content->as_object().if_contains("parts");
            std::string text;
            const bool textual =
                type != nullptr && type->is_string() &&
                (type->as_string() == "text" || type->as_string() == "multimodal_text");
            if (textual && parts != nullptr && parts->is_array()) {
                for (const auto& part : parts->as_array()) {
                    if (part.is_string()) {  // images and files are left out
                        if (!text.empty()) {
                            text += "\n";
                        }
                        text += part.as_string();
                    }
                }
            }
            bool hidden = false;
            if (const auto* meta = m.if_contains("metadata");
                meta != nullptr && meta->is_object()) {
                const auto* h =
                    meta->as_object().if_contains("is_visually_hidden_from_conversation");
                hidden = h != nullptr && h->is_bool() && h->as_bool();
                const auto* slug = meta->as_object().if_contains("model_slug");
                if (slug != nullptr && slug->is_string() && slug->as_string().size() <= 200) {
                    n.message.model = std::string(slug->as_string());
                }
            }
            const bool spoken = role->as_string() == "user" || role->as_string() == "assistant";
            if (spoken && !hidden && !trim(text).empty()) {
                if (auto ok = check_text(text, limits.max_content_chars, at, "the message"); !ok) {
                    return ok.error();
                }
                n.keep = true;
                n.message.role = std::string(role->as_string());
                n.message.content = std::move(text);
                n.message.created_at =
                    unix_time(m.if_contains("create_time")).value_or(c.created_at);
                if (n.message.role == "user") {
                    n.message.model.reset();
                }
            }
        }
        nodes.push_back(std::move(n));
    }
    return build_tree(where, std::move(c), std::move(nodes), *current, limits, ctx);
}

}  // namespace

bj::object share_snapshot(
    const store::Conversation& c, const std::vector<store::PathMessage>& branch, TimePoint now
) {
    bj::array messages;
    for (const auto& p : branch) {
        const store::Message& m = *p.message;
        if (m.status == "error" && m.content.empty()) {
            continue;
        }
        messages.push_back(bj::object{
            {"role", m.role},
            {"content", m.content},
            {"model", m.role == "assistant" ? text_or_null(m.model) : bj::value(nullptr)},
            {"created_at", to_iso8601(m.created_at)},
        });
    }
    return {
        {"title", text_or_null(c.title)},
        {"shared_at", to_iso8601(now)},
        {"messages", std::move(messages)},
    };
}

bj::object export_json(const store::Conversation& c, const std::vector<store::Message>& messages) {
    bj::array list;
    for (const auto& m : messages) {
        bj::value metadata = bj::object{};
        if (auto parsed = json::parse(m.metadata, 64); parsed && parsed->is_object()) {
            metadata = std::move(*parsed);
        }
        list.push_back(bj::object{
            {"id", m.id},
            {"parent_id", text_or_null(m.parent_id)},
            {"role", m.role},
            {"content", m.content},
            {"thinking", text_or_null(m.thinking)},
            {"status", m.status},
            {"model", text_or_null(m.model)},
            {"provider", text_or_null(m.provider)},
            {"finish_reason", text_or_null(m.finish_reason)},
            {"token_count", m.token_count},
            {"input_tokens", m.input_tokens},
            {"output_tokens", m.output_tokens},
            {"created_at", to_iso8601(m.created_at)},
            {"metadata", std::move(metadata)},
        });
    }
    const auto object_of = [](const std::string& text) -> bj::value {
        if (auto parsed = json::parse(text, 64); parsed && parsed->is_object()) {
            return std::move(*parsed);
        }
        return bj::object{};
    };
    return {
        {"format", kFormat},
        {"version", 1},
        {"conversation",
         bj::object{
             {"id", c.id},
             {"title", text_or_null(c.title)},
             {"model", c.model},
             {"system_prompt", text_or_null(c.system_prompt)},
             {"settings", object_of(c.settings)},
             {"metadata", object_of(c.metadata)},
             {"created_at", to_iso8601(c.created_at)},
             {"active_leaf_id", text_or_null(c.active_leaf_id)},
         }},
        {"messages", std::move(list)},
    };
}

std::string export_markdown(
    const store::Conversation& c, const std::vector<store::PathMessage>& branch
) {
    std::string out = "# " + c.title.value_or("Untitled conversation") + "\n";
    for (const auto& p : branch) {
        const store::Message& m = *p.message;
        std::string who = m.role == "user" ? "User" : "Assistant";
        if (m.role == "assistant" && m.model) {
            who += " (" + *m.model + ")";
        }
        out += "\n## " + who + "\n\n" + m.content + "\n";
    }
    return out;
}

Result<std::vector<store::ConversationTree>> parse_import(
    const bj::value& document, const ImportLimits& limits, const ImportContext& ctx
) {
    std::vector<store::ConversationTree> out;
    if (document.is_object() && document.as_object().contains("format")) {
        const auto& format = document.as_object().at("format");
        if (!format.is_string() || format.as_string() != kFormat) {
            return invalid("document", "`format` must be \"parley.conversation\"");
        }
        auto tree = parse_parley(document.as_object(), limits, ctx);
        if (!tree) {
            return tree.error();
        }
        out.push_back(std::move(*tree));
        return out;
    }
    std::vector<const bj::object*> conversations;
    if (document.is_object() && document.as_object().contains("mapping")) {
        conversations.push_back(&document.as_object());
    } else if (document.is_array()) {
        if (document.as_array().empty()) {
            return invalid("document", "there is no conversation to import");
        }
        if (document.as_array().size() > limits.max_conversations) {
            return invalid(
                "document",
                "more than " + std::to_string(limits.max_conversations) + " conversations"
            );
        }
        for (std::size_t i = 0; i < document.as_array().size(); ++i) {
            const auto& v = document.as_array()[i];
            if (!v.is_object()) {
                return invalid("[" + std::to_string(i) + "]", "must be an object");
            }
            conversations.push_back(&v.as_object());
        }
    } else {
        return invalid(
            "document",
            "expected Parley's export (format \"parley.conversation\") or ChatGPT's "
            "conversations.json"
        );
    }
    std::size_t total = 0;
    for (std::size_t i = 0; i < conversations.size(); ++i) {
        auto tree = parse_chatgpt(*conversations[i], "[" + std::to_string(i) + "]", limits, ctx);
        if (!tree) {
            return tree.error();
        }
        total += tree->messages.size();
        if (total > limits.max_total_messages) {
            return invalid(
                "document", "more than " + std::to_string(limits.max_total_messages) + " messages"
            );
        }
        out.push_back(std::move(*tree));
    }
    return out;
}

}  // namespace parley::conversations
