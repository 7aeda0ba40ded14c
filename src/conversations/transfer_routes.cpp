// Handlers for share links, export and import (declared in conversations/routes.hpp).
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "common/json.hpp"
#include "conversations/json.hpp"
#include "conversations/routes.hpp"
#include "conversations/transfer.hpp"
#include "http/body.hpp"

namespace parley::conversations {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

// A link as its owner sees it: where it points and what it shows.
bj::object share_json(const store::Share& s) {
    bj::value title = nullptr;
    if (auto snapshot = json::parse(s.snapshot, 64); snapshot && snapshot->is_object()) {
        if (const auto* t = snapshot->as_object().if_contains("title")) {
            title = *t;
        }
    }
    return {
        {"id", s.id},
        {"token", s.token},
        {"url", "/share/" + s.token},
        {"conversation_id", s.conversation_id},
        {"title", std::move(title)},
        {"created_at", to_iso8601(s.created_at)},
    };
}

}  // namespace

asio::awaitable<http::Response> share(http::Request& req, ConversationService& svc) {
    const auto s = value_or_throw(co_await svc.share(req.principal(), req.path_param("id")));
    co_return http::success(share_json(s), 201);
}

asio::awaitable<http::Response> list_shares(http::Request& req, ConversationService& svc) {
    const auto all = value_or_throw(co_await svc.shares(req.principal()));
    bj::array data;
    for (const auto& s : all) {
        data.push_back(share_json(s));
    }
    co_return http::success(std::move(data));
}

asio::awaitable<http::Response> revoke_share(http::Request& req, ConversationService& svc) {
    value_or_throw(co_await svc.revoke_share(req.principal(), std::string(req.path_param("id"))));
    co_return http::no_content();
}

asio::awaitable<http::Response> shared(http::Request& req, ConversationService& svc) {
    const auto s = value_or_throw(co_await svc.shared(std::string(req.path_param("token"))));
    auto snapshot = json::parse(s.snapshot, 64);
    if (!snapshot) {
        throw ErrorException(make_error(ErrorType::api, "the shared snapshot is unreadable"));
    }
    co_return http::success(*snapshot);
}

asio::awaitable<http::Response> export_conversation(http::Request& req, ConversationService& svc) {
    const auto format = req.query_param("format").value_or("json");
    if (format != "json" && format != "markdown") {
        throw ErrorException(make_error(
            ErrorType::unprocessable, "format must be \"json\" (the default) or \"markdown\""
        ));
    }
    const auto c = value_or_throw(co_await svc.get(req.principal(), req.path_param("id")));
    http::Response res;
    if (format == "markdown") {
        const auto branch = value_or_throw(co_await svc.branch(c, std::nullopt, 10'000));
        res.content_type = "text/markdown; charset=utf-8";
        res.body = export_markdown(c, branch);
        res.set_header("Content-Disposition", "attachment; filename=\"conversation.md\"");
        co_return res;
    }
    const auto messages = value_or_throw(co_await svc.all_messages(c));
    res = http::json_response(200, export_json(c, messages));
    res.set_header("Content-Disposition", "attachment; filename=\"conversation.json\"");
    co_return res;
}

asio::awaitable<http::Response> import_conversations(http::Request& req, ConversationService& svc) {
    const auto document = value_or_throw(http::read_json_value(req));
    const auto created = value_or_throw(co_await svc.import(req.principal(), document));
    bj::array data;
    for (const auto& c : created) {
        data.push_back(conversation_json(c));
    }
    co_return http::success(std::move(data), 201);
}

}  // namespace parley::conversations
