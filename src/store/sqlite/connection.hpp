// A thin RAII layer over the SQLite C API: connections opened with Parley's settings (WAL, busy
// timeout, foreign keys), prepared statements with typed binds, a fixed-size connection pool for
// the blocking pool's threads, and one read-only connection per thread for short reads on the
// I/O threads (ThreadConnections).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/string_map.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace parley::store::sqlite {

// Thrown by the wrappers on any SQLite failure; the store turns it into an Error.
class SqliteError : public std::runtime_error {
public:
    SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}

    int code() const noexcept { return code_; }

private:
    int code_;
};

class Statement {
public:
    // A statement of its own, finalized when destroyed.
    Statement(sqlite3* db, std::string_view sql);
    // A connection's cached statement, lent out: reset and its bindings cleared when destroyed,
    // and `*in_use` (the cache's flag for it) set back to false.
    Statement(sqlite3* db, sqlite3_stmt* cached, bool* in_use);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, std::int64_t value);
    Statement& bind_null(int index);

    // Advances; true while a row is available.
    bool step();

    std::int64_t column_int(int index) const;
    double column_double(int index) const;
    std::string column_text(int index) const;
    // The column's text in SQLite's own buffer, valid until the next step or column call on
    // this statement: for values read at once (timestamps), without a copy.
    std::string_view column_view(int index) const;
    bool column_is_null(int index) const;

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
    bool* in_use_ = nullptr;  // non-null: borrowed from the connection's cache
};

class Connection {
public:
    // Opens (creating if needed) the database file, sets WAL, a busy timeout and foreign keys.
    // `read_only`: the connection refuses to write (PRAGMA query_only).
    explicit Connection(const std::string& path, bool read_only = false);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs one or more statements that return no rows.
    void exec(std::string_view sql);

    // Runs one statement that returns no rows through the statement cache: for the BEGIN and
    // COMMIT of every transaction, which exec() would compile each time (issue 14: ≈ 30k
    // instructions a pair, a tenth of a send's database work).
    void run_cached(std::string_view sql) { prepare(sql).step(); }

    // Rolls back the open transaction, if any, and never throws: it runs while another error is
    // on its way out. SQLite may already have rolled back by itself (a full disk, a busy
    // COMMIT), and a ROLLBACK then fails; a failure here would replace the real error and leave
    // the connection inside a transaction for its next user.
    void rollback() noexcept;

    // A prepared statement for `sql`, from this connection's cache when it has one that is not in
    // use (compiling SQL costs more than running the small queries Parley makes).
    Statement prepare(std::string_view sql);

    sqlite3* handle() noexcept { return db_; }

private:
    struct Cached {
        sqlite3_stmt* stmt = nullptr;
        bool in_use = false;
    };

    static constexpr std::size_t kMaxCached = 128;

    sqlite3* db_ = nullptr;

    // Looked up by the SQL's view: no std::string is built for a statement already cached.
    StringMap<std::unique_ptr<Cached>> cache_;
};

// A fixed set of connections shared by the blocking pool's threads.
class ConnectionPool {
public:
    ConnectionPool(const std::string& path, std::size_t size);

    // A connection, returned to the pool when the lease is destroyed. Blocks while all are busy.
    class Lease {
    public:
        Lease(ConnectionPool& pool, std::unique_ptr<Connection> c)
            : pool_(&pool),
              conn_(std::move(c)) {}

        Lease(Lease&&) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

        ~Lease() {
            if (conn_) {
                pool_->release(std::move(conn_));
            }
        }

        Connection* operator->() noexcept { return conn_.get(); }

        Connection& operator*() noexcept { return *conn_; }

    private:
        ConnectionPool* pool_;
        std::unique_ptr<Connection> conn_;
    };

    Lease acquire();

private:
    void release(std::unique_ptr<Connection> c);

    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<Connection>> idle_;
};

// One read-only connection for each thread that asks (issue 14): an I/O thread runs a short read
// itself instead of handing it to the blocking pool and being resumed after (two thread hops and
// a coroutine frame, more than the query). In WAL mode a reader does not wait for the writer and
// sees every transaction committed before its statement starts. A connection is only ever used by
// the thread it was opened for.
class ThreadConnections {
public:
    explicit ThreadConnections(std::string path) : path_(std::move(path)) {}

    // The calling thread's connection, opened on its first call. Throws SqliteError.
    Connection& local();

private:
    std::string path_;
    std::mutex mutex_;
    std::unordered_map<std::thread::id, std::unique_ptr<Connection>> connections_;
};

// Runs `fn` inside BEGIN IMMEDIATE … COMMIT, rolling back if it throws.
template <class F>
auto in_transaction(Connection& c, F&& fn) {
    c.run_cached("BEGIN IMMEDIATE");
    try {
        if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            c.run_cached("COMMIT");
        } else {
            auto out = fn();
            c.run_cached("COMMIT");
            return out;
        }
    } catch (...) {
        c.rollback();
        throw;
    }
}

}  // namespace parley::store::sqlite
