// The storage boundary. `Store` is what services talk to; SQLite (the embedded default) and, later,
// PostgreSQL implement it. Every query method is a coroutine that never blocks the calling I/O
// thread: SQLite work is offloaded to the blocking pool, PostgreSQL runs asynchronously.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"

namespace parley::async {
class BlockingPool;
}

namespace parley::store {

// A parsed DATABASE_URL.
struct DatabaseUrl {
    enum class Kind { sqlite, postgres };
    Kind kind = Kind::sqlite;
    std::string target;  // the SQLite file path as written, or the PostgreSQL connection URI
};

// Parses `sqlite://PATH` (the path as written: `sqlite:///abs/file.db` is absolute,
// `sqlite://data/x.db` relative to the working directory) or `postgresql://…` / `postgres://…`.
// Errors: invalid_request with a message that says what a valid URL looks like.
Result<DatabaseUrl> parse_database_url(std::string_view url);

// One applied (or pending) schema migration.
struct Migration {
    int version = 0;
    std::string name;
    std::string_view sql;
};

class Store {
public:
    virtual ~Store() = default;

    // "sqlite" or "postgresql".
    virtual std::string_view backend() const noexcept = 0;

    // Applies every migration not yet recorded in schema_migrations, in version order, each in its
    // own transaction. Returns the versions it applied (empty when up to date). Blocking: call at
    // start-up or from `parley migrate`, not from an I/O thread.
    virtual Result<std::vector<int>> migrate() = 0;

    // The versions recorded in schema_migrations, ascending. Blocking, like migrate().
    virtual Result<std::vector<int>> applied_migrations() = 0;

    // A cheap round trip to the database, for health checks. Errors: overloaded when it fails.
    virtual boost::asio::awaitable<Result<void>> ping() = 0;
};

// Opens the store a DATABASE_URL names. `pool` runs blocking work (SQLite) and must outlive the
// store. Errors: overloaded when the database cannot be opened; invalid_request for a backend this
// build does not support yet.
Result<std::unique_ptr<Store>> open_store(const DatabaseUrl& url, async::BlockingPool& pool);

}  // namespace parley::store
