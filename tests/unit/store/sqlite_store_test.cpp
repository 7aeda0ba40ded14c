#include <filesystem>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "async/blocking_pool.hpp"
#include "store/migrations.hpp"
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

}  // namespace
}  // namespace parley::store
