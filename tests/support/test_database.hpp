// The store suite's backends: every store test runs once on SQLite and once on PostgreSQL, each
// time on a fresh, empty database of its own, so the tests are independent and may run in
// parallel. PostgreSQL comes from the server PARLEY_TEST_DATABASE_URL names (or the URL in the file
// PARLEY_TEST_DATABASE_URL_FILE names, which is how the CTest fixture running scripts/pg-temp
// hands it over); with neither set, the PostgreSQL cases are skipped.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "store/store.hpp"

namespace parley::testing {

using store::DatabaseUrl;
using store::Store;
using store::StoreOptions;

enum class Backend { sqlite, postgres };

// "sqlite" or "postgres", for test names.
std::string backend_name(Backend backend);

// How GoogleTest prints a Backend (in CTest's test names, among others).
void PrintTo(Backend backend, std::ostream* out);

// For INSTANTIATE_TEST_SUITE_P(…, ::testing::ValuesIn(all_backends()), backend_param_name).
std::vector<Backend> all_backends();
std::string backend_param_name(const ::testing::TestParamInfo<Backend>& info);

// The PostgreSQL server for tests, if one is configured. Throws when the URL file is named but
// unreadable (the fixture that should have written it failed).
std::optional<std::string> postgres_server_url();

// `url` (postgresql://…/db?params) naming database `database` instead.
std::string with_database(const std::string& url, const std::string& database);

// Runs SQL on the server (or database) `url` names, blocking; the first column of the last
// statement's rows, one per line (empty when none). Fails the test on an error.
std::string admin_query(const std::string& url, const std::string& sql);

// One fresh database: a file in a new temporary directory, or a new PostgreSQL database (dropped,
// with its connections, when this is destroyed).
// A new user and a conversation of theirs (model "mock", created and updated at `at`), stored in
// `store`: where the store tests that write messages start. Fails the test (and returns nullopt)
// when either cannot be stored.
std::optional<store::Conversation> seed_conversation(Store& store, TimePoint at);

// Expects `got` to have every field of `want` (a message read back against the one written).
void expect_same_message(const store::Message& got, const store::Message& want);

class TestDatabase {
public:
    explicit TestDatabase(Backend backend);
    ~TestDatabase();
    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;

    // False when the backend is not configured here: the test should skip.
    bool available() const noexcept { return available_; }

    Backend backend() const noexcept { return backend_; }

    DatabaseUrl url() const;

    // A new store on this database (several may be open at once).
    std::unique_ptr<Store> open(async::BlockingPool& pool, StoreOptions options = {}) const;

private:
    Backend backend_;
    bool available_ = false;
    std::filesystem::path dir_;  // sqlite
    std::string server_url_;     // postgres: the server's maintenance database
    std::string database_;       // postgres: this test's database
};

}  // namespace parley::testing
