#include "store/sqlite/sqlite_store.hpp"

#include <algorithm>
#include <filesystem>

#include "async/blocking_pool.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "store/migrations.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sqlite_store_impl.hpp"

namespace parley::store::sqlite {

namespace {

std::vector<int> read_versions(Connection& c) {
    std::vector<int> out;
    auto st = c.prepare("SELECT version FROM schema_migrations ORDER BY version");
    while (st.step()) {
        out.push_back(static_cast<int>(st.column_int(0)));
    }
    return out;
}

// The first line of a migration that must run with foreign keys off.
constexpr std::string_view kForeignKeysOff = "-- parley: foreign_keys=off";

// Turns foreign keys back on when it goes out of scope (the migration committed or failed).
struct ForeignKeysOn {
    Connection* connection;

    explicit ForeignKeysOn(Connection* c) : connection(c) {}

    ForeignKeysOn(const ForeignKeysOn&) = delete;
    ForeignKeysOn& operator=(const ForeignKeysOn&) = delete;

    ~ForeignKeysOn() {
        if (connection != nullptr) {
            try {
                connection->exec("PRAGMA foreign_keys = ON");
            } catch (const SqliteError& e) {
                log::error("could not turn foreign keys back on", {{"error", e.what()}});
            }
        }
    }
};

void ensure_migrations_table(Connection& c) {
    c.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL)"
    );
}

}  // namespace

Result<std::vector<int>> SqliteStore::migrate() {
    try {
        auto lease = connections_.acquire();
        ensure_migrations_table(*lease);
        const auto applied = read_versions(*lease);
        std::vector<int> done;
        for (const auto& m : sqlite_migrations()) {
            if (std::find(applied.begin(), applied.end(), m.version) != applied.end()) {
                continue;
            }
            // A migration that rebuilds a table (SQLite's twelve-step change) runs with foreign
            // keys off, which only works outside a transaction, and checks them before it commits.
            const bool keys_off = m.sql.starts_with(kForeignKeysOff);
            if (keys_off) {
                lease->exec("PRAGMA foreign_keys = OFF");
            }
            const ForeignKeysOn restore(keys_off ? &*lease : nullptr);
            in_transaction(*lease, [&] {
                lease->exec(m.sql);
                if (keys_off && lease->prepare("PRAGMA foreign_key_check").step()) {
                    throw SqliteError(SQLITE_CONSTRAINT, "foreign key check failed");
                }
                lease
                    ->prepare(
                        "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)"
                    )
                    .bind(1, std::int64_t{m.version})
                    .bind(2, m.name)
                    .bind(3, to_iso8601(system_now()))
                    .step();
            });
            log::info("migration applied", {{"version", m.version}, {"name", m.name}});
            done.push_back(m.version);
        }
        if (!applied.empty() && !sqlite_migrations().empty() &&
            applied.back() > sqlite_migrations().back().version) {
            log::warn(
                "database schema is newer than this binary",
                {{"database_version", applied.back()},
                 {"binary_version", sqlite_migrations().back().version}}
            );
        }
        return done;
    } catch (const SqliteError& e) {
        return make_error(ErrorType::api, "migration failed", e.what());
    }
}

Result<std::vector<int>> SqliteStore::applied_migrations() {
    try {
        auto lease = connections_.acquire();
        ensure_migrations_table(*lease);
        return read_versions(*lease);
    } catch (const SqliteError& e) {
        return make_error(ErrorType::api, "could not read schema_migrations", e.what());
    }
}

boost::asio::awaitable<Result<void>> SqliteStore::ping() {
    auto r = co_await run<void>([](Connection& c) -> Result<void> {
        auto st = c.prepare("SELECT count(*) FROM schema_migrations");
        st.step();
        return {};
    });
    if (!r) {
        co_return make_error(ErrorType::overloaded, "database unavailable", r.error().detail);
    }
    co_return r;
}

Error to_error(const SqliteError& e) {
    switch (e.code() & 0xFF) {
        case SQLITE_CONSTRAINT:
            return make_error(ErrorType::conflict, "already exists", e.what());
        case SQLITE_BUSY:
        case SQLITE_LOCKED: {
            auto error = make_error(ErrorType::overloaded, "database busy", e.what());
            error.retry_after_s = 1;
            return error;
        }
        case SQLITE_FULL:
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_NOMEM: {
            auto error = make_error(ErrorType::overloaded, "database unavailable", e.what());
            error.retry_after_s = 5;
            return error;
        }
        default:
            return make_error(ErrorType::api, "database error", e.what());
    }
}

void bind_time(Statement& st, int index, const std::optional<TimePoint>& t) {
    if (t) {
        st.bind(index, to_iso8601(*t));
    } else {
        st.bind_null(index);
    }
}

std::optional<TimePoint> column_time(const Statement& st, int index) {
    if (st.column_is_null(index)) {
        return std::nullopt;
    }
    return parse_iso8601(st.column_view(index));  // no copy (issue 14)
}

Result<std::unique_ptr<Store>> open_sqlite_store(
    const std::string& path, async::BlockingPool& pool
) {
    try {
        const std::filesystem::path file(path);
        if (file.has_parent_path()) {
            std::filesystem::create_directories(file.parent_path());
        }
        // A few connections: WAL lets readers run beside the one writer.
        return std::unique_ptr<Store>(std::make_unique<SqliteStore>(path, pool, 4));
    } catch (const std::exception& e) {
        return make_error(ErrorType::overloaded, "cannot open SQLite database " + path, e.what());
    }
}

}  // namespace parley::store::sqlite
