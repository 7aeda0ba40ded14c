#include "conversations/routes.hpp"

#include <charconv>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>

#include "common/json.hpp"
#include "common/json_writer.hpp"
#include "conversations/json.hpp"
#include "conversations/requests.hpp"
#include "http/body.hpp"
#include "http/pagination.hpp"

namespace parley::conversations {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

constexpr std::size_t kMaxQuery = 500;

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
    unprocessable(std::string(name) + " must be true or false");
}

store::ConversationFilter filter_of(const http::Request& req) {
    store::ConversationFilter f;
    f.archived = bool_query(req, "is_archived");
    if (auto model = req.query_param("model"); model && !model->empty()) {
        f.model = std::move(*model);
    }
    if (auto q = req.query_param("q"); q && !q->empty()) {
        if (q->size() > kMaxQuery) {
            unprocessable("q is longer than " + std::to_string(kMaxQuery) + " characters");
        }
        // The full-text index over titles and messages; the last word matches as a prefix.
        f.matching = store::parse_search_query(*q);
    }
    return f;
}

}  // namespace

asio::awaitable<http::Response> create(http::Request& req, ConversationService& svc) {
    const auto body = value_or_throw(http::read_json_object(req));
    NewConversation spec = new_conversation_of(body);
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
                unprocessable("limit must be an integer from 1 to 100");
            }
        }
        const auto page = value_or_throw(
            co_await svc.list_after(req.principal(), std::move(filter), cursor, limit)
        );
        auto res = http::success_written(
            [&](json::Writer& w) {
                w.begin_array();
                for (const auto& c : page.items) {
                    write_conversation(w, c);
                }
                w.end_array();
            },
            [&](json::Writer& w) {
                w.key("next_cursor").string_or_null(page.next_cursor);
                w.key("has_more").boolean(page.next_cursor.has_value());
            }
        );
        co_return res;
    }
    const auto page = value_or_throw(http::parse_page(req));
    const auto rows = value_or_throw(
        co_await svc.list(req.principal(), std::move(filter), page.offset(), page.per_page)
    );
    // Built into a local, not inside the co_return (g++ 12 and temporaries in coroutines).
    auto res = http::success_list_written(
        [&](json::Writer& w) {
            for (const auto& c : rows.items) {
                write_conversation(w, c);
            }
        },
        page.page,
        page.per_page,
        rows.total
    );
    co_return res;
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
    auto res = http::success_written([&](json::Writer& w) {
        write_conversation_with_messages(w, c, messages);
    });
    co_return res;
}

asio::awaitable<http::Response> list_messages(http::Request& req, ConversationService& svc) {
    const auto page = value_or_throw(http::parse_page(req));
    const auto c = value_or_throw(co_await svc.get(req.principal(), req.path_param("id")));
    const auto rows = value_or_throw(co_await svc.messages(c, page.offset(), page.per_page));
    auto res = http::success_list_written(
        [&](json::Writer& w) {
            for (const auto& m : rows.items) {
                write_message(w, m);
            }
        },
        page.page,
        page.per_page,
        rows.total
    );
    co_return res;
}

asio::awaitable<http::Response> update(http::Request& req, ConversationService& svc) {
    const auto body = value_or_throw(http::read_json_object(req));
    ConversationPatch patch = conversation_patch_of(body);
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
    co_return http::success(std::move(data), 201);
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
