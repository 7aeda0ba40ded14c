#include "search/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "common/ids.hpp"
#include "common/time.hpp"
#include "conversations/json.hpp"
#include "http/pagination.hpp"

namespace parley::search {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

constexpr std::size_t kMaxQuery = 500;

[[noreturn]] void reject(std::string message) {
    throw ErrorException(make_error(ErrorType::unprocessable, std::move(message)));
}

// The search text of `name`: required, not blank, at most kMaxQuery characters.
std::string query_text(const http::Request& req, std::string_view name) {
    auto q = req.query_param(name);
    if (!q || q->find_first_not_of(" \t\r\n") == std::string::npos) {
        reject(std::string(name) + " is required: the words to search for");
    }
    if (q->size() > kMaxQuery) {
        reject(std::string(name) + " is longer than " + std::to_string(kMaxQuery) + " characters");
    }
    return std::move(*q);
}

bj::object exchange_json(const store::Exchange& e) {
    return {
        {"id", e.conversation_id},
        {"prompt", e.prompt},
        {"response", e.response},
        {"created_at", to_iso8601(e.created_at)},
    };
}

}  // namespace

asio::awaitable<http::Response> search_messages(http::Request& req, SearchService& svc) {
    MessageQuery q;
    q.text = query_text(req, "q");
    q.limit = value_or_throw(http::integer_param(req, "limit", 20, 1, 100));
    q.cursor = req.query_param("cursor");
    if (auto id = req.query_param("conversation_id")) {
        if (!is_uuid(*id)) {
            reject("conversation_id must be a conversation's id (a UUID)");
        }
        q.conversation_id = std::move(*id);
    }
    if (auto role = req.query_param("role")) {
        if (*role != "user" && *role != "assistant" && *role != "system" && *role != "tool") {
            reject("role must be user, assistant, system or tool");
        }
        q.role = std::move(*role);
    }
    q.from = value_or_throw(http::time_param(req, "from"));
    q.to = value_or_throw(http::time_param(req, "to"));
    if (auto archived = req.query_param("include_archived")) {
        if (*archived == "true" || *archived == "1") {
            q.include_archived = true;
        } else if (*archived != "false" && *archived != "0") {
            reject("include_archived must be true or false");
        }
    }
    const auto results = value_or_throw(co_await svc.messages(req.principal(), std::move(q)));
    bj::array data;
    for (const auto& hit : results.hits) {
        data.push_back(bj::object{
            {"message_id", hit.message.id},
            {"conversation_id", hit.message.conversation_id},
            {"conversation_title",
             hit.conversation_title ? bj::value(*hit.conversation_title) : bj::value(nullptr)},
            {"role", hit.message.role},
            {"snippet", store::snippet_html(hit.snippet)},
            {"rank", hit.rank},
            {"created_at", to_iso8601(hit.message.created_at)},
        });
    }
    co_return http::json_response(
        200,
        bj::object{
            {"status", "success"},
            {"data", std::move(data)},
            {"next_cursor",
             results.next_cursor ? bj::value(*results.next_cursor) : bj::value(nullptr)},
            {"has_more", results.next_cursor.has_value()},
        }
    );
}

asio::awaitable<http::Response> history(http::Request& req, SearchService& svc) {
    const auto limit = value_or_throw(http::integer_param(req, "limit", 10, 1, 100));
    const auto offset =
        value_or_throw(http::integer_param(req, "offset", 0, 0, std::int64_t{1} << 40));
    const auto page = value_or_throw(co_await svc.history(req.principal(), offset, limit));
    bj::array items;
    for (const auto& e : page.items) {
        items.push_back(exchange_json(e));
    }
    co_return http::json_response(
        200,
        bj::object{
            {"conversations", std::move(items)},
            {"total", page.total},
            {"limit", limit},
            {"offset", offset},
        }
    );
}

asio::awaitable<http::Response> history_item(http::Request& req, SearchService& svc) {
    auto id = std::string(req.path_param("id"));
    if (!is_uuid(id)) {
        reject("id must be a conversation's id (a UUID)");
    }
    const auto e = value_or_throw(co_await svc.exchange(req.principal(), std::move(id)));
    co_return http::json_response(200, exchange_json(e));
}

asio::awaitable<http::Response> search_history(http::Request& req, SearchService& svc) {
    auto text = query_text(req, "query");
    const auto limit = value_or_throw(http::integer_param(req, "limit", 10, 1, 100));
    const auto offset =
        value_or_throw(http::integer_param(req, "offset", 0, 0, std::int64_t{1} << 40));
    const auto page =
        value_or_throw(co_await svc.exchanges(req.principal(), std::move(text), offset, limit));
    bj::array items;
    for (const auto& hit : page.items) {
        auto item = exchange_json(hit.exchange);
        item["rank"] = hit.rank;
        item["snippet"] = store::snippet_html(hit.snippet);
        items.push_back(std::move(item));
    }
    co_return http::json_response(
        200,
        bj::object{
            {"conversations", std::move(items)},
            {"total", page.total},
            {"limit", limit},
            {"offset", offset},
        }
    );
}

}  // namespace parley::search
