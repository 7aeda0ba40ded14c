// AuthService against a real SQLite store in a temporary directory, with a clock the test moves:
// the time-dependent rules (refresh and API key expiry, last-use recording) that the integration
// tests cannot wait for.
#include "auth/service.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"

namespace parley::auth {
namespace {

namespace fs = std::filesystem;
using testing::run_awaitable;

class AuthServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("parley-auth-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        auto opened =
            store::open_store({store::DatabaseUrl::Kind::sqlite, (dir_ / "t.db").string()}, pool_);
        ASSERT_TRUE(opened.has_value());
        store_ = std::move(*opened);
        ASSERT_TRUE(store_->migrate().has_value());
        AuthOptions options;
        options.jwt.secret = std::string(40, 's');
        options.jwt.lifetime = std::chrono::minutes(30);
        options.refresh_lifetime = std::chrono::hours(24);
        service_ = std::make_unique<AuthService>(*store_, pool_, options, [this] { return now_; });
    }

    void TearDown() override {
        service_.reset();
        store_.reset();
        fs::remove_all(dir_);
    }

    Session register_user(const std::string& email) {
        auto s = run_awaitable(service_->register_user(email, "CorrectHorse1"));
        EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
        return *s;
    }

    fs::path dir_;
    async::BlockingPool pool_{2};
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<AuthService> service_;
    TimePoint now_ = *parse_iso8601("2026-11-25T12:00:00Z");
};

TEST_F(AuthServiceTest, RefreshTokenExpiresAfterItsLifetime) {
    const auto s = register_user("expiry@example.com");
    now_ += std::chrono::hours(23);
    auto rotated = run_awaitable(service_->refresh(s.refresh_token));
    ASSERT_TRUE(rotated.has_value()) << "still within 24 h";
    now_ += std::chrono::hours(24) + std::chrono::seconds(1);
    auto expired = run_awaitable(service_->refresh(rotated->refresh_token));
    ASSERT_FALSE(expired.has_value());
    EXPECT_EQ(expired.error().type, ErrorType::authentication);
}

TEST_F(AuthServiceTest, AccessTokenExpiresAfterItsLifetime) {
    const auto s = register_user("jwt@example.com");
    EXPECT_TRUE(run_awaitable(service_->authenticate(s.access_token)).has_value());
    now_ += std::chrono::minutes(31);
    const auto late = run_awaitable(service_->authenticate(s.access_token));
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error().type, ErrorType::authentication);
}

// Verified tokens are remembered (VerifiedTokens): a token that differs by one character is
// still refused after the genuine one was accepted, and a clock set back before the token's iat
// (beyond the leeway) refuses it as a fresh verification does.
TEST_F(AuthServiceTest, ARememberedTokenIsStillCheckedLikeAFreshOne) {
    const auto s = register_user("remembered@example.com");
    ASSERT_TRUE(run_awaitable(service_->authenticate(s.access_token)).has_value());
    EXPECT_TRUE(run_awaitable(service_->authenticate(s.access_token)).has_value());
    std::string forged = s.access_token;
    forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(run_awaitable(service_->authenticate(forged)).has_value());
    now_ -= std::chrono::minutes(5);
    const auto early = run_awaitable(service_->authenticate(s.access_token));
    ASSERT_FALSE(early.has_value());
    EXPECT_EQ(early.error().type, ErrorType::authentication);
    now_ += std::chrono::minutes(5) + std::chrono::seconds(10);
    EXPECT_TRUE(run_awaitable(service_->authenticate(s.access_token)).has_value());
}

TEST_F(AuthServiceTest, ReuseOfARotatedTokenRevokesTheFamily) {
    const auto s = register_user("reuse@example.com");
    const auto second = run_awaitable(service_->refresh(s.refresh_token));
    ASSERT_TRUE(second.has_value());
    const auto third = run_awaitable(service_->refresh(second->refresh_token));
    ASSERT_TRUE(third.has_value());
    // The first token comes back: everything from that login is revoked, including the newest.
    EXPECT_FALSE(run_awaitable(service_->refresh(s.refresh_token)).has_value());
    EXPECT_FALSE(run_awaitable(service_->refresh(third->refresh_token)).has_value());
    // Another login is another family and is unaffected.
    const auto other = run_awaitable(service_->login("reuse@example.com", "CorrectHorse1"));
    ASSERT_TRUE(other.has_value());
    EXPECT_TRUE(run_awaitable(service_->refresh(other->refresh_token)).has_value());
}

TEST_F(AuthServiceTest, ApiKeyExpiresAndRecordsUseAtMostOncePerMinute) {
    const auto s = register_user("keys@example.com");
    const Principal owner{s.user.id, {}, kAllScopes};
    auto created = run_awaitable(service_->create_api_key(
        owner, "ci", static_cast<unsigned>(Scope::read), now_ + std::chrono::hours(1)
    ));
    ASSERT_TRUE(created.has_value());
    const auto& key = created->key;

    const auto who = run_awaitable(service_->authenticate(key));
    ASSERT_TRUE(who.has_value());
    EXPECT_EQ(who->user_id, s.user.id);
    EXPECT_EQ(who->api_key_id, created->record.id);
    EXPECT_TRUE(who->has(Scope::read));
    EXPECT_FALSE(who->has(Scope::write));

    auto listed = run_awaitable(service_->list_api_keys(owner));
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->size(), 1U);
    ASSERT_TRUE((*listed)[0].last_used_at.has_value());
    const auto first_use = *(*listed)[0].last_used_at;
    EXPECT_EQ(first_use, now_);

    now_ += std::chrono::seconds(30);
    ASSERT_TRUE(run_awaitable(service_->authenticate(key)).has_value());
    listed = run_awaitable(service_->list_api_keys(owner));
    EXPECT_EQ(*(*listed)[0].last_used_at, first_use) << "not rewritten within a minute";

    now_ += std::chrono::seconds(31);
    ASSERT_TRUE(run_awaitable(service_->authenticate(key)).has_value());
    listed = run_awaitable(service_->list_api_keys(owner));
    EXPECT_EQ(*(*listed)[0].last_used_at, now_);

    now_ += std::chrono::hours(1);
    const auto expired = run_awaitable(service_->authenticate(key));
    ASSERT_FALSE(expired.has_value());
    EXPECT_EQ(expired.error().type, ErrorType::authentication);
}

TEST_F(AuthServiceTest, KeysCannotExceedTheirCreatorsScopes) {
    const auto s = register_user("scopes@example.com");
    const Principal read_only{s.user.id, "some-key", static_cast<unsigned>(Scope::read)};
    const auto denied =
        run_awaitable(service_->create_api_key(read_only, "x", kAllScopes, std::nullopt));
    ASSERT_FALSE(denied.has_value());
    EXPECT_EQ(denied.error().type, ErrorType::permission);
}

TEST_F(AuthServiceTest, RevokedKeyStopsWorkingAndOnlyItsOwnerCanRevokeIt) {
    const auto a = register_user("a@example.com");
    const auto b = register_user("b@example.com");
    const Principal owner{a.user.id, {}, kAllScopes};
    const Principal stranger{b.user.id, {}, kAllScopes};
    auto created = run_awaitable(service_->create_api_key(owner, "k", kAllScopes, std::nullopt));
    ASSERT_TRUE(created.has_value());

    const auto by_stranger = run_awaitable(service_->revoke_api_key(stranger, created->record.id));
    ASSERT_FALSE(by_stranger.has_value());
    EXPECT_EQ(by_stranger.error().type, ErrorType::not_found);
    EXPECT_TRUE(run_awaitable(service_->authenticate(created->key)).has_value());

    ASSERT_TRUE(run_awaitable(service_->revoke_api_key(owner, created->record.id)).has_value());
    EXPECT_FALSE(run_awaitable(service_->authenticate(created->key)).has_value());
    EXPECT_TRUE(run_awaitable(service_->list_api_keys(owner))->empty());
}

// The server's configuration: keys and accounts through the access cache (issue 14). The clock
// stands still unless a test moves it, so the cache's copies stay fresh throughout.
class CachedAuthServiceTest : public AuthServiceTest {
protected:
    void SetUp() override {
        AuthServiceTest::SetUp();
        cache_ = std::make_unique<AccessCache>(*store_, std::chrono::seconds(2), [this] {
            return now_;
        });
        service_ = std::make_unique<AuthService>(
            *store_,
            pool_,
            service_->options(),
            [this] { return now_; },
            AccountControls{nullptr, cache_.get(), nullptr}
        );
    }

    void TearDown() override {
        service_.reset();
        cache_.reset();
        AuthServiceTest::TearDown();
    }

    // A new account with a key of every scope, used once (so the cache holds the key).
    struct Keyed {
        Session session;
        Principal owner;
        CreatedApiKey created;
    };

    Keyed keyed_account(const std::string& email) {
        Keyed k{register_user(email), {}, {}};
        k.owner = Principal{k.session.user.id, {}, kAllScopes};
        auto created =
            run_awaitable(service_->create_api_key(k.owner, "ci", kAllScopes, std::nullopt));
        EXPECT_TRUE(created.has_value());
        if (created) {
            k.created = std::move(*created);
            EXPECT_TRUE(run_awaitable(service_->authenticate(k.created.key)).has_value());
        }
        return k;
    }

    std::unique_ptr<AccessCache> cache_;
};

TEST_F(CachedAuthServiceTest, AKeyRevokedOnThisInstanceIsRefusedAtOnce) {
    const auto k = keyed_account("cached-revoke@example.com");
    ASSERT_TRUE(run_awaitable(service_->revoke_api_key(k.owner, k.created.record.id)).has_value());
    const auto refused = run_awaitable(service_->authenticate(k.created.key));
    ASSERT_FALSE(refused.has_value()) << "the cached copy must be dropped by the revocation";
    EXPECT_EQ(refused.error().type, ErrorType::authentication);
}

TEST_F(CachedAuthServiceTest, ACachedKeyRecordsItsUseOncePerMinute) {
    const auto first_use = now_;
    const auto k = keyed_account("cached-touch@example.com");  // first use: recorded
    now_ += std::chrono::milliseconds(10);  // the key's cached copy is still fresh
    ASSERT_TRUE(run_awaitable(service_->authenticate(k.created.key)).has_value());
    const auto listed = run_awaitable(service_->list_api_keys(k.owner));
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->size(), 1U);
    EXPECT_EQ((*listed)[0].last_used_at, first_use) << "written once, not again from the cache";
}

TEST_F(CachedAuthServiceTest, ADisabledAccountsKeyIsRefusedOnceTheAccountIsReadAgain) {
    const auto k = keyed_account("cached-disabled@example.com");
    const auto& s = k.session;
    auto& admin = store::admin_store(*store_);
    auto access = run_awaitable(admin.find_user_access(s.user.id));
    ASSERT_TRUE(access.has_value() && access->has_value());
    (*access)->disabled_at = now_;
    ASSERT_TRUE(run_awaitable(admin.update_user_access(**access)).has_value());
    cache_->invalidate(s.user.id);  // what the admin service does on this instance
    EXPECT_FALSE(run_awaitable(service_->authenticate(k.created.key)).has_value());
    EXPECT_FALSE(run_awaitable(service_->authenticate(s.access_token)).has_value());
}

TEST_F(AuthServiceTest, StoresOnlyHashes) {
    const auto s = register_user("hashes@example.com");
    auto created = run_awaitable(
        service_->create_api_key({s.user.id, {}, kAllScopes}, "k", kAllScopes, std::nullopt)
    );
    ASSERT_TRUE(created.has_value());
    EXPECT_NE(created->record.key_sha256, created->key);
    EXPECT_EQ(created->record.key_sha256.size(), 64U);
    const auto user = run_awaitable(store_->find_user_by_email("hashes@example.com"));
    ASSERT_TRUE(user.has_value() && user->has_value());
    EXPECT_EQ((*user)->password_hash.rfind("$argon2id$", 0), 0U);
    EXPECT_EQ((*user)->password_hash.find("CorrectHorse1"), std::string::npos);
}

}  // namespace
}  // namespace parley::auth
