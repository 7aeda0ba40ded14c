#include <filesystem>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "async/blocking_pool.hpp"
#include "store/migrations.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sqlite_store_impl.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"

namespace parley::store {
namespace {

namespace fs = std::filesystem;

class SqliteStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("parley-store-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        path_ = (dir_ / "nested" / "parley.db").string();
    }

    void TearDown() override { fs::remove_all(dir_); }

    std::unique_ptr<Store> open() {
        auto s = open_store(DatabaseUrl{DatabaseUrl::Kind::sqlite, path_}, pool_);
        EXPECT_TRUE(s.has_value());
        return std::move(*s);
    }

    std::vector<std::string> tables() {
        sqlite3* db = nullptr;
        EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(
            db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name", -1, &st, nullptr
        );
        std::vector<std::string> out;
        while (sqlite3_step(st) == SQLITE_ROW) {
            out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return out;
    }

    fs::path dir_;
    std::string path_;
    async::BlockingPool pool_{2};
};

TEST_F(SqliteStoreTest, MigrationsApplyOnceInOrder) {
    const auto known = sqlite_migrations();
    ASSERT_FALSE(known.empty());
    for (std::size_t i = 1; i < known.size(); ++i) {
        EXPECT_LT(known[i - 1].version, known[i].version);
    }

    auto store = open();
    const auto first = store->migrate();
    ASSERT_TRUE(first.has_value()) << first.error().detail;
    ASSERT_EQ(first->size(), known.size());
    for (std::size_t i = 0; i < known.size(); ++i) {
        EXPECT_EQ((*first)[i], known[i].version);
    }

    const auto second = store->migrate();
    ASSERT_TRUE(second.has_value());
    EXPECT_TRUE(second->empty()) << "a second run must apply nothing";

    // A fresh process (new store on the same file) sees the same recorded versions.
    auto reopened = open();
    const auto applied = reopened->applied_migrations();
    ASSERT_TRUE(applied.has_value());
    EXPECT_EQ(applied->size(), known.size());
    EXPECT_TRUE(reopened->migrate()->empty());
}

TEST_F(SqliteStoreTest, SchemaHasEveryTableOfTheDataModel) {
    auto store = open();
    ASSERT_TRUE(store->migrate().has_value());
    const auto t = tables();
    for (const char* name :
         {"api_keys",
          "budget_spend",
          "conversations",
          "messages",
          "refresh_tokens",
          "schema_migrations",
          "session_events",
          "users"}) {
        EXPECT_NE(std::find(t.begin(), t.end(), name), t.end()) << name;
    }
}

TEST_F(SqliteStoreTest, UsesWalJournal) {
    auto store = open();
    ASSERT_TRUE(store->migrate().has_value());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

// SQLite keeps no memory statistics (issue 14: they take a global mutex around each of its
// mallocs). The first SQLite use in the process must be a Connection's, as in the server: ctest
// runs each test in a process of its own.
TEST_F(SqliteStoreTest, KeepsNoMemoryStatistics) {
    auto store = open();
    ASSERT_TRUE(store->migrate().has_value());
    EXPECT_EQ(sqlite3_memory_used(), 0) << "SQLite counted its allocations";
}

TEST_F(SqliteStoreTest, PingRunsOffTheCallingThread) {
    auto store = open();
    ASSERT_TRUE(store->migrate().has_value());
    const auto r = testing::run_awaitable(store->ping());
    EXPECT_TRUE(r.has_value());
}

TEST_F(SqliteStoreTest, UnopenablePathIsAnError) {
    // A directory where the file should be.
    fs::create_directories(dir_ / "is-a-dir.db");
    auto s =
        open_store(DatabaseUrl{DatabaseUrl::Kind::sqlite, (dir_ / "is-a-dir.db").string()}, pool_);
    EXPECT_FALSE(s.has_value());
}

TEST(DatabaseUrlTest, ParsesSqliteAndPostgres) {
    const auto rel = parse_database_url("sqlite://data/parley.db");
    ASSERT_TRUE(rel.has_value());
    EXPECT_EQ(rel->kind, DatabaseUrl::Kind::sqlite);
    EXPECT_EQ(rel->target, "data/parley.db");

    const auto abs = parse_database_url("sqlite:///var/lib/parley/parley.db");
    ASSERT_TRUE(abs.has_value());
    EXPECT_EQ(abs->target, "/var/lib/parley/parley.db");

    const auto pg = parse_database_url("postgresql://parley:pw@localhost:5432/parley");
    ASSERT_TRUE(pg.has_value());
    EXPECT_EQ(pg->kind, DatabaseUrl::Kind::postgres);
    EXPECT_TRUE(parse_database_url("postgres://localhost/db").has_value());
}

TEST(DatabaseUrlTest, RejectsOthers) {
    EXPECT_FALSE(parse_database_url("sqlite://").has_value());
    EXPECT_FALSE(parse_database_url("mysql://localhost/db").has_value());
    EXPECT_FALSE(parse_database_url("data/parley.db").has_value());
    EXPECT_FALSE(parse_database_url("").has_value());
}

// Another writer holding the lock past the busy timeout, and a full or failing disk, pass: 503 with
// Retry-After. Extended codes count by their primary code.
TEST(SqliteErrors, BusyAndFullAreOverloadedConstraintsConflictsTheRestApi) {
    using sqlite::SqliteError;
    using sqlite::to_error;
    for (const int code : {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT}) {
        const auto e = to_error(SqliteError(code, "database is locked"));
        EXPECT_EQ(e.type, ErrorType::overloaded) << code;
        EXPECT_EQ(e.retry_after_s, 1) << code;
        EXPECT_EQ(e.detail, "database is locked");
    }
    for (const int code : {SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_WRITE, SQLITE_CANTOPEN}) {
        const auto e = to_error(SqliteError(code, "database or disk is full"));
        EXPECT_EQ(e.type, ErrorType::overloaded) << code;
        EXPECT_EQ(e.retry_after_s, 5) << code;
    }
    EXPECT_EQ(to_error(SqliteError(SQLITE_CONSTRAINT_UNIQUE, "UNIQUE")).type, ErrorType::conflict);
    EXPECT_EQ(to_error(SqliteError(SQLITE_ERROR, "syntax")).type, ErrorType::api);
}

// After SQLITE_FULL (or a busy COMMIT) SQLite may have rolled the transaction back itself: the
// clean-up must neither throw (replacing the real error) nor leave the connection in a transaction.
TEST_F(SqliteStoreTest, ATransactionSqliteAlreadyRolledBackKeepsItsOwnError) {
    fs::create_directories(dir_);
    sqlite::Connection c((dir_ / "rollback.db").string());
    c.exec("CREATE TABLE t(x INTEGER)");
    int code = 0;
    try {
        sqlite::in_transaction(c, [&c] {
            c.exec("INSERT INTO t VALUES (1)");
            c.exec("ROLLBACK");  // what SQLite does by itself on some errors
            throw sqlite::SqliteError(SQLITE_FULL, "database or disk is full");
        });
    } catch (const sqlite::SqliteError& e) {
        code = e.code();
    }
    EXPECT_EQ(code, SQLITE_FULL) << "the failing transaction's own error, not the ROLLBACK's";
    EXPECT_NE(sqlite3_get_autocommit(c.handle()), 0) << "no transaction left open";
    EXPECT_NO_THROW(c.rollback());
    EXPECT_NO_THROW(sqlite::in_transaction(c, [&c] { c.exec("INSERT INTO t VALUES (2)"); }));
}

}  // namespace
}  // namespace parley::store
