// One PostgreSQL connection driven asynchronously on the calling coroutine's executor: libpq in
// non-blocking mode (PQsendPrepare / PQsendQueryPrepared, PQflush, PQconsumeInput, PQisBusy,
// PQgetResult), its socket waited on through a borrowed asio::posix::stream_descriptor, so no
// thread ever blocks on the network. Statements are prepared once per connection, named by their
// SQL. Internal to store/.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/time.hpp"

struct pg_conn;
struct pg_result;

namespace parley::store::postgres {

// Thrown by the connection on any failure; the store turns it into an Error.
class PgError : public std::runtime_error {
public:
    enum class Kind {
        query,  // the server refused the statement (sqlstate says why); the connection is fine
        unavailable,  // the connection is lost, or cannot be made: the server is down or restarting
        busy,         // no connection became free in time
    };

    PgError(Kind kind, const std::string& what, std::string sqlstate = {})
        : std::runtime_error(what),
          kind_(kind),
          sqlstate_(std::move(sqlstate)) {}

    Kind kind() const noexcept { return kind_; }

    // The five-character SQLSTATE, empty when the server sent none.
    const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
    Kind kind_;
    std::string sqlstate_;
};

// Text-format statement parameters ($1, $2, … in the order added).
class Params {
public:
    Params& text(std::string_view value);
    Params& integer(std::int64_t value);
    Params& boolean(bool value);
    Params& time(TimePoint value);  // as ISO 8601 UTC text with milliseconds, like SQLite stores it
    Params& null();
    Params& optional_text(const std::optional<std::string>& value);
    Params& optional_integer(const std::optional<std::int64_t>& value);
    Params& optional_time(const std::optional<TimePoint>& value);

    // The next parameter's number, for building SQL with a variable set of parameters.
    std::string next() const { return "$" + std::to_string(values_.size() + 1); }

    int size() const noexcept { return static_cast<int>(values_.size()); }

    // Pointers for PQsendQueryPrepared, valid while this object is unchanged.
    std::vector<const char*> pointers() const;

private:
    std::vector<std::optional<std::string>> values_;
};

// A completed statement's rows, in text format.
class PgResult {
public:
    explicit PgResult(pg_result* r) noexcept : result_(r) {}

    int rows() const noexcept;
    bool is_null(int row, int col) const noexcept;
    std::string text(int row, int col) const;
    std::optional<std::string> optional_text(int row, int col) const;
    std::int64_t integer(int row, int col) const;
    std::optional<std::int64_t> optional_integer(int row, int col) const;
    double real(int row, int col) const;  // a float4/float8/numeric column
    bool boolean(int row, int col) const;
    // A timestamptz column; nullopt for NULL.
    std::optional<TimePoint> time(int row, int col) const;
    // Rows an INSERT, UPDATE or DELETE changed.
    std::int64_t affected() const;

private:
    struct Clear {
        void operator()(pg_result* r) const noexcept;
    };

    std::unique_ptr<pg_result, Clear> result_;
};

// Parses PostgreSQL's ISO output of a timestamptz ("2026-11-25 12:00:00.123+00", any offset).
std::optional<TimePoint> parse_pg_timestamp(std::string_view text);

class PgConnection {
public:
    // Opens a connection to `conninfo` (a postgresql:// URI or key=value string) asynchronously on
    // the caller's executor, and sets the session up (UTC, ISO dates, UTF-8). Throws PgError
    // (unavailable) when it cannot connect within `timeout`. Cancellable: cancellation abandons
    // the attempt (and rethrows operation_aborted).
    static boost::asio::awaitable<std::unique_ptr<PgConnection>> connect(
        std::string conninfo, std::chrono::milliseconds timeout
    );

    ~PgConnection();
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    // Runs `sql` ($1… placeholders) as a prepared statement, preparing it on this connection the
    // first time. Throws PgError: query when the server refuses it, unavailable when the connection
    // is lost (it is then broken()). Cancellation breaks the connection (its state is unknown).
    boost::asio::awaitable<PgResult> query(const std::string& sql, const Params& params = {});

    // Runs parameterless SQL (one or more statements: BEGIN, COMMIT, SET …) with the simple
    // protocol; the last statement's result. Throws like query().
    boost::asio::awaitable<PgResult> exec(const std::string& sql);

    // True once the connection is unusable: it must be discarded, not reused.
    bool broken() const noexcept;

    // True when the connection is idle (no open transaction) and nothing arrived on it while it sat
    // in the pool. Anything readable on an idle connection means the server is closing it (a
    // restart or an administrator's termination sends a FATAL message, then EOF). Never blocks.
    bool reusable() const noexcept;

private:
    explicit PgConnection(pg_conn* conn) noexcept : conn_(conn) {}

    // Sends what libpq has queued, then collects every result of the command in flight; the last
    // one, or throws the first error.
    boost::asio::awaitable<PgResult> finish_command();

    pg_conn* conn_;
    bool broken_ = false;
    std::unordered_map<std::string, std::string> prepared_;  // SQL → statement name
};

}  // namespace parley::store::postgres
