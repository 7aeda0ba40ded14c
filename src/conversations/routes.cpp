#include "conversations/routes.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "common/json.hpp"
#include "conversations/json.hpp"
#include "http/body.hpp"
#include "http/pagination.hpp"

namespace parley::conversations {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

constexpr std::size_t kMaxTitle = 200;
constexpr std::size_t kMaxSystemPrompt = 100'000;
constexpr std::size_t kMaxMetadataBytes = 16 * 1024;
constexpr std::size_t kMaxQuery = 500;

[[noreturn]] void reject(std::string message) {
    throw ErrorException(make_error(ErrorType::unprocessable, std::move(message)));
}

std::optional<std::string> bounded_text(
    const bj::object& o, std::string_view key, std::size_t max
) {
    auto v = value_or_throw(json::optional_string(o, key));
    if (v && v->size() > max) {
        reject("`" + std::string(key) + "` is longer than " + std::to_string(max) + " characters");
    }
    return v;
}

std::optional<std::string> metadata_of(const bj::object& o) {
    const auto* v = o.if_contains("metadata");
    if (v == nullptr || v->is_null()) {
        return std::nullopt;
    }
    if (!v->is_object()) {
        reject("`metadata` must be an object");
    }
    auto text = bj::serialize(*v);
    if (text.size() > kMaxMetadataBytes) {
        reject("`metadata` is larger than 16 KiB");
    }
    return text;
}

std::optional<bool> bool_query(const http::Request& req, std::string_view name) {
    const auto v = req.query_param(name);
    if (!v) {
        return std::nullopt;
    }
    if (*v == "true" || *v == "1") {
        return true;
    }
    if (*v == "false" || *v == "0") {
        return false;
    }
    reject(std::string(name) + " must be true or false");
}

// `tools`: the names of the tools the conversation offers its model (null: none).
std::optional<std::vector<std::string>> tools_of(const bj::object& o) {
    const auto* v = o.if_contains("tools");
    if (v == nullptr || v->is_null()) {
        return std::nullopt;
    }
    if (!v->is_array() || v->as_array().size() > 16) {
        reject("`tools` must be an array of at most 16 tool names");
    }
    std::vector<std::string> names;
    for (const auto& n : v->as_array()) {
        if (!n.is_string() || n.as_string().empty() || n.as_string().size() > 64) {
            reject("`tools` must be an array of tool names");
        }
        std::string name(n.as_string());
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            names.push_back(std::move(name));
        }
    }
    return names;
}

store::ConversationFilter filter_of(const http::Request& req) {
    store::ConversationFilter f;
    f.archived = bool_query(req, "is_archived");
    if (auto model = req.query_param("model"); model && !model->empty()) {
        f.model = std::move(*model);
    }
    if (auto q = req.query_param("q"); q && !q->empty()) {
        if (q->size() > kMaxQuery) {
            reject("q is longer than " + std::to_string(kMaxQuery) + " characters");
        }
        // The full-text index over titles and messages; the last word matches as a prefix.
        f.matching = store::parse_search_query(*q);
    }
    return f;
}

}  // namespace

asio::awaitable<http::Response> create(http::Request& req, ConversationService& svc) {
    const auto body = value_or_throw(http::read_json_object(req));
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
    const auto created = value_or_throw(co_await svc.create(req.principal(), std::move(spec)));
    co_return http::success(conversation_json(created), 201);
}

asio::awaitable<http::Response> list(http::Request& req, ConversationService& svc) {
    auto filter = filter_of(req);
    const auto limit_text = req.query_param("limit");
    const auto cursor = req.query_param("cursor");
    if (limit_text || cursor) {
        std::int64_t limit = 20;
        if (limit_text) {
            const auto [ptr, ec] =
                std::from_chars(limit_text->data(), limit_text->data() + limit_text->size(), limit);
            if (ec != std::errc{} || ptr != limit_text->data() + limit_text->size() || limit < 1 ||
                limit > 100) {
                reject("limit must be an integer from 1 to 100");
            }
        }
        const auto page = value_or_throw(
            co_await svc.list_after(req.principal(), std::move(filter), cursor, limit)
        );
        bj::array data;
        for (const auto& c : page.items) {
            data.push_back(conversation_json(c));
        }
        co_return http::json_response(
            200,
            bj::object{
                {"status", "success"},
                {"data", std::move(data)},
                {"next_cursor",
                 page.next_cursor ? bj::value(*page.next_cursor) : bj::value(nullptr)},
                {"has_more", page.next_cursor.has_value()},
            }
        );
    }
    const auto page = value_or_throw(http::parse_page(req));
    const auto rows = value_or_throw(
        co_await svc.list(req.principal(), std::move(filter), page.offset(), page.per_page)
    );
    bj::array data;
    for (const auto& c : rows.items) {
        data.push_back(conversation_json(c));
    }
    co_return http::success_list(std::move(data), page.page, page.per_page, rows.total);
}

asio::awaitable<http::Response> get(http::Request& req, ConversationService& svc) {
    const auto c = value_or_throw(co_await svc.get(req.principal(), req.path_param("id")));
    // The active branch (or the one ?leaf= selects), oldest first, bounded so one huge
    // conversation cannot be a DoS.
    auto leaf = req.query_param("leaf");
    if (leaf && leaf->empty()) {
        leaf.reset();
    }
    const auto messages = value_or_throw(co_await svc.branch(c, std::move(leaf), 1000));
    bj::array items;
    for (const auto& m : messages) {
        items.push_back(path_message_json(m));
    }
    auto data = conversation_json(c);
    data["messages"] = std::move(items);
    co_return http::success(data);
}

asio::awaitable<http::Response> list_messages(http::Request& req, ConversationService& svc) {
    const auto page = value_or_throw(http::parse_page(req));
    const auto c = value_or_throw(co_await svc.get(req.principal(), req.path_param("id")));
    const auto rows = value_or_throw(co_await svc.messages(c, page.offset(), page.per_page));
    bj::array data;
    for (const auto& m : rows.items) {
        data.push_back(message_json(m));
    }
    co_return http::success_list(std::move(data), page.page, page.per_page, rows.total);
}

asio::awaitable<http::Response> update(http::Request& req, ConversationService& svc) {
    const auto body = value_or_throw(http::read_json_object(req));
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
                reject("`title` must be a string or null");
            }
            patch.title = bounded_text(body, "title", kMaxTitle);
        } else if (k == "system_prompt") {
            if (!value.is_null() && !value.is_string()) {
                reject("`system_prompt` must be a string or null");
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
    const auto updated =
        value_or_throw(co_await svc.update(req.principal(), req.path_param("id"), std::move(patch))
        );
    co_return http::success(conversation_json(updated));
}

asio::awaitable<http::Response> remove(http::Request& req, ConversationService& svc) {
    value_or_throw(co_await svc.remove(req.principal(), req.path_param("id")));
    co_return http::no_content();
}

asio::awaitable<http::Response> fork(http::Request& req, ConversationService& svc) {
    const auto body = value_or_throw(http::read_json_object(req));
    value_or_throw(json::reject_unknown_fields(body, {"message_id"}));
    auto message_id = value_or_throw(json::required_string(body, "message_id"));
    const auto forked = value_or_throw(
        co_await svc.fork(req.principal(), req.path_param("id"), std::move(message_id))
    );
    bj::array items;
    for (const auto& m : forked.messages) {
        items.push_back(path_message_json(m));
    }
    auto data = conversation_json(forked.conversation);
    data["messages"] = std::move(items);
    co_return http::success(data, 201);
}

asio::awaitable<http::Response> events(http::Request& req, ConversationService& svc) {
    std::shared_ptr<events::Subscription> sub =
        value_or_throw(co_await svc.subscribe(req.principal(), req.path_param("id")));
    http::Response res;
    res.status = 200;
    res.content_type = "text/event-stream; charset=utf-8";
    res.cacheable = true;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.body_writer = [sub](http::StreamWriter& writer) -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;  // NOLINT
        constexpr std::chrono::seconds kHeartbeat{15};
        // The retry hint and a first comment tell EventSource clients the feed is open.
        if (!co_await writer.send("retry: 3000\n: subscribed\n\n")) {
            co_return;
        }
        asio::steady_timer heartbeat(co_await asio::this_coro::executor);
        for (;;) {
            heartbeat.expires_after(kHeartbeat);
            auto next = co_await (
                sub->next() || writer.closed() ||
                heartbeat.async_wait(asio::as_tuple(asio::use_awaitable))
            );
            if (next.index() == 1) {
                co_return;
            }
            std::string out;
            if (next.index() == 2) {
                out = ": heartbeat\n\n";
            } else {
                const auto& e = std::get<0>(next);
                out = "event: " + e.name + "\ndata: " + e.data + "\n\n";
                if (e.name == "conversation.deleted") {
                    co_await writer.send(std::move(out));
                    co_return;
                }
            }
            if (!co_await writer.send(std::move(out))) {
                co_return;
            }
        }
    };
    co_return res;
}

}  // namespace parley::conversations
