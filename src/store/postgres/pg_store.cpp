#include "store/postgres/pg_store.hpp"

#include <algorithm>

#include <libpq-fe.h>

#include "common/log.hpp"
#include "store/migrations.hpp"
#include "store/postgres/pg_store_impl.hpp"

namespace parley::store::postgres {

namespace asio = boost::asio;

namespace {

// pg_advisory_lock key held while migrating, so that instances starting together apply each
// migration once: the others wait, then find nothing left to do. ("parley" in ASCII.)
constexpr std::int64_t kMigrationLock = 0x7061726c6579;

// A blocking connection for migrate() and applied_migrations(), which the interface runs at
// start-up, off the I/O threads.
class BlockingConnection {
public:
    explicit BlockingConnection(const std::string& conninfo) {
        // connect_timeout before dbname: the URL may set its own.
        const char* const keys[] = {
            "connect_timeout", "dbname", "client_encoding", "fallback_application_name", nullptr};
        const char* const values[] = {"10", conninfo.c_str(), "UTF8", "parley-migrate", nullptr};
        conn_ = PQconnectdbParams(keys, values, 1);
        if (PQstatus(conn_) != CONNECTION_OK) {
            PgError error(PgError::Kind::unavailable, message());
            PQfinish(conn_);
            throw error;
        }
        PQsetNoticeProcessor(
            conn_, [](void*, const char*) {}, nullptr
        );
    }

    ~BlockingConnection() { PQfinish(conn_); }

    BlockingConnection(const BlockingConnection&) = delete;
    BlockingConnection& operator=(const BlockingConnection&) = delete;

    // Runs `sql` (with `$1…` bound to `params` when given); the rows as text.
    std::vector<std::vector<std::string>> exec(
        const std::string& sql, const std::vector<std::string>& params = {}
    ) {
        std::vector<const char*> values;
        for (const auto& p : params) {
            values.push_back(p.c_str());
        }
        PGresult* r = params.empty() ? PQexec(conn_, sql.c_str())
                                     : PQexecParams(
                                           conn_,
                                           sql.c_str(),
                                           static_cast<int>(values.size()),
                                           nullptr,
                                           values.data(),
                                           nullptr,
                                           nullptr,
                                           0
                                       );
        const auto status = PQresultStatus(r);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            PgError error(
                PQstatus(conn_) == CONNECTION_OK ? PgError::Kind::query
                                                 : PgError::Kind::unavailable,
                r != nullptr ? PQresultErrorMessage(r) : message(),
                state != nullptr ? state : ""
            );
            PQclear(r);
            throw error;
        }
        std::vector<std::vector<std::string>> rows;
        for (int i = 0; i < PQntuples(r); ++i) {
            auto& row = rows.emplace_back();
            for (int j = 0; j < PQnfields(r); ++j) {
                row.emplace_back(PQgetvalue(r, i, j));
            }
        }
        PQclear(r);
        return rows;
    }

private:
    std::string message() const { return PQerrorMessage(conn_); }

    PGconn* conn_ = nullptr;
};

std::vector<int> read_versions(BlockingConnection& c) {
    std::vector<int> out;
    for (const auto& row : c.exec("SELECT version FROM schema_migrations ORDER BY version")) {
        out.push_back(std::stoi(row.at(0)));
    }
    return out;
}

}  // namespace

Error to_error(const PgError& e) {
    std::string detail = e.what();
    if (!e.sqlstate().empty()) {
        detail += " (SQLSTATE " + e.sqlstate() + ")";
    }
    switch (e.kind()) {
        case PgError::Kind::unavailable: {
            auto error = make_error(ErrorType::overloaded, "database unavailable", detail);
            error.retry_after_s = 1;
            return error;
        }
        case PgError::Kind::busy: {
            auto error = make_error(ErrorType::overloaded, "database busy", detail);
            error.retry_after_s = 1;
            return error;
        }
        case PgError::Kind::query:
            break;
    }
    if (e.sqlstate().starts_with("23")) {
        return make_error(ErrorType::conflict, "already exists", detail);
    }
    if (e.sqlstate() == "22021") {
        return make_error(
            ErrorType::invalid_request, "text must be UTF-8 without NUL characters", detail
        );
    }
    return make_error(ErrorType::api, "database error", detail);
}

Result<std::vector<int>> PgStore::migrate() {
    try {
        BlockingConnection c(conninfo_);
        c.exec("SET client_min_messages = warning");
        // Session-level: released by the unlock below, or when the connection closes.
        c.exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")");
        c.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL)"
        );
        const auto applied = read_versions(c);
        std::vector<int> done;
        for (const auto& m : postgres_migrations()) {
            if (std::find(applied.begin(), applied.end(), m.version) != applied.end()) {
                continue;
            }
            c.exec("BEGIN");
            try {
                c.exec(std::string(m.sql));
                c.exec(
                    "INSERT INTO schema_migrations(version, name, applied_at) VALUES ($1, $2, $3)",
                    {std::to_string(m.version), m.name, to_iso8601(system_now())}
                );
                c.exec("COMMIT");
            } catch (const PgError&) {
                c.exec("ROLLBACK");
                throw;
            }
            log::info("migration applied", {{"version", m.version}, {"name", m.name}});
            done.push_back(m.version);
        }
        if (!applied.empty() && !postgres_migrations().empty() &&
            applied.back() > postgres_migrations().back().version) {
            log::warn(
                "database schema is newer than this binary",
                {{"database_version", applied.back()},
                 {"binary_version", postgres_migrations().back().version}}
            );
        }
        c.exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")");
        return done;
    } catch (const PgError& e) {
        auto error = to_error(e);
        if (error.type != ErrorType::overloaded) {
            error = make_error(ErrorType::api, "migration failed", error.detail);
        }
        return error;
    }
}

Result<std::vector<int>> PgStore::applied_migrations() {
    try {
        BlockingConnection c(conninfo_);
        // Not created here: that is migrate()'s job, under its lock.
        if (c.exec("SELECT to_regclass('schema_migrations') IS NOT NULL").at(0).at(0) != "t") {
            return std::vector<int>{};
        }
        return read_versions(c);
    } catch (const PgError& e) {
        auto error = to_error(e);
        error.message = "could not read schema_migrations";
        return error;
    }
}

asio::awaitable<void> PgStore::roll_back_if_open(PgConnection& c) {
    if (c.broken() || c.reusable()) {
        co_return;
    }
    try {
        co_await c.exec("ROLLBACK");
    } catch (const PgError&) {
        // The pool discards a connection that is still inside a transaction.
    }
}

asio::awaitable<Result<void>> PgStore::ping() {
    auto r = co_await run<void>([](PgConnection& c) -> asio::awaitable<Result<void>> {
        co_await c.query("SELECT 1");
        co_return Result<void>{};
    });
    if (!r) {
        co_return make_error(ErrorType::overloaded, "database unavailable", r.error().detail);
    }
    co_return r;
}

Result<std::unique_ptr<Store>> open_postgres_store(
    const std::string& conninfo, std::size_t pool_size
) {
    char* message = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &message);
    if (parsed == nullptr) {
        std::string why = message != nullptr ? message : "out of memory";
        PQfreemem(message);
        while (!why.empty() && why.back() == '\n') {
            why.pop_back();
        }
        return make_error(
            ErrorType::invalid_request, "invalid PostgreSQL URL: " + why, "conninfo: " + why
        );
    }
    PQconninfoFree(parsed);
    PoolOptions options;
    options.size = std::max<std::size_t>(pool_size, 1);
    return std::unique_ptr<Store>(std::make_unique<PgStore>(conninfo, options));
}

}  // namespace parley::store::postgres
