// ConversationService's share links, export and import; the document shapes are in
// conversations/transfer.hpp.
#include <boost/json/serialize.hpp>

#include "auth/tokens.hpp"
#include "common/ids.hpp"
#include "conversations/service.hpp"
#include "conversations/transfer.hpp"

namespace parley::conversations {

namespace asio = boost::asio;

namespace {

constexpr std::int64_t kMaxShared = 1000;      // messages in a snapshot, as GET …/{id} shows
constexpr std::int64_t kMaxExported = 10'000;  // messages in an export

}  // namespace

asio::awaitable<Result<store::Share>> ConversationService::share(
    const Principal& who, std::string_view id
) {
    auto c = co_await get(who, id);
    if (!c) {
        co_return c.error();
    }
    auto path = co_await store_.message_path(c->id, std::nullopt, kMaxShared);
    if (!path) {
        co_return path.error();
    }
    store::Share s;
    s.id = new_uuid_v7();
    s.token = auth::random_token();
    s.user_id = who.user_id;
    s.conversation_id = c->id;
    s.created_at = clock_();
    s.snapshot = boost::json::serialize(share_snapshot(*c, *path, s.created_at));
    if (auto created = co_await store_.create_share(s); !created) {
        co_return created.error();
    }
    co_return s;
}

asio::awaitable<Result<std::vector<store::Share>>> ConversationService::shares(const Principal& who
) {
    co_return co_await store_.list_shares(who.user_id);
}

asio::awaitable<Result<void>> ConversationService::revoke_share(
    const Principal& who, std::string id
) {
    auto revoked = co_await store_.revoke_share(std::move(id), who.user_id, clock_());
    if (!revoked) {
        co_return revoked.error();
    }
    if (!*revoked) {
        co_return make_error(ErrorType::not_found, "share link not found");
    }
    co_return Result<void>{};
}

asio::awaitable<Result<store::Share>> ConversationService::shared(std::string token) {
    auto found = co_await store_.find_share(std::move(token));
    if (!found) {
        co_return found.error();
    }
    if (!*found || (*found)->revoked_at) {
        co_return make_error(ErrorType::not_found, "share link not found");
    }
    co_return std::move(**found);
}

asio::awaitable<Result<std::vector<store::Message>>> ConversationService::all_messages(
    const store::Conversation& c
) {
    auto page = co_await store_.list_messages(c.id, 0, kMaxExported);
    if (!page) {
        co_return page.error();
    }
    if (page->total > kMaxExported) {
        co_return make_error(
            ErrorType::request_too_large,
            "the conversation has more than " + std::to_string(kMaxExported) + " messages to export"
        );
    }
    co_return std::move(page->items);
}

asio::awaitable<Result<std::vector<store::Conversation>>> ConversationService::import(
    const Principal& who, const boost::json::value& document
) {
    ImportContext ctx;
    ctx.user_id = who.user_id;
    auto fallback = router_.resolve("");
    if (!fallback) {
        co_return fallback.error();
    }
    ctx.default_model = (*fallback)->id;
    ctx.known_model = [this](std::string_view model) {
        return router_.catalog().find(model) != nullptr;
    };
    ctx.new_id = [] {
        return new_uuid_v7();
    };
    ctx.now = clock_();
    auto trees = parse_import(document, ImportLimits{}, ctx);
    if (!trees) {
        co_return trees.error();
    }
    std::vector<store::Conversation> out;
    for (const auto& t : *trees) {
        out.push_back(t.conversation);
    }
    if (auto stored = co_await store_.insert_conversation_trees(std::move(*trees)); !stored) {
        co_return stored.error();
    }
    co_return out;
}

}  // namespace parley::conversations
