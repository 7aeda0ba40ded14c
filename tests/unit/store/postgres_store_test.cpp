// What only the PostgreSQL store has: a server that restarts or goes away under an open pool, the
// pool's bound, migrations racing from two instances, and the schema it creates. The shared
// behaviour is in the backend-parameterised suites.
#include <array>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"
#include "common/time.hpp"
#include "store/migrations.hpp"
#include "store/postgres/pg_connection.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::store {
namespace {

using testing::admin_query;
using testing::run_awaitable;
using testing::TestDatabase;

// Runs scripts/pg-temp with `args`; its standard output, trimmed. Fails the test on a non-zero
// exit.
std::string pg_temp(const std::string& args) {
    const std::string command = std::string(PARLEY_SOURCE_DIR) + "/scripts/pg-temp " + args;
    FILE* p = ::popen(command.c_str(), "r");
    std::string out;
    std::array<char, 256> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), p) != nullptr) {
        out += buffer.data();
    }
    const int status = ::pclose(p);
    EXPECT_EQ(status, 0) << command;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
        out.pop_back();
    }
    return out;
}

User some_user() {
    return User{new_uuid_v7(), new_uuid_v7() + "@example.com", "hash", system_now()};
}

class PostgresStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        db_ = std::make_unique<TestDatabase>(testing::Backend::postgres);
        if (!db_->available()) {
            GTEST_SKIP() << "no PostgreSQL server configured (PARLEY_TEST_DATABASE_URL)";
        }
    }

    void TearDown() override { db_.reset(); }

    async::BlockingPool pool_{2};
    std::unique_ptr<TestDatabase> db_;
};

// A UTC session's timestamptz text is read on a fast path; every form PostgreSQL prints (fraction
// digits from none to six, other offsets) reads as the RFC 3339 reader reads the same time, and
// what that reader refuses stays refused.
TEST(PgTimestamp, TheUtcFormReadsAsRfc3339) {
    const std::vector<std::pair<std::string, std::string>> same{
        {"2026-11-25 12:00:00+00", "2026-11-25T12:00:00Z"},
        {"2026-11-25 12:00:00.1+00", "2026-11-25T12:00:00.1Z"},
        {"2026-12-03 10:07:21.201+00", "2026-12-03T10:07:21.201Z"},
        {"2026-12-03 10:07:21.000999+00", "2026-12-03T10:07:21.000999Z"},
        {"2024-02-29 23:59:59.123456+00", "2024-02-29T23:59:59.123456Z"},
        {"1970-01-01 00:00:00+00", "1970-01-01T00:00:00Z"},
        {"2026-11-25 17:30:00.5+05:30", "2026-11-25T17:30:00.5+05:30"},
        {"2026-11-25 07:00:00-05", "2026-11-25T07:00:00-05:00"},
    };
    for (const auto& [pg, rfc] : same) {
        const auto got = postgres::parse_pg_timestamp(pg);
        ASSERT_TRUE(got.has_value()) << pg;
        EXPECT_EQ(got, parse_iso8601(rfc)) << pg;
    }
    for (const std::string bad :
         {"2026-02-30 12:00:00+00",
          "1969-12-31 23:59:59+00",
          "2026-11-25 24:00:00+00",
          "2026-11-25 12:00:00.+00",
          "2026-11-25 12:00+00",
          "2026-11-25 12:00:0x+00",
          "2026-11-25T12:00:00+00x",
          ""}) {
        EXPECT_FALSE(postgres::parse_pg_timestamp(bad).has_value()) << bad;
    }
}

TEST_F(PostgresStoreTest, SchemaHasEveryTableOfTheDataModelAndIdsCompareBytewise) {
    auto store = db_->open(pool_);
    ASSERT_TRUE(store->migrate().has_value());
    EXPECT_EQ(store->backend(), "postgresql");
    const auto url = db_->url().target;
    const auto tables = admin_query(
        url,
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables "
        "WHERE table_schema = current_schema()"
    );
    EXPECT_EQ(
        tables,
        "api_keys,audit_log,budget_spend,conversations,messages,refresh_tokens,schema_migrations,"
        "session_events,shares,usage_records,users"
    );
    EXPECT_EQ(
        admin_query(
            url,
            "SELECT collation_name FROM information_schema.columns WHERE table_name = "
            "'conversations' AND column_name = 'id'"
        ),
        "C"
    );
    EXPECT_EQ(
        admin_query(url, "SELECT count(*) FROM schema_migrations"),
        std::to_string(postgres_migrations().size())
    );
}

TEST_F(PostgresStoreTest, EveryListingIsAnIndexScan) {
    auto store = db_->open(pool_);
    ASSERT_TRUE(store->migrate().has_value());
    const auto url = db_->url().target;
    // Planner estimates on empty tables would pick sequential scans: forbid them to see whether an
    // index can serve each query at all.
    const auto plan = [&](const std::string& sql) {
        return admin_query(url, "SET enable_seqscan = off; EXPLAIN " + sql);
    };
    for (const std::string sql :
         {"SELECT * FROM conversations WHERE user_id = 'u' ORDER BY updated_at DESC, id DESC "
          "LIMIT 20",
          "SELECT * FROM conversations WHERE user_id = 'u' AND (updated_at, id) < (now(), 'x') "
          "ORDER BY updated_at DESC, id DESC LIMIT 20",
          "SELECT * FROM messages WHERE conversation_id = 'c' ORDER BY created_at, id LIMIT 20",
          "SELECT * FROM messages WHERE conversation_id = 'c' ORDER BY created_at DESC, id DESC "
          "LIMIT 20",
          "SELECT * FROM api_keys WHERE user_id = 'u' AND revoked_at IS NULL ORDER BY created_at "
          "DESC, id DESC",
          "SELECT * FROM users WHERE lower(email) = lower('a@b.c')",
          "SELECT * FROM refresh_tokens WHERE token_sha256 = 'h'",
          "SELECT * FROM refresh_tokens WHERE family_id = 'f'",
          "SELECT * FROM api_keys WHERE key_sha256 = 'h'",
          // The audit log's listings (issue 16): all, by kind, by user (about them or by them).
          "SELECT * FROM audit_log ORDER BY created_at DESC, id DESC LIMIT 20",
          "SELECT * FROM audit_log WHERE kind = 'login' ORDER BY created_at DESC, id DESC LIMIT 20",
          "SELECT * FROM audit_log WHERE user_id = 'u' OR actor_id = 'u'",
          "SELECT id FROM users WHERE role = 'admin'"}) {
        const auto p = plan(sql);
        EXPECT_EQ(p.find("Seq Scan"), std::string::npos) << sql << "\n" << p;
        EXPECT_NE(p.find("Index"), std::string::npos) << sql << "\n" << p;
    }
}

TEST_F(PostgresStoreTest, ConcurrentMigrationsFromTwoStoresApplyEachVersionOnce) {
    auto a = db_->open(pool_);
    auto b = db_->open(pool_);
    Result<std::vector<int>> ra = std::vector<int>{};
    Result<std::vector<int>> rb = std::vector<int>{};
    std::thread ta([&] { ra = a->migrate(); });
    std::thread tb([&] { rb = b->migrate(); });
    ta.join();
    tb.join();
    ASSERT_TRUE(ra.has_value()) << ra.error().detail;
    ASSERT_TRUE(rb.has_value()) << rb.error().detail;
    EXPECT_EQ(ra->size() + rb->size(), postgres_migrations().size())
        << "one of them applied everything, the other nothing";
    EXPECT_TRUE(ra->empty() || rb->empty());
    EXPECT_EQ(
        admin_query(
            db_->url().target, "SELECT count(DISTINCT version) = count(*) FROM schema_migrations"
        ),
        "t"
    );
}

TEST_F(PostgresStoreTest, MoreConcurrentOperationsThanConnectionsAllComplete) {
    constexpr std::size_t kPool = 2;
    constexpr int kThreads = 2;
    constexpr int kPerThread = 15;
    auto store = db_->open(pool_, StoreOptions{kPool});
    ASSERT_TRUE(store->migrate().has_value());

    // Two I/O threads, as the server has: connections move between their io_contexts.
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            boost::asio::io_context ctx;
            for (int i = 0; i < kPerThread; ++i) {
                boost::asio::co_spawn(
                    ctx,
                    [](Store& s, std::atomic<int>& done) -> boost::asio::awaitable<void> {
                        const auto u = some_user();
                        auto created = co_await s.create_user(u);
                        auto found = co_await s.find_user_by_email(u.email);
                        if (created && found && *found && (*found)->id == u.id) {
                            ++done;
                        }
                    }(*store, ok),
                    [](std::exception_ptr e) {
                        if (e) {
                            std::rethrow_exception(e);
                        }
                    }
                );
            }
            ctx.run();
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(ok.load(), kThreads * kPerThread);
    const auto connections = std::stoi(admin_query(
        db_->url().target,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
        "application_name = 'parley'"
    ));
    EXPECT_GE(connections, 1);
    EXPECT_LE(connections, static_cast<int>(kPool));
}

TEST_F(PostgresStoreTest, CancelledOperationsGiveTheirConnectionBack) {
    // One connection: an operation cancelled while connecting, queued or mid-query that kept its
    // slot would leave the next one waiting for the acquire timeout.
    auto store = db_->open(pool_, StoreOptions{1});
    ASSERT_TRUE(store->migrate().has_value());
    const auto u = some_user();
    ASSERT_TRUE(run_awaitable(store->create_user(u)).has_value());

    using namespace boost::asio::experimental::awaitable_operators;
    for (const auto delay : {0, 0, 1, 2, 3}) {
        boost::asio::io_context ctx;
        boost::asio::co_spawn(
            ctx,
            [](Store& s, std::string id, int ms) -> boost::asio::awaitable<void> {
                boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
                timer.expires_after(std::chrono::milliseconds(ms));
                // Two queries race the timer: one holds the connection, the other queues.
                co_await (
                    s.usage_stats(id, std::nullopt, std::nullopt) || s.find_user(id) ||
                    timer.async_wait(boost::asio::use_awaitable)
                );
            }(*store, u.id, delay),
            boost::asio::detached
        );
        ctx.run();
    }
    const auto started = std::chrono::steady_clock::now();
    const auto found = run_awaitable(store->find_user(u.id));
    ASSERT_TRUE(found.has_value()) << found.error().detail;
    EXPECT_TRUE(found->has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST_F(PostgresStoreTest, OperationsAbandonedWithTheirIoContextGiveTheirConnectionBack) {
    // An io_context destroyed with operations still in flight (one mid-query, others queued for
    // the single connection) destroys their coroutines without resuming them.
    auto store = db_->open(pool_, StoreOptions{1});
    ASSERT_TRUE(store->migrate().has_value());
    const auto u = some_user();
    ASSERT_TRUE(run_awaitable(store->create_user(u)).has_value());
    for (int round = 0; round < 3; ++round) {
        boost::asio::io_context ctx;
        for (int i = 0; i < 3; ++i) {
            boost::asio::co_spawn(ctx, store->find_user(u.id), boost::asio::detached);
        }
        ctx.poll();
    }
    const auto started = std::chrono::steady_clock::now();
    const auto found = run_awaitable(store->find_user(u.id));
    ASSERT_TRUE(found.has_value()) << found.error().detail;
    EXPECT_TRUE(found->has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST_F(PostgresStoreTest, AnUnreachableServerIsOverloadedNotAnInternalError) {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    auto opened =
        open_store({DatabaseUrl::Kind::postgres, "postgresql://postgres@127.0.0.1:1/x"}, pool_);
    ASSERT_TRUE(opened.has_value());
    auto& store = **opened;
    const auto ping = run_awaitable(store.ping());
    ASSERT_FALSE(ping.has_value());
    EXPECT_EQ(ping.error().type, ErrorType::overloaded);
    const auto created = run_awaitable(store.create_user(some_user()));
    ASSERT_FALSE(created.has_value());
    EXPECT_EQ(created.error().type, ErrorType::overloaded);
    EXPECT_EQ(error_status(created.error().type), 503);
    EXPECT_TRUE(created.error().retry_after_s.has_value());
    const auto migrated = store.migrate();
    ASSERT_FALSE(migrated.has_value());
    EXPECT_EQ(migrated.error().type, ErrorType::overloaded);
}

TEST_F(PostgresStoreTest, AnUnparsableUrlIsAnInvalidRequest) {
    const auto opened = open_store(
        {DatabaseUrl::Kind::postgres, "postgresql://localhost/db?no_such_option=1"}, pool_
    );
    ASSERT_FALSE(opened.has_value());
    EXPECT_EQ(opened.error().type, ErrorType::invalid_request);
}

TEST_F(PostgresStoreTest, DatabaseUrlsOfBothSchemesOpenPostgres) {
    for (const std::string scheme : {"postgresql://", "postgres://"}) {
        auto url = db_->url().target;
        url.replace(0, url.find("://") + 3, scheme);
        const auto parsed = parse_database_url(url);
        ASSERT_TRUE(parsed.has_value());
        auto store = open_store(*parsed, pool_);
        ASSERT_TRUE(store.has_value());
        EXPECT_EQ((*store)->backend(), "postgresql");
        EXPECT_TRUE(run_awaitable((*store)->ping()).has_value()) << url;
    }
}

// A private server: restarting the shared one would fail the tests running beside this one.
class PostgresRestartTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!testing::postgres_server_url()) {
            GTEST_SKIP() << "no PostgreSQL configured (PARLEY_TEST_DATABASE_URL)";
        }
        dir_ = std::filesystem::temp_directory_path() /
               ("parley-pg-restart-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        url_ = pg_temp("start " + dir_.string());
        ASSERT_FALSE(url_.empty());
    }

    void TearDown() override {
        if (!dir_.empty()) {
            pg_temp("stop " + dir_.string());
        }
    }

    std::filesystem::path dir_;
    std::string url_;
    async::BlockingPool pool_{1};
};

TEST_F(PostgresRestartTest, ThePoolReconnectsAfterTheServerRestarts) {
    auto opened = open_store({DatabaseUrl::Kind::postgres, url_}, pool_, StoreOptions{3});
    ASSERT_TRUE(opened.has_value());
    auto& store = **opened;
    ASSERT_TRUE(store.migrate().has_value());
    ASSERT_TRUE(run_awaitable(store.create_user(some_user())).has_value());

    pg_temp("restart " + dir_.string());

    // The pooled connections died with the old server. The first operation may still fail with
    // the retryable 503 type; every one after it succeeds on new connections.
    const auto first = run_awaitable(store.create_user(some_user()));
    if (!first) {
        EXPECT_EQ(first.error().type, ErrorType::overloaded) << first.error().detail;
    }
    for (int i = 0; i < 5; ++i) {
        const auto r = run_awaitable(store.create_user(some_user()));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
    }
    EXPECT_TRUE(run_awaitable(store.ping()).has_value());
}

TEST_F(PostgresRestartTest, WhileTheServerIsDownOperationsAreOverloadedThenRecover) {
    auto opened = open_store({DatabaseUrl::Kind::postgres, url_}, pool_, StoreOptions{2});
    ASSERT_TRUE(opened.has_value());
    auto& store = **opened;
    ASSERT_TRUE(store.migrate().has_value());
    const auto u = some_user();
    ASSERT_TRUE(run_awaitable(store.create_user(u)).has_value());

    pg_temp("halt " + dir_.string());
    for (int i = 0; i < 3; ++i) {
        const auto r = run_awaitable(store.find_user(u.id));
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().type, ErrorType::overloaded) << r.error().detail;
    }
    const auto ping = run_awaitable(store.ping());
    EXPECT_FALSE(ping.has_value());

    pg_temp("resume " + dir_.string());
    const auto found = run_awaitable(store.find_user(u.id));
    ASSERT_TRUE(found.has_value()) << found.error().detail;
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->email, u.email);
}

}  // namespace
}  // namespace parley::store
