// Admin and audit (issue 16) on every backend, written only against `AdminStore`: accounts'
// access (role, disabled, rate limits), promotion of ADMIN_EMAILS and of the first account, the
// audit log's batches and filters, and usage over all users by day and model.
#include "store/admin_store.hpp"

#include <chrono>

#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::store {
namespace {

using testing::run_awaitable;
using testing::TestDatabase;

// 2026-11-25T12:00:00.000Z
constexpr TimePoint kBase =
    std::chrono::sys_days{std::chrono::November / 25 / 2026} + std::chrono::hours{12};

TimePoint at(std::int64_t ms) {
    return kBase + std::chrono::milliseconds(ms);
}

constexpr std::int64_t kDay = 86'400'000;

class AdminStoreTest : public ::testing::TestWithParam<testing::Backend> {
protected:
    void SetUp() override {
        db_ = std::make_unique<TestDatabase>(GetParam());
        if (!db_->available()) {
            GTEST_SKIP() << "no PostgreSQL server configured (PARLEY_TEST_DATABASE_URL)";
        }
        store_ = db_->open(pool_);
        ASSERT_NE(store_, nullptr);
        const auto migrated = store_->migrate();
        ASSERT_TRUE(migrated.has_value()) << migrated.error().detail;
        admin_ = &admin_store(*store_);
    }

    void TearDown() override {
        store_.reset();
        db_.reset();
    }

    User make_user(std::string email, TimePoint created) {
        User u{new_uuid_v7(), std::move(email), "hash", created};
        const auto r = run_awaitable(store_->create_user(u));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return u;
    }

    UserAccess access_of(const std::string& id) {
        auto a = run_awaitable(admin_->find_user_access(id));
        EXPECT_TRUE(a.has_value() && a->has_value());
        return a && *a ? **a : UserAccess{};
    }

    // A conversation of `user` with one message of `model` created at `when`.
    void message(const User& user, const std::string& model, TimePoint when, std::int64_t cost) {
        Conversation c;
        c.id = new_uuid_v7();
        c.user_id = user.id;
        c.model = model;
        c.created_at = when;
        c.updated_at = when;
        ASSERT_TRUE(run_awaitable(store_->create_conversation(c)).has_value());
        Message m;
        m.id = new_uuid_v7();
        m.conversation_id = c.id;
        m.role = "assistant";
        m.content = "answer";
        m.model = model;
        m.input_tokens = 10;
        m.output_tokens = 20;
        m.cost_micros = cost;
        m.created_at = when;
        const auto r = run_awaitable(store_->insert_message(m));
        ASSERT_TRUE(r.has_value()) << r.error().detail;
    }

    static AuditEvent event(std::string kind, std::optional<std::string> user, TimePoint when) {
        AuditEvent e;
        e.id = new_uuid_v7();
        e.kind = std::move(kind);
        e.user_id = std::move(user);
        e.created_at = when;
        return e;
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<TestDatabase> db_;
    std::unique_ptr<Store> store_;
    AdminStore* admin_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(
    Backends,
    AdminStoreTest,
    ::testing::ValuesIn(testing::all_backends()),
    testing::backend_param_name
);

TEST_P(AdminStoreTest, NewAccountsAreEnabledUsersWithTheDefaultLimits) {
    const auto u = make_user("a@example.com", at(0));
    const auto a = access_of(u.id);
    EXPECT_EQ(a.user_id, u.id);
    EXPECT_EQ(a.role, "user");
    EXPECT_FALSE(a.admin());
    EXPECT_FALSE(a.disabled());
    EXPECT_FALSE(a.rate_limit_per_minute.has_value());
    EXPECT_FALSE(a.ai_rate_limit_per_minute.has_value());
    EXPECT_FALSE(run_awaitable(admin_->find_user_access(new_uuid_v7()))->has_value());
}

TEST_P(AdminStoreTest, AccessUpdatesRoundTripAndResetToNull) {
    const auto u = make_user("a@example.com", at(0));
    UserAccess change = access_of(u.id);
    change.role = "admin";
    change.disabled_at = at(5);
    change.rate_limit_per_minute = 7;
    change.ai_rate_limit_per_minute = 2;
    auto updated = run_awaitable(admin_->update_user_access(change));
    ASSERT_TRUE(updated.has_value()) << updated.error().detail;
    EXPECT_TRUE(*updated);
    auto a = access_of(u.id);
    EXPECT_EQ(a.role, "admin");
    EXPECT_EQ(a.disabled_at, at(5));
    EXPECT_EQ(a.rate_limit_per_minute, 7);
    EXPECT_EQ(a.ai_rate_limit_per_minute, 2);

    change.disabled_at.reset();
    change.rate_limit_per_minute.reset();
    ASSERT_TRUE(*run_awaitable(admin_->update_user_access(change)));
    a = access_of(u.id);
    EXPECT_FALSE(a.disabled());
    EXPECT_FALSE(a.rate_limit_per_minute.has_value());
    EXPECT_EQ(a.ai_rate_limit_per_minute, 2);

    change.user_id = new_uuid_v7();
    EXPECT_FALSE(*run_awaitable(admin_->update_user_access(change)));
}

TEST_P(AdminStoreTest, ListUsersIsOldestFirstPagedWithATotal) {
    const auto second = make_user("b@example.com", at(20));
    const auto first = make_user("a@example.com", at(10));
    const auto third = make_user("c@example.com", at(30));
    const auto page = run_awaitable(admin_->list_users(0, 2));
    ASSERT_TRUE(page.has_value()) << page.error().detail;
    EXPECT_EQ(page->total, 3);
    ASSERT_EQ(page->items.size(), 2U);
    EXPECT_EQ(page->items[0].id, first.id);
    EXPECT_EQ(page->items[0].email, "a@example.com");
    EXPECT_EQ(page->items[0].created_at, at(10));
    EXPECT_EQ(page->items[0].access.role, "user");
    EXPECT_EQ(page->items[1].id, second.id);
    const auto rest = run_awaitable(admin_->list_users(2, 2));
    ASSERT_EQ(rest->items.size(), 1U);
    EXPECT_EQ(rest->items[0].id, third.id);
    EXPECT_EQ(rest->total, 3);
}

TEST_P(AdminStoreTest, PromoteAdminsMatchesEmailsIgnoringCaseAndReportsOnlyChanges) {
    const auto boss = make_user("Boss@Example.com", at(0));
    const auto other = make_user("other@example.com", at(1));
    auto promoted =
        run_awaitable(admin_->promote_admins({"boss@example.com", "nobody@example.com"}));
    ASSERT_TRUE(promoted.has_value()) << promoted.error().detail;
    EXPECT_EQ(*promoted, std::vector<std::string>{boss.id});
    EXPECT_TRUE(access_of(boss.id).admin());
    EXPECT_FALSE(access_of(other.id).admin());
    // Already an admin: nothing changes, nothing reported.
    EXPECT_TRUE(run_awaitable(admin_->promote_admins({"BOSS@example.com"}))->empty());
}

TEST_P(AdminStoreTest, PromoteFirstUserOnlyWhenThereIsNoAdmin) {
    EXPECT_FALSE(run_awaitable(admin_->promote_first_user())->has_value()) << "no account";
    const auto later = make_user("later@example.com", at(50));
    const auto first = make_user("first@example.com", at(10));
    auto promoted = run_awaitable(admin_->promote_first_user());
    ASSERT_TRUE(promoted.has_value()) << promoted.error().detail;
    EXPECT_EQ(*promoted, first.id);
    EXPECT_TRUE(access_of(first.id).admin());
    EXPECT_FALSE(access_of(later.id).admin());
    EXPECT_FALSE(run_awaitable(admin_->promote_first_user())->has_value()) << "an admin exists";

    // Demoted, with another admin named meanwhile: still no second promotion.
    auto a = access_of(first.id);
    a.role = "user";
    ASSERT_TRUE(*run_awaitable(admin_->update_user_access(a)));
    ASSERT_EQ(run_awaitable(admin_->promote_admins({"later@example.com"}))->size(), 1U);
    EXPECT_FALSE(run_awaitable(admin_->promote_first_user())->has_value());
    EXPECT_FALSE(access_of(first.id).admin());
}

TEST_P(AdminStoreTest, AuditEventsRoundTripNewestFirst) {
    auto e1 = event("signup", "user-1", at(10));
    e1.ip = "127.0.0.1";
    e1.detail = R"({"email":"a@example.com"})";
    auto e2 = event("admin_user_updated", "user-2", at(20));
    e2.actor_id = "user-1";
    auto e3 = event("login_failed", std::nullopt, at(30));
    const auto written = run_awaitable(admin_->insert_audit_events({e1, e2, e3}));
    ASSERT_TRUE(written.has_value()) << written.error().detail;
    ASSERT_TRUE(run_awaitable(admin_->insert_audit_events({})).has_value());

    const auto all = run_awaitable(admin_->list_audit_events({}, 0, 10));
    ASSERT_TRUE(all.has_value()) << all.error().detail;
    EXPECT_EQ(all->total, 3);
    ASSERT_EQ(all->items.size(), 3U);
    EXPECT_EQ(all->items[0].id, e3.id);
    EXPECT_FALSE(all->items[0].user_id.has_value());
    EXPECT_EQ(all->items[0].detail, "{}");
    EXPECT_EQ(all->items[1].id, e2.id);
    EXPECT_EQ(all->items[1].actor_id, "user-1");
    const auto& first = all->items[2];
    EXPECT_EQ(first.id, e1.id);
    EXPECT_EQ(first.kind, "signup");
    EXPECT_EQ(first.user_id, "user-1");
    EXPECT_FALSE(first.actor_id.has_value());
    EXPECT_EQ(first.ip, "127.0.0.1");
    EXPECT_EQ(first.detail, R"({"email":"a@example.com"})");
    EXPECT_EQ(first.created_at, at(10));
}

TEST_P(AdminStoreTest, AuditEventsFilterByKindUserAndTimeAndPage) {
    std::vector<AuditEvent> events;
    for (int i = 0; i < 6; ++i) {
        events.push_back(event(i % 2 == 0 ? "login" : "login_failed", "user-a", at(i * 10)));
    }
    auto by_admin = event("admin_user_updated", "user-b", at(100));
    by_admin.actor_id = "user-a";
    events.push_back(by_admin);
    events.push_back(event("login", "user-b", at(110)));
    ASSERT_TRUE(run_awaitable(admin_->insert_audit_events(events)).has_value());

    AuditFilter logins;
    logins.kind = "login";
    auto page = run_awaitable(admin_->list_audit_events(logins, 0, 2));
    EXPECT_EQ(page->total, 4);
    ASSERT_EQ(page->items.size(), 2U);
    EXPECT_EQ(page->items[0].created_at, at(110));
    EXPECT_EQ(page->items[1].created_at, at(40));
    page = run_awaitable(admin_->list_audit_events(logins, 2, 2));
    ASSERT_EQ(page->items.size(), 2U);
    EXPECT_EQ(page->items[1].created_at, at(0));

    // A user's events: about them, and the ones they did as an admin.
    AuditFilter user_a;
    user_a.user_id = "user-a";
    EXPECT_EQ(run_awaitable(admin_->list_audit_events(user_a, 0, 100))->total, 7);
    AuditFilter user_b;
    user_b.user_id = "user-b";
    EXPECT_EQ(run_awaitable(admin_->list_audit_events(user_b, 0, 100))->total, 2);

    // [from, to)
    AuditFilter window;
    window.from = at(10);
    window.to = at(40);
    window.user_id = "user-a";
    const auto in_window = run_awaitable(admin_->list_audit_events(window, 0, 100));
    EXPECT_EQ(in_window->total, 3);
    ASSERT_EQ(in_window->items.size(), 3U);
    EXPECT_EQ(in_window->items.front().created_at, at(30));
    EXPECT_EQ(in_window->items.back().created_at, at(10));

    AuditFilter nothing;
    nothing.kind = "budget_exceeded";
    EXPECT_EQ(run_awaitable(admin_->list_audit_events(nothing, 0, 100))->total, 0);
}

TEST_P(AdminStoreTest, AuditBatchesAreAllOrNothing) {
    const auto e = event("signup", "user-1", at(0));
    ASSERT_TRUE(run_awaitable(admin_->insert_audit_events({e})).has_value());
    // The second event repeats the first's id: the whole batch fails and nothing of it is kept.
    const auto fresh = event("login", "user-1", at(1));
    const auto failed = run_awaitable(admin_->insert_audit_events({fresh, e}));
    EXPECT_FALSE(failed.has_value());
    EXPECT_EQ(run_awaitable(admin_->list_audit_events({}, 0, 10))->total, 1);
}

TEST_P(AdminStoreTest, UsageSumsEveryUserByDayAndModel) {
    const auto a = make_user("a@example.com", at(0));
    const auto b = make_user("b@example.com", at(0));
    message(a, "model-x", at(0), 100);
    message(b, "model-x", at(1000), 250);
    message(a, "model-y", at(2000), 1);
    message(a, "model-x", at(kDay), 7);

    const auto rows = run_awaitable(admin_->usage_by_day_and_model(std::nullopt, {}, {}));
    ASSERT_TRUE(rows.has_value()) << rows.error().detail;
    ASSERT_EQ(rows->size(), 3U);
    const auto& x = (*rows)[0];
    EXPECT_EQ(x.day, "2026-11-25");
    EXPECT_EQ(x.model, "model-x");
    EXPECT_EQ(x.user_count, 2);
    EXPECT_EQ(x.message_count, 2);
    EXPECT_EQ(x.input_tokens, 20);
    EXPECT_EQ(x.output_tokens, 40);
    EXPECT_EQ(x.cost_micros, 350);
    EXPECT_EQ((*rows)[1].model, "model-y");
    EXPECT_EQ((*rows)[1].user_count, 1);
    EXPECT_EQ((*rows)[2].day, "2026-11-26");
    EXPECT_EQ((*rows)[2].cost_micros, 7);

    const auto only_b = run_awaitable(admin_->usage_by_day_and_model(b.id, {}, {}));
    ASSERT_EQ(only_b->size(), 1U);
    EXPECT_EQ((*only_b)[0].cost_micros, 250);

    const auto second_day =
        run_awaitable(admin_->usage_by_day_and_model(std::nullopt, at(kDay), {}));
    ASSERT_EQ(second_day->size(), 1U);
    EXPECT_EQ((*second_day)[0].day, "2026-11-26");
    const auto before = run_awaitable(admin_->usage_by_day_and_model(std::nullopt, {}, at(1000)));
    ASSERT_EQ(before->size(), 1U);
    EXPECT_EQ((*before)[0].cost_micros, 100);
}

TEST_P(AdminStoreTest, UsageCountsTheCallsThatStoreNoMessageBesideTheMessages) {
    const auto a = make_user("a@example.com", at(0));
    const auto b = make_user("b@example.com", at(0));
    message(a, "model-x", at(0), 100);
    // Usage records (compatible endpoints, titles, summaries): the same model and day, and a
    // model only they used.
    const auto record = [&](const User& u, std::string model, TimePoint when, std::int64_t cost) {
        UsageRecord r;
        r.id = new_uuid_v7();
        r.user_id = u.id;
        r.kind = "compat_chat";
        r.model = std::move(model);
        r.provider = "openai";
        r.input_tokens = 3;
        r.output_tokens = 5;
        r.cost_micros = cost;
        r.created_at = when;
        ASSERT_TRUE(run_awaitable(store_->insert_usage_record(r)).has_value());
    };
    record(b, "model-x", at(500), 30);
    record(b, "model-z", at(600), 4);
    record(a, "model-z", at(kDay), 9);

    const auto rows = run_awaitable(admin_->usage_by_day_and_model(std::nullopt, {}, {}));
    ASSERT_TRUE(rows.has_value()) << rows.error().detail;
    ASSERT_EQ(rows->size(), 3U);
    const auto& x = (*rows)[0];
    EXPECT_EQ(x.model, "model-x");
    EXPECT_EQ(x.user_count, 2);
    EXPECT_EQ(x.message_count, 1);
    EXPECT_EQ(x.call_count, 1);
    EXPECT_EQ(x.input_tokens, 13);
    EXPECT_EQ(x.output_tokens, 25);
    EXPECT_EQ(x.cost_micros, 130);
    EXPECT_EQ((*rows)[1].model, "model-z");
    EXPECT_EQ((*rows)[1].message_count, 0);
    EXPECT_EQ((*rows)[1].call_count, 1);
    EXPECT_EQ((*rows)[2].day, "2026-11-26");
    EXPECT_EQ((*rows)[2].cost_micros, 9);

    // The filters apply to both sources.
    const auto only_b = run_awaitable(admin_->usage_by_day_and_model(b.id, {}, {}));
    ASSERT_EQ(only_b->size(), 2U);
    EXPECT_EQ((*only_b)[0].cost_micros, 30);
    EXPECT_EQ((*only_b)[0].message_count, 0);
    const auto window =
        run_awaitable(admin_->usage_by_day_and_model(std::nullopt, at(550), at(kDay)));
    ASSERT_EQ(window->size(), 1U);
    EXPECT_EQ((*window)[0].model, "model-z");
    EXPECT_EQ((*window)[0].cost_micros, 4);
}

}  // namespace
}  // namespace parley::store
