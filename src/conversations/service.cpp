#include "conversations/service.hpp"

#include <algorithm>

#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "auth/tokens.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"
#include "conversations/cursor.hpp"
#include "conversations/json.hpp"

namespace parley::conversations {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

std::string settings_json(const Settings& s) {
    bj::object o;
    if (s.temperature) {
        o["temperature"] = *s.temperature;
    }
    if (s.max_tokens) {
        o["max_tokens"] = *s.max_tokens;
    }
    if (s.thinking) {
        o["thinking"] = *s.thinking;
    }
    if (s.tools) {
        bj::array names;
        for (const auto& n : *s.tools) {
            names.emplace_back(n);
        }
        o["tools"] = std::move(names);
    }
    if (s.routing) {
        o["routing"] = *s.routing;
    }
    return bj::serialize(o);
}

}  // namespace

Settings parse_settings(std::string_view text) {
    Settings s;
    auto v = json::parse(text, 8);
    if (!v || !v->is_object()) {
        return s;
    }
    const auto& o = v->as_object();
    if (auto t = json::optional_number(o, "temperature"); t) {
        s.temperature = *t;
    }
    if (auto m = json::optional_int(o, "max_tokens"); m) {
        s.max_tokens = *m;
    }
    if (auto th = json::optional_bool(o, "thinking"); th) {
        s.thinking = *th;
    }
    if (const auto* tools = o.if_contains("tools"); tools != nullptr && tools->is_array()) {
        std::vector<std::string> names;
        for (const auto& n : tools->as_array()) {
            if (n.is_string()) {
                names.emplace_back(n.as_string());
            }
        }
        s.tools = std::move(names);
    }
    if (auto r = json::optional_bool(o, "routing"); r) {
        s.routing = *r;
    }
    return s;
}

Result<void> ConversationService::check_tools(const std::vector<std::string>& names) const {
    for (const auto& name : names) {
        if (std::find(tool_names_.begin(), tool_names_.end(), name) == tool_names_.end()) {
            std::string known;
            for (const auto& n : tool_names_) {
                known += known.empty() ? n : ", " + n;
            }
            return make_error(
                ErrorType::unprocessable,
                "unknown tool `" + name + "`; the tools are: " + (known.empty() ? "none" : known)
            );
        }
    }
    return {};
}

ConversationService::ConversationService(
    store::Store& store, const llm::ModelRouter& router, events::EventBus* bus, Clock clock
)
    : store_(store),
      router_(router),
      bus_(bus),
      clock_(std::move(clock)) {}

Result<void> ConversationService::check_settings(const Settings& s, const llm::ModelInfo& model)
    const {
    if (s.temperature && (*s.temperature < 0 || *s.temperature > 2)) {
        return make_error(ErrorType::unprocessable, "temperature must be from 0 to 2");
    }
    if (s.max_tokens && (*s.max_tokens < 1 || *s.max_tokens > model.max_output)) {
        return make_error(
            ErrorType::unprocessable,
            "max_tokens must be from 1 to " + std::to_string(model.max_output) + " for " + model.id
        );
    }
    return {};
}

asio::awaitable<Result<store::Conversation>> ConversationService::create(
    const Principal& who, NewConversation spec
) {
    auto model = router_.resolve(spec.model.value_or(""));
    if (!model) {
        co_return model.error();
    }
    if (spec.settings.tools) {
        if (auto ok = check_tools(*spec.settings.tools); !ok) {
            co_return ok.error();
        }
    }
    if (auto ok = check_settings(spec.settings, **model); !ok) {
        co_return ok.error();
    }
    store::Conversation c;
    c.id = spec.id ? std::move(*spec.id) : new_uuid_v7();
    c.user_id = who.user_id;
    c.title = std::move(spec.title);
    c.model = (*model)->id;
    c.system_prompt = std::move(spec.system_prompt);
    c.settings = settings_json(spec.settings);
    c.metadata = std::move(spec.metadata);
    c.created_at = clock_();
    c.updated_at = c.created_at;
    if (auto created = co_await store_.create_conversation(c); !created) {
        co_return created.error();
    }
    co_return c;
}

asio::awaitable<Result<store::Page<store::Conversation>>> ConversationService::list(
    const Principal& who, store::ConversationFilter filter, std::int64_t offset, std::int64_t limit
) {
    filter.user_id = who.user_id;
    co_return co_await store_.list_conversations(std::move(filter), offset, limit);
}

asio::awaitable<Result<CursorPage>> ConversationService::list_after(
    const Principal& who,
    store::ConversationFilter filter,
    std::optional<std::string> cursor,
    std::int64_t limit
) {
    filter.user_id = who.user_id;
    std::optional<store::ConversationCursor> after;
    if (cursor && !cursor->empty()) {
        after = decode_conversation_cursor(*cursor);
        if (!after) {
            co_return make_error(ErrorType::unprocessable, "cursor is not one this server issued");
        }
    }
    // One more than asked tells whether another page follows.
    auto rows = co_await store_.list_conversations_after(std::move(filter), after, limit + 1);
    if (!rows) {
        co_return rows.error();
    }
    CursorPage page;
    page.items = std::move(*rows);
    if (static_cast<std::int64_t>(page.items.size()) > limit) {
        page.items.resize(static_cast<std::size_t>(limit));
        const auto& last = page.items.back();
        page.next_cursor = encode_conversation_cursor({last.updated_at, last.id});
    }
    co_return page;
}

asio::awaitable<Result<store::Conversation>> ConversationService::get(
    const Principal& who, std::string_view id
) {
    if (!is_uuid(id)) {
        co_return make_error(ErrorType::not_found, "conversation not found");
    }
    auto found = co_await store_.find_conversation(std::string(id));
    if (!found) {
        co_return found.error();
    }
    if (!*found) {
        co_return make_error(ErrorType::not_found, "conversation not found");
    }
    if ((*found)->user_id != who.user_id) {
        co_return make_error(ErrorType::permission, "this conversation belongs to another user");
    }
    co_return std::move(**found);
}

asio::awaitable<Result<store::Conversation>> ConversationService::update(
    const Principal& who, std::string_view id, ConversationPatch patch
) {
    auto current = co_await get(who, id);
    if (!current) {
        co_return current.error();
    }
    store::Conversation c = std::move(*current);
    if (patch.model) {
        auto model = router_.resolve(*patch.model);
        if (!model) {
            co_return model.error();
        }
        c.model = (*model)->id;
    }
    if (patch.title) {
        c.title = std::move(*patch.title);
    }
    if (patch.system_prompt) {
        c.system_prompt = std::move(*patch.system_prompt);
    }
    if (patch.metadata) {
        c.metadata = std::move(*patch.metadata);
    }
    if (patch.is_archived) {
        c.is_archived = *patch.is_archived;
    }
    if (patch.is_pinned) {
        c.is_pinned = *patch.is_pinned;
    }
    if (patch.tools) {
        if (auto ok = check_tools(*patch.tools); !ok) {
            co_return ok.error();
        }
        auto settings = parse_settings(c.settings);
        settings.tools = std::move(*patch.tools);
        c.settings = settings_json(settings);
    }
    if (patch.routing) {
        auto settings = parse_settings(c.settings);
        settings.routing = *patch.routing;
        c.settings = settings_json(settings);
    }
    // Last: every other field is valid, so a refused patch changes nothing.
    if (patch.active_leaf) {
        if (auto ok = co_await switch_leaf(c, std::move(*patch.active_leaf)); !ok) {
            co_return ok.error();
        }
    }
    c.updated_at = clock_();
    auto updated = co_await store_.update_conversation(c);
    if (!updated) {
        co_return updated.error();
    }
    if (!*updated) {
        co_return make_error(ErrorType::not_found, "conversation not found");
    }
    publish(c.id, "conversation.updated", bj::serialize(conversation_json(c)));
    co_return c;
}

asio::awaitable<Result<void>> ConversationService::remove(
    const Principal& who, std::string_view id
) {
    auto current = co_await get(who, id);
    if (!current) {
        co_return current.error();
    }
    auto deleted = co_await store_.delete_conversation(current->id);
    if (!deleted) {
        co_return deleted.error();
    }
    publish(current->id, "conversation.deleted", bj::serialize(bj::object{{"id", current->id}}));
    co_return Result<void>{};
}

asio::awaitable<Result<store::Page<store::Message>>> ConversationService::messages(
    const store::Conversation& c, std::int64_t offset, std::int64_t limit
) {
    co_return co_await store_.list_messages(c.id, offset, limit);
}

asio::awaitable<Result<bool>> ConversationService::set_title_if_untitled(
    std::string id, std::string title
) {
    auto found = co_await store_.find_conversation(id);
    if (!found) {
        co_return found.error();
    }
    if (!*found || (*found)->title) {
        co_return false;
    }
    store::Conversation c = std::move(**found);
    c.title = std::move(title);
    auto updated = co_await store_.update_conversation(c);
    if (updated && *updated) {
        publish(
            c.id,
            "title.updated",
            bj::serialize(bj::object{{"conversation_id", c.id}, {"title", *c.title}})
        );
    }
    co_return updated;
}

asio::awaitable<Result<store::Conversation>> ConversationService::attach_session(
    const Principal& who, std::string_view session_id
) {
    if (is_uuid(session_id)) {
        co_return co_await get(who, session_id);
    }
    if (session_id.empty() || session_id.size() > 128) {
        co_return make_error(ErrorType::not_found, "conversation not found");
    }
    const std::string id = session_conversation_id(who.user_id, session_id);
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto found = co_await get(who, id);
        if (found || found.error().type != ErrorType::not_found) {
            co_return found;
        }
        NewConversation spec;
        spec.id = id;
        spec.metadata = bj::serialize(bj::object{{"session_key", session_id}});
        // Seed 004's sessions call its two tools.
        spec.settings.tools =
            std::vector<std::string>{"fetch_internal_knowledge", "lookup_contextual_data"};
        // …and route each message to a response strategy, as the seed does.
        spec.settings.routing = true;
        auto created = co_await create(who, std::move(spec));
        if (created) {
            co_return created;
        }
        // Another connection created it first: read it again.
    }
    co_return co_await get(who, id);
}

asio::awaitable<Result<store::Conversation>> ConversationService::find_session(
    const Principal& who, std::string_view session_id
) {
    if (is_uuid(session_id)) {
        co_return co_await get(who, session_id);
    }
    if (session_id.empty() || session_id.size() > 128) {
        co_return make_error(ErrorType::not_found, "session not found");
    }
    co_return co_await get(who, session_conversation_id(who.user_id, session_id));
}

std::string session_conversation_id(std::string_view user_id, std::string_view key) {
    // A key names a conversation of this user: its id is derived from both, so every instance
    // finds the same conversation without a lookup table (shaped as a UUIDv8, RFC 9562).
    return uuid_v8_from_hex(
        auth::sha256_hex("parley-session\n" + std::string(user_id) + "\n" + std::string(key))
    );
}

void ConversationService::publish(
    const std::string& conversation_id, std::string name, std::string data
) {
    if (bus_ != nullptr) {
        bus_->publish(events::Event{conversation_id, std::move(name), std::move(data)});
    }
}

bool ConversationService::listened(const std::string& conversation_id) const {
    return bus_ != nullptr && bus_->listened(conversation_id);
}

asio::awaitable<Result<std::unique_ptr<events::Subscription>>> ConversationService::subscribe(
    const Principal& who, std::string_view id
) {
    auto c = co_await get(who, id);
    if (!c) {
        co_return c.error();
    }
    if (bus_ == nullptr) {
        co_return make_error(ErrorType::api, "no event bus");
    }
    co_return bus_->subscribe(co_await asio::this_coro::executor, c->id);
}

}  // namespace parley::conversations
