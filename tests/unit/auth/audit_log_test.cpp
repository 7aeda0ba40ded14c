// The audit log's writer on every backend: a commit returns once its row is stored, concurrent
// commits share batches and all land, recorded (not awaited) events are written by close(), keys
// that name a secret never reach a row, and a store that keeps failing fails the commit after its
// attempts instead of hanging.
#include "auth/audit_log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::auth {
namespace {

using testing::run_awaitable;
using testing::TestDatabase;

class AuditLogTest : public ::testing::TestWithParam<testing::Backend> {
protected:
    void SetUp() override {
        db_ = std::make_unique<TestDatabase>(GetParam());
        if (!db_->available()) {
            GTEST_SKIP() << "no PostgreSQL server configured (PARLEY_TEST_DATABASE_URL)";
        }
        store_ = db_->open(pool_);
        ASSERT_TRUE(store_->migrate().has_value());
        admin_ = &store::admin_store(*store_);
    }

    void TearDown() override {
        store_.reset();
        db_.reset();
    }

    std::vector<store::AuditEvent> rows() {
        auto page = run_awaitable(admin_->list_audit_events({}, 0, 1000));
        EXPECT_TRUE(page.has_value());
        return page ? page->items : std::vector<store::AuditEvent>{};
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<TestDatabase> db_;
    std::unique_ptr<store::Store> store_;
    store::AdminStore* admin_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(
    Backends,
    AuditLogTest,
    ::testing::ValuesIn(testing::all_backends()),
    testing::backend_param_name
);

boost::asio::awaitable<Result<void>> commit_one(AuditLog* log, std::string user) {
    AuditRecord r{audit_kind::login, std::move(user), std::nullopt, "10.0.0.1", {{"n", 1}}};
    co_return co_await log->commit(std::move(r));
}

TEST_P(AuditLogTest, CommitReturnsOnceTheRowIsStored) {
    AuditLog log(*admin_);
    const auto done = run_awaitable(commit_one(&log, "user-1"));
    ASSERT_TRUE(done.has_value()) << done.error().detail;
    const auto stored = rows();  // before close(): the commit itself waited for the row
    ASSERT_EQ(stored.size(), 1U);
    EXPECT_EQ(stored[0].kind, "login");
    EXPECT_EQ(stored[0].user_id, "user-1");
    EXPECT_EQ(stored[0].ip, "10.0.0.1");
    EXPECT_EQ(stored[0].detail, R"({"n":1})");
}

TEST_P(AuditLogTest, ConcurrentCommitsAllLand) {
    AuditLog log(*admin_);
    boost::asio::io_context ctx;
    constexpr int kCommits = 200;
    int succeeded = 0;
    for (int i = 0; i < kCommits; ++i) {
        boost::asio::co_spawn(
            ctx,
            commit_one(&log, "user-" + std::to_string(i)),
            [&succeeded](const std::exception_ptr& e, const Result<void>& r) {
                if (!e && r) {
                    ++succeeded;
                }
            }
        );
    }
    ctx.run();
    EXPECT_EQ(succeeded, kCommits);
    EXPECT_EQ(rows().size(), static_cast<std::size_t>(kCommits));
}

TEST_P(AuditLogTest, RecordedEventsAreWrittenByClose) {
    AuditLog log(*admin_);
    for (int i = 0; i < 3; ++i) {
        log.record({audit_kind::login_failed, std::nullopt, std::nullopt, std::nullopt, {}});
    }
    log.close();
    log.close();  // idempotent
    const auto stored = rows();
    ASSERT_EQ(stored.size(), 3U);
    for (const auto& e : stored) {
        EXPECT_EQ(e.kind, "login_failed");
        EXPECT_FALSE(e.user_id.has_value());
    }
    EXPECT_EQ(log.dropped(), 0U);
}

TEST_P(AuditLogTest, KeysThatNameASecretNeverReachARow) {
    AuditLog log(*admin_);
    log.record(
        {audit_kind::signup,
         "user-1",
         std::nullopt,
         std::nullopt,
         {{"password", "hunter2"},
          {"refresh_token", "rt"},
          {"Access_Token", "at"},
          {"key", "prly_secret"},
          {"password_hash", "$argon2id$"},
          {"key_id", "k-1"},
          {"email", "a@example.com"}}}
    );
    log.close();
    const auto stored = rows();
    ASSERT_EQ(stored.size(), 1U);
    EXPECT_EQ(stored[0].detail, R"({"key_id":"k-1","email":"a@example.com"})");
}

TEST(AuditLogSecrets, SecretKeyNames) {
    for (const auto* key :
         {"password",
          "new_password",
          "token",
          "refresh_token",
          "secret",
          "key_hash",
          "key_sha256",
          "Authorization",
          "credential",
          "key"}) {
        EXPECT_TRUE(AuditLog::secret_key(key)) << key;
    }
    for (const auto* key : {"key_id", "name", "email", "reason", "family_id", "scopes"}) {
        EXPECT_FALSE(AuditLog::secret_key(key)) << key;
    }
}

// A store whose audit writes always fail (the database is down).
class FailingStore final : public store::AdminStore {
public:
    int attempts = 0;

    boost::asio::awaitable<Result<std::optional<store::UserAccess>>> find_user_access(std::string
    ) override {
        co_return down();
    }

    boost::asio::awaitable<Result<store::Page<store::AdminUser>>> list_users(
        std::int64_t, std::int64_t
    ) override {
        co_return down();
    }

    boost::asio::awaitable<Result<bool>> update_user_access(store::UserAccess) override {
        co_return down();
    }

    boost::asio::awaitable<Result<std::vector<std::string>>>
    promote_admins(std::vector<std::string>) override {
        co_return down();
    }

    boost::asio::awaitable<Result<std::optional<std::string>>> promote_first_user() override {
        co_return down();
    }

    boost::asio::awaitable<Result<void>> insert_audit_events(std::vector<store::AuditEvent>)
        override {
        ++attempts;
        co_return down();
    }

    boost::asio::awaitable<Result<store::Page<store::AuditEvent>>> list_audit_events(
        store::AuditFilter, std::int64_t, std::int64_t
    ) override {
        co_return down();
    }

    boost::asio::awaitable<Result<std::vector<store::ModelDayUsage>>>
    usage_by_day_and_model(std::optional<std::string>, std::optional<TimePoint>, std::optional<TimePoint>)
        override {
        co_return down();
    }

private:
    static Error down() { return make_error(ErrorType::overloaded, "database unavailable"); }
};

TEST(AuditLogFailures, ACommitFailsAfterItsAttemptsAndCloseGivesUp) {
    FailingStore failing;
    AuditOptions options;
    options.attempts = 3;
    options.backoff = std::chrono::milliseconds(1);
    options.pause_after_failure = std::chrono::milliseconds(1);
    AuditLog log(failing, options);
    const auto done = run_awaitable(commit_one(&log, "user-1"));
    ASSERT_FALSE(done.has_value());
    EXPECT_EQ(done.error().type, ErrorType::overloaded);
    log.close();  // the kept event is tried once more at close, then dropped: no hang
    EXPECT_GE(failing.attempts, 3);
    EXPECT_EQ(log.dropped(), 1U);
}

TEST(AuditLogFailures, TheQueueIsBoundedWhileTheDatabaseFails) {
    FailingStore failing;
    AuditOptions options;
    options.attempts = 1;
    options.backoff = std::chrono::milliseconds(1);
    options.pause_after_failure = std::chrono::milliseconds(1);
    options.max_pending = 5;
    AuditLog log(failing, options);
    for (int i = 0; i < 50; ++i) {
        log.record({audit_kind::login_failed, std::nullopt, std::nullopt, std::nullopt, {}});
    }
    log.close();
    EXPECT_EQ(log.dropped(), 50U);  // at most 5 queued at any time, and none could be written
}

}  // namespace
}  // namespace parley::auth
