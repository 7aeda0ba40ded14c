// Users, refresh tokens and API keys, written only against the `Store` interface and run on every
// backend (support/test_database.hpp), each test on a fresh database.
#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
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

class AuthStoreTest : public ::testing::TestWithParam<testing::Backend> {
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
    }

    void TearDown() override {
        store_.reset();
        db_.reset();
    }

    User make_user(std::string email = {}) {
        User u{
            new_uuid_v7(), email.empty() ? new_uuid_v7() + "@example.com" : email, "hash", at(5)};
        const auto r = run_awaitable(store_->create_user(u));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return u;
    }

    RefreshToken token(const User& u, const std::string& family) {
        RefreshToken t;
        t.id = new_uuid_v7();
        t.user_id = u.id;
        t.family_id = family;
        t.token_sha256 = new_uuid_v7();
        t.created_at = at(10);
        t.expires_at = at(86'400'000);
        return t;
    }

    ApiKey key(const User& u, TimePoint created) {
        ApiKey k;
        k.id = new_uuid_v7();
        k.user_id = u.id;
        k.name = "key " + k.id;
        k.prefix = "pk_" + k.id.substr(0, 6);
        k.key_sha256 = new_uuid_v7();
        k.scopes = 5;
        k.created_at = created;
        return k;
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<TestDatabase> db_;
    std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends,
    AuthStoreTest,
    ::testing::ValuesIn(testing::all_backends()),
    testing::backend_param_name
);

TEST_P(AuthStoreTest, UsersRoundTripAndEmailsAreUniqueIgnoringCase) {
    const auto u = make_user("MixedCase@Example.com");
    const auto by_id = run_awaitable(store_->find_user(u.id));
    ASSERT_TRUE(by_id.has_value() && by_id->has_value());
    EXPECT_EQ((*by_id)->email, "MixedCase@Example.com");
    EXPECT_EQ((*by_id)->password_hash, "hash");
    EXPECT_EQ((*by_id)->created_at, u.created_at);

    const auto by_email = run_awaitable(store_->find_user_by_email("mixedcase@example.COM"));
    ASSERT_TRUE(by_email.has_value() && by_email->has_value());
    EXPECT_EQ((*by_email)->id, u.id);

    User twin{new_uuid_v7(), "MIXEDCASE@example.com", "h", at(0)};
    const auto again = run_awaitable(store_->create_user(twin));
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().type, ErrorType::conflict);

    EXPECT_FALSE(run_awaitable(store_->find_user(new_uuid_v7()))->has_value());
    EXPECT_FALSE(run_awaitable(store_->find_user_by_email("nobody@example.com"))->has_value());
}

TEST_P(AuthStoreTest, CaseFoldingOfEmailsIsAsciiOnly) {
    // SQLite's NOCASE folds ASCII letters only; PostgreSQL's lower() under "C" does the same.
    make_user("émile@example.com");
    EXPECT_TRUE(
        run_awaitable(store_->find_user_by_email("ÉMILE@example.com"))->has_value() == false
    );
    EXPECT_TRUE(run_awaitable(store_->find_user_by_email("éMILE@EXAMPLE.com"))->has_value());
}

TEST_P(AuthStoreTest, RefreshTokensRotateOnce) {
    const auto u = make_user();
    const auto first = token(u, "family-1");
    ASSERT_TRUE(run_awaitable(store_->insert_refresh_token(first)).has_value());

    const auto found = run_awaitable(store_->find_refresh_token(first.token_sha256));
    ASSERT_TRUE(found.has_value() && found->has_value());
    EXPECT_EQ((*found)->id, first.id);
    EXPECT_EQ((*found)->family_id, "family-1");
    EXPECT_EQ((*found)->expires_at, first.expires_at);
    EXPECT_FALSE((*found)->revoked_at.has_value());
    EXPECT_FALSE((*found)->replaced_by.has_value());

    const auto second = token(u, "family-1");
    const auto rotated = run_awaitable(store_->rotate_refresh_token(first.id, second, at(20)));
    ASSERT_TRUE(rotated.has_value()) << rotated.error().detail;
    EXPECT_TRUE(*rotated);
    const auto old = run_awaitable(store_->find_refresh_token(first.token_sha256));
    EXPECT_EQ((*old)->revoked_at, at(20));
    EXPECT_EQ((*old)->replaced_by, second.id);
    EXPECT_TRUE(run_awaitable(store_->find_refresh_token(second.token_sha256))->has_value());

    // Presenting the rotated token again changes nothing.
    const auto third = token(u, "family-1");
    const auto reused = run_awaitable(store_->rotate_refresh_token(first.id, third, at(30)));
    ASSERT_TRUE(reused.has_value());
    EXPECT_FALSE(*reused);
    EXPECT_FALSE(run_awaitable(store_->find_refresh_token(third.token_sha256))->has_value());
    EXPECT_EQ((*run_awaitable(store_->find_refresh_token(first.token_sha256)))->revoked_at, at(20));
}

TEST_P(AuthStoreTest, ARotationWhoseReplacementFailsChangesNothing) {
    const auto u = make_user();
    const auto first = token(u, "f");
    const auto other = token(u, "f");
    ASSERT_TRUE(run_awaitable(store_->insert_refresh_token(first)).has_value());
    ASSERT_TRUE(run_awaitable(store_->insert_refresh_token(other)).has_value());

    auto clash = token(u, "f");
    clash.token_sha256 = other.token_sha256;  // a unique violation inside the transaction
    const auto r = run_awaitable(store_->rotate_refresh_token(first.id, clash, at(20)));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().type, ErrorType::conflict);
    const auto still = run_awaitable(store_->find_refresh_token(first.token_sha256));
    EXPECT_FALSE((*still)->revoked_at.has_value()) << "the revocation was rolled back";

    // The store is usable afterwards (the connection was not left inside the transaction).
    const auto next = token(u, "f");
    EXPECT_TRUE(*run_awaitable(store_->rotate_refresh_token(first.id, next, at(30))));
}

TEST_P(AuthStoreTest, ConcurrentRotationsOfOneTokenLetExactlyOneWin) {
    const auto u = make_user();
    const auto first = token(u, "race");
    ASSERT_TRUE(run_awaitable(store_->insert_refresh_token(first)).has_value());

    constexpr int kRacers = 6;
    boost::asio::io_context ctx;
    int wins = 0;
    int losses = 0;
    for (int i = 0; i < kRacers; ++i) {
        boost::asio::co_spawn(
            ctx,
            store_->rotate_refresh_token(first.id, token(u, "race"), at(40)),
            [&](std::exception_ptr e, Result<bool> r) {
                ASSERT_FALSE(e);
                ASSERT_TRUE(r.has_value()) << r.error().detail;
                (*r ? wins : losses)++;
            }
        );
    }
    ctx.run();
    EXPECT_EQ(wins, 1);
    EXPECT_EQ(losses, kRacers - 1);
}

TEST_P(AuthStoreTest, RevokingAFamilyRevokesOnlyItsUnrevokedTokens) {
    const auto u = make_user();
    const auto a = token(u, "fam-a");
    const auto b = token(u, "fam-a");
    const auto other = token(u, "fam-b");
    for (const auto& t : {a, b, other}) {
        ASSERT_TRUE(run_awaitable(store_->insert_refresh_token(t)).has_value());
    }
    ASSERT_TRUE(*run_awaitable(store_->rotate_refresh_token(a.id, token(u, "fam-a"), at(50))));
    ASSERT_TRUE(run_awaitable(store_->revoke_refresh_family("fam-a", at(60))).has_value());
    EXPECT_EQ((*run_awaitable(store_->find_refresh_token(a.token_sha256)))->revoked_at, at(50));
    EXPECT_EQ((*run_awaitable(store_->find_refresh_token(b.token_sha256)))->revoked_at, at(60));
    EXPECT_FALSE(
        (*run_awaitable(store_->find_refresh_token(other.token_sha256)))->revoked_at.has_value()
    );
}

TEST_P(AuthStoreTest, ApiKeysListNewestFirstAndRevokeOnlyForTheirOwner) {
    const auto u = make_user();
    const auto stranger = make_user();
    auto older = key(u, at(100));
    older.expires_at = at(999'000);
    const auto newer = key(u, at(200));
    const auto theirs = key(stranger, at(300));
    for (const auto& k : {older, newer, theirs}) {
        ASSERT_TRUE(run_awaitable(store_->create_api_key(k)).has_value());
    }

    const auto listed = run_awaitable(store_->list_api_keys(u.id));
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->size(), 2U);
    EXPECT_EQ((*listed)[0].id, newer.id);
    EXPECT_EQ((*listed)[1].id, older.id);
    EXPECT_EQ((*listed)[1].scopes, 5U);
    EXPECT_EQ((*listed)[1].expires_at, at(999'000));
    EXPECT_FALSE((*listed)[1].last_used_at.has_value());

    const auto found = run_awaitable(store_->find_api_key(newer.key_sha256));
    ASSERT_TRUE(found.has_value() && found->has_value());
    EXPECT_EQ((*found)->prefix, newer.prefix);
    EXPECT_EQ((*found)->name, newer.name);

    ASSERT_TRUE(run_awaitable(store_->touch_api_key(newer.id, at(250))).has_value());
    EXPECT_EQ((*run_awaitable(store_->find_api_key(newer.key_sha256)))->last_used_at, at(250));

    EXPECT_FALSE(*run_awaitable(store_->revoke_api_key(newer.id, stranger.id, at(260))));
    EXPECT_TRUE(*run_awaitable(store_->revoke_api_key(newer.id, u.id, at(260))));
    EXPECT_FALSE(*run_awaitable(store_->revoke_api_key(newer.id, u.id, at(270))));
    const auto after = run_awaitable(store_->list_api_keys(u.id));
    ASSERT_EQ(after->size(), 1U);
    EXPECT_EQ((*after)[0].id, older.id);
    EXPECT_EQ((*run_awaitable(store_->find_api_key(newer.key_sha256)))->revoked_at, at(260));
}

TEST_P(AuthStoreTest, MigrationsApplyOnceInOrderAndPingAnswers) {
    // SetUp applied them all; a second run, and another store on the same database, apply nothing.
    const auto again = store_->migrate();
    ASSERT_TRUE(again.has_value()) << again.error().detail;
    EXPECT_TRUE(again->empty());
    auto other = db_->open(pool_);
    const auto applied = other->applied_migrations();
    ASSERT_TRUE(applied.has_value());
    ASSERT_FALSE(applied->empty());
    for (std::size_t i = 1; i < applied->size(); ++i) {
        EXPECT_LT((*applied)[i - 1], (*applied)[i]);
    }
    EXPECT_TRUE(other->migrate()->empty());
    EXPECT_TRUE(run_awaitable(other->ping()).has_value());
}

}  // namespace
}  // namespace parley::store
