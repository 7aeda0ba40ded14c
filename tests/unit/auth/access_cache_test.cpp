// auth::AccessCache against a real SQLite store, with a clock the test moves: accounts and API
// keys are read from the store once per ttl, changes made behind the cache's back (another
// instance) are seen once the ttl has passed, and changes made through it at once.
#include "auth/access_cache.hpp"

#include <gtest/gtest.h>

#include "common/ids.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::auth {
namespace {

using namespace std::chrono_literals;
using testing::run_awaitable;

class AccessCacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = db_.open(pool_);
        ASSERT_NE(store_, nullptr);
        ASSERT_TRUE(store_->migrate().has_value());
        user_ = store::User{new_uuid_v7(), "cache@example.com", "hash", now_};
        ASSERT_TRUE(run_awaitable(store_->create_user(user_)).has_value());
        key_.id = new_uuid_v7();
        key_.user_id = user_.id;
        key_.name = "ci";
        key_.prefix = "prly_abcdefg";
        key_.key_sha256 = std::string(64, 'a');
        key_.scopes = 1;
        key_.created_at = now_;
        ASSERT_TRUE(run_awaitable(store_->create_api_key(key_)).has_value());
    }

    void TearDown() override { store_.reset(); }

    // Another instance revokes the key: straight in the store, past this cache.
    void revoke_in_store() {
        const auto revoked = run_awaitable(store_->revoke_api_key(key_.id, user_.id, now_));
        ASSERT_TRUE(revoked.has_value() && *revoked);
    }

    std::optional<store::ApiKey> lookup(AccessCache& cache, const std::string& sha256) {
        auto found = run_awaitable(cache.api_key(sha256));
        EXPECT_TRUE(found.has_value());
        return found ? *found : std::nullopt;
    }

    testing::TestDatabase db_{testing::Backend::sqlite};
    async::BlockingPool pool_{2};
    std::unique_ptr<store::Store> store_;
    store::User user_;
    store::ApiKey key_;
    TimePoint now_ = *parse_iso8601("2026-11-25T12:00:00Z");
};

TEST_F(AccessCacheTest, ApiKeysAreKeptAtMostOneSecondEvenWithALongerAccountTtl) {
    AccessCache cache(*store_, 60s, [this] { return now_; });
    const auto first = lookup(cache, key_.key_sha256);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->id, key_.id);
    EXPECT_FALSE(first->revoked_at.has_value());

    revoke_in_store();
    now_ += 999ms;
    const auto cached = lookup(cache, key_.key_sha256);
    ASSERT_TRUE(cached.has_value());
    EXPECT_FALSE(cached->revoked_at.has_value()) << "still the copy read 999 ms ago";

    now_ += 1ms;
    const auto reread = lookup(cache, key_.key_sha256);
    ASSERT_TRUE(reread.has_value());
    EXPECT_TRUE(reread->revoked_at.has_value()) << "read again after kMaxKeyTtl";
}

TEST_F(AccessCacheTest, ApiKeysFollowAShorterAccountTtl) {
    AccessCache cache(*store_, 300ms, [this] { return now_; });
    ASSERT_TRUE(lookup(cache, key_.key_sha256).has_value());
    revoke_in_store();
    now_ += 300ms;
    const auto reread = lookup(cache, key_.key_sha256);
    ASSERT_TRUE(reread.has_value());
    EXPECT_TRUE(reread->revoked_at.has_value());
}

TEST_F(AccessCacheTest, AForgottenKeyIsReadAgainAtOnce) {
    AccessCache cache(*store_, 60s, [this] { return now_; });
    ASSERT_TRUE(lookup(cache, key_.key_sha256).has_value());
    revoke_in_store();
    cache.forget_api_key("some-other-key");
    EXPECT_FALSE(lookup(cache, key_.key_sha256)->revoked_at.has_value());
    cache.forget_api_key(key_.id);
    const auto reread = lookup(cache, key_.key_sha256);
    ASSERT_TRUE(reread.has_value());
    EXPECT_TRUE(reread->revoked_at.has_value());
}

TEST_F(AccessCacheTest, UnknownKeysAreNotKeptSoANewKeyWorksAtOnce) {
    AccessCache cache(*store_, 60s, [this] { return now_; });
    const std::string other(64, 'b');
    EXPECT_FALSE(lookup(cache, other).has_value());
    store::ApiKey created = key_;
    created.id = new_uuid_v7();
    created.key_sha256 = other;
    ASSERT_TRUE(run_awaitable(store_->create_api_key(created)).has_value());
    const auto found = lookup(cache, other);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->id, created.id);
}

TEST_F(AccessCacheTest, RecordedUseUpdatesTheCachedCopy) {
    AccessCache cache(*store_, 60s, [this] { return now_; });
    ASSERT_FALSE(lookup(cache, key_.key_sha256)->last_used_at.has_value());
    cache.api_key_used(key_.key_sha256, now_);
    const auto used = lookup(cache, key_.key_sha256);
    ASSERT_TRUE(used.has_value());
    EXPECT_EQ(used->last_used_at, now_);
}

TEST_F(AccessCacheTest, ZeroTtlReadsTheStoreEveryTime) {
    AccessCache cache(*store_, 0ms, [this] { return now_; });
    ASSERT_TRUE(lookup(cache, key_.key_sha256).has_value());
    revoke_in_store();
    EXPECT_TRUE(lookup(cache, key_.key_sha256)->revoked_at.has_value());
}

TEST_F(AccessCacheTest, AccountsAreKeptForTheirTtlAndInvalidatedAtOnce) {
    AccessCache cache(*store_, 2s, [this] { return now_; });
    auto& admin = store::admin_store(*store_);
    const auto before = run_awaitable(cache.get(user_.id));
    ASSERT_TRUE(before.has_value() && before->has_value());
    EXPECT_FALSE((*before)->disabled());

    auto disabled = **before;
    disabled.disabled_at = now_;
    ASSERT_TRUE(run_awaitable(admin.update_user_access(disabled)).has_value());
    now_ += 1999ms;
    EXPECT_FALSE((*run_awaitable(cache.get(user_.id)))->disabled()) << "within the ttl";
    EXPECT_TRUE((*run_awaitable(cache.get(user_.id, /*fresh=*/true)))->disabled());

    disabled.disabled_at.reset();
    ASSERT_TRUE(run_awaitable(admin.update_user_access(disabled)).has_value());
    cache.invalidate(user_.id);
    EXPECT_FALSE((*run_awaitable(cache.get(user_.id)))->disabled()) << "invalidated";
}

}  // namespace
}  // namespace parley::auth
