#include "store/sqlite/connection.hpp"

#include <sqlite3.h>

namespace parley::store::sqlite {

namespace {

[[noreturn]] void fail(sqlite3* db, int code, std::string_view context) {
    std::string what(context);
    what += ": ";
    what += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    throw SqliteError(code, what);
}

}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
    const int rc =
        sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK) {
        fail(db, rc, "prepare");
    }
}

Statement::Statement(sqlite3* db, sqlite3_stmt* cached, bool* in_use)
    : db_(db),
      stmt_(cached),
      in_use_(in_use) {
    *in_use_ = true;
}

Statement::~Statement() {
    if (in_use_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
        *in_use_ = false;
    } else {
        sqlite3_finalize(stmt_);
    }
}

Statement& Statement::bind(int index, std::string_view text) {
    const int rc = sqlite3_bind_text(
        stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT
    );
    if (rc != SQLITE_OK) {
        fail(db_, rc, "bind");
    }
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) {
        fail(db_, rc, "bind");
    }
    return *this;
}

Statement& Statement::bind_null(int index) {
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) {
        fail(db_, rc, "bind");
    }
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    fail(db_, rc, "step");
}

std::int64_t Statement::column_int(int index) const {
    return sqlite3_column_int64(stmt_, index);
}

double Statement::column_double(int index) const {
    return sqlite3_column_double(stmt_, index);
}

std::string Statement::column_text(int index) const {
    return std::string(column_view(index));
}

std::string_view Statement::column_view(int index) const {
    const auto* text = sqlite3_column_text(stmt_, index);
    const int size = sqlite3_column_bytes(stmt_, index);
    if (text == nullptr) {
        return {};
    }
    return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

bool Statement::column_is_null(int index) const {
    return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

namespace {

// Process-wide SQLite settings, made before the first connection opens (sqlite3_config refuses
// them once SQLite is initialized). Memory statistics off (issue 14): Debian's SQLite keeps them
// by default, taking a global mutex around every one of its mallocs and frees, ~150 of each per
// streamed turn, ~5% of a turn's instructions; Parley reads none of them (no heap limit either).
void configure_sqlite_once() {
    [[maybe_unused]] static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

}  // namespace

Connection::Connection(const std::string& path, bool read_only) {
    configure_sqlite_once();
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string what = "open " + path;
        sqlite3* db = db_;
        db_ = nullptr;
        what += ": ";
        what += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        throw SqliteError(rc, what);
    }
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
    if (read_only) {
        exec("PRAGMA query_only=ON;");
    }
}

Connection::~Connection() {
    for (auto& [sql, cached] : cache_) {
        sqlite3_finalize(cached->stmt);
    }
    sqlite3_close_v2(db_);
}

Statement Connection::prepare(std::string_view sql) {
    if (const auto it = cache_.find(sql); it != cache_.end()) {
        if (!it->second->in_use) {
            return Statement(db_, it->second->stmt, &it->second->in_use);
        }
        return Statement(db_, sql);  // the cached one is busy (a nested use): a private one
    }
    if (cache_.size() >= kMaxCached) {
        return Statement(db_, sql);
    }
    auto cached = std::make_unique<Cached>();
    const int rc = sqlite3_prepare_v3(
        db_,
        sql.data(),
        static_cast<int>(sql.size()),
        SQLITE_PREPARE_PERSISTENT,
        &cached->stmt,
        nullptr
    );
    if (rc != SQLITE_OK) {
        fail(db_, rc, "prepare");
    }
    auto* entry = cache_.emplace(std::string(sql), std::move(cached)).first->second.get();
    return Statement(db_, entry->stmt, &entry->in_use);
}

void Connection::exec(std::string_view sql) {
    const std::string text(sql);
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        const std::string what = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        throw SqliteError(rc, "exec: " + what);
    }
}

void Connection::rollback() noexcept {
    if (sqlite3_get_autocommit(db_) == 0) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

ConnectionPool::ConnectionPool(const std::string& path, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
        idle_.push_back(std::make_unique<Connection>(path));
    }
}

ConnectionPool::Lease ConnectionPool::acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [this] { return !idle_.empty(); });
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(c));
}

void ConnectionPool::release(std::unique_ptr<Connection> c) {
    {
        const std::lock_guard lock(mutex_);
        idle_.push_back(std::move(c));
    }
    available_.notify_one();
}

Connection& ThreadConnections::local() {
    const std::lock_guard lock(mutex_);
    auto& connection = connections_[std::this_thread::get_id()];
    if (!connection) {
        connection = std::make_unique<Connection>(path_, /*read_only=*/true);
    }
    return *connection;
}

}  // namespace parley::store::sqlite
