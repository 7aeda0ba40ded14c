#include "store/postgres/pg_connection.hpp"

#include <array>
#include <charconv>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <libpq-fe.h>
#include <poll.h>

namespace parley::store::postgres {

namespace asio = boost::asio;
using asio::posix::stream_descriptor;
using namespace asio::experimental::awaitable_operators;

namespace {

// libpq's socket, borrowed for waiting on this executor: released, never closed, when done (libpq
// owns the descriptor). Registering a descriptor with the reactor costs an epoll_ctl, negligible
// next to a round trip, and lets a pooled connection serve any io_context.
class BorrowedSocket {
public:
    BorrowedSocket(const asio::any_io_executor& ex, int fd) : descriptor_(ex, fd) {}

    ~BorrowedSocket() { descriptor_.release(); }

    BorrowedSocket(const BorrowedSocket&) = delete;
    BorrowedSocket& operator=(const BorrowedSocket&) = delete;

    stream_descriptor& get() noexcept { return descriptor_; }

private:
    stream_descriptor descriptor_;
};

std::string trimmed(const char* message) {
    std::string s = message != nullptr ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

// Connection-level SQLSTATEs: the connection (or the server) is going away, or refuses new work.
bool means_unavailable(std::string_view sqlstate) {
    return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
           sqlstate == "57P03" || sqlstate == "53300";
}

void ignore_notice(void* /*arg*/, const char* /*message*/) {}

}  // namespace

// --- Params ----------------------------------------------------------------------------------

Params& Params::text(std::string_view value) {
    // Text-format parameters are C strings, and PostgreSQL text cannot hold NUL at all.
    if (value.find('\0') != std::string_view::npos) {
        throw PgError(PgError::Kind::query, "text parameter contains a NUL character", "22021");
    }
    values_.emplace_back(std::string(value));
    return *this;
}

Params& Params::integer(std::int64_t value) {
    values_.emplace_back(std::to_string(value));
    return *this;
}

Params& Params::boolean(bool value) {
    values_.emplace_back(value ? "true" : "false");
    return *this;
}

Params& Params::time(TimePoint value) {
    values_.emplace_back(to_iso8601(value));
    return *this;
}

Params& Params::null() {
    values_.emplace_back(std::nullopt);
    return *this;
}

Params& Params::optional_text(const std::optional<std::string>& value) {
    return value ? text(*value) : null();
}

Params& Params::optional_integer(const std::optional<std::int64_t>& value) {
    return value ? integer(*value) : null();
}

Params& Params::optional_time(const std::optional<TimePoint>& value) {
    return value ? time(*value) : null();
}

std::vector<const char*> Params::pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (const auto& v : values_) {
        out.push_back(v ? v->c_str() : nullptr);
    }
    return out;
}

// --- PgResult --------------------------------------------------------------------------------

void PgResult::Clear::operator()(pg_result* r) const noexcept {
    PQclear(r);
}

int PgResult::rows() const noexcept {
    return result_ ? PQntuples(result_.get()) : 0;
}

bool PgResult::is_null(int row, int col) const noexcept {
    return PQgetisnull(result_.get(), row, col) != 0;
}

std::string PgResult::text(int row, int col) const {
    return std::string(
        PQgetvalue(result_.get(), row, col),
        static_cast<std::size_t>(PQgetlength(result_.get(), row, col))
    );
}

std::optional<std::string> PgResult::optional_text(int row, int col) const {
    if (is_null(row, col)) {
        return std::nullopt;
    }
    return text(row, col);
}

std::int64_t PgResult::integer(int row, int col) const {
    const char* v = PQgetvalue(result_.get(), row, col);
    const char* end = v + PQgetlength(result_.get(), row, col);
    std::int64_t out = 0;
    const auto [ptr, ec] = std::from_chars(v, end, out);
    if (ec != std::errc{} || ptr != end) {
        throw PgError(PgError::Kind::query, "not an integer: " + std::string(v, end));
    }
    return out;
}

double PgResult::real(int row, int col) const {
    const char* v = PQgetvalue(result_.get(), row, col);
    const char* end = v + PQgetlength(result_.get(), row, col);
    double out = 0;
    const auto [ptr, ec] = std::from_chars(v, end, out);
    if (ec != std::errc{} || ptr != end) {
        throw PgError(PgError::Kind::query, "not a number: " + std::string(v, end));
    }
    return out;
}

std::optional<std::int64_t> PgResult::optional_integer(int row, int col) const {
    if (is_null(row, col)) {
        return std::nullopt;
    }
    return integer(row, col);
}

bool PgResult::boolean(int row, int col) const {
    const char* v = PQgetvalue(result_.get(), row, col);
    return v[0] == 't';
}

std::optional<TimePoint> PgResult::time(int row, int col) const {
    if (is_null(row, col)) {
        return std::nullopt;
    }
    const auto t = parse_pg_timestamp(PQgetvalue(result_.get(), row, col));
    if (!t) {
        throw PgError(
            PgError::Kind::query,
            "unreadable timestamp: " + std::string(PQgetvalue(result_.get(), row, col))
        );
    }
    return t;
}

std::int64_t PgResult::affected() const {
    const char* n = PQcmdTuples(result_.get());
    std::int64_t out = 0;
    std::from_chars(n, n + std::char_traits<char>::length(n), out);
    return out;
}

namespace {

// What a UTC session prints for a timestamptz Parley wrote (milliseconds at most),
// "YYYY-MM-DD HH:MM:SS[.f{1,3}]+00" (trailing zeros left off), rewritten on the stack as the form
// Parley stores, "YYYY-MM-DDTHH:MM:SS.mmmZ", which parse_iso8601 reads with fixed offsets: a page
// of conversations holds 40 timestamps, and the copy plus RFC 3339's grammar below were a fifth
// of the list's instructions on PostgreSQL. nullopt when `s` is not that form (the general reader
// then decides) or not a time parse_iso8601 accepts.
std::optional<TimePoint> read_utc_form(std::string_view s) {
    constexpr std::size_t kSeconds = 19;  // "YYYY-MM-DD HH:MM:SS"
    constexpr std::string_view kStored = "0000-00-00T00:00:00.000Z";
    if (s.size() < kSeconds + 3 || !s.ends_with("+00") || s[10] != ' ') {
        return std::nullopt;
    }
    const std::string_view fraction = s.substr(kSeconds, s.size() - kSeconds - 3);
    if (!fraction.empty() && (fraction.size() < 2 || fraction.size() > 4 || fraction[0] != '.')) {
        return std::nullopt;
    }
    std::array<char, kStored.size()> stored{};
    kStored.copy(stored.data(), stored.size());
    s.copy(stored.data(), kSeconds);
    stored[10] = 'T';
    fraction.copy(stored.data() + kSeconds, fraction.size());
    return parse_iso8601(std::string_view(stored.data(), stored.size()));
}

}  // namespace

std::optional<TimePoint> parse_pg_timestamp(std::string_view text) {
    if (auto t = read_utc_form(text)) {
        return t;
    }
    // "YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]": parse_iso8601 wants the offset as ±HH:MM.
    std::string s(text);
    const auto sign = s.find_last_of("+-");
    if (sign == std::string::npos || sign < 19) {
        return std::nullopt;
    }
    const auto offset = s.substr(sign + 1);
    if (offset.size() == 2) {
        s += ":00";
    } else if (offset.size() == 8) {
        s.resize(s.size() - 3);  // seconds in an offset: only historical local times have them
    }
    return parse_iso8601(s);
}

// --- PgConnection ----------------------------------------------------------------------------

asio::awaitable<std::unique_ptr<PgConnection>> PgConnection::connect(
    std::string conninfo, std::chrono::milliseconds timeout
) {
    // `dbname` with expand_dbname takes a whole URI or key=value string; the keys after it
    // override what it says.
    const char* const keys[] = {"dbname", "client_encoding", "fallback_application_name", nullptr};
    const char* const values[] = {conninfo.c_str(), "UTF8", "parley", nullptr};
    std::unique_ptr<PgConnection> conn(new PgConnection(PQconnectStartParams(keys, values, 1)));
    if (conn->conn_ == nullptr) {
        throw std::bad_alloc();
    }
    if (PQstatus(conn->conn_) == CONNECTION_BAD) {
        throw PgError(PgError::Kind::unavailable, trimmed(PQerrorMessage(conn->conn_)));
    }

    const auto ex = co_await asio::this_coro::executor;
    asio::steady_timer deadline(ex);
    deadline.expires_after(timeout);
    // The protocol of PQconnectPoll: start as if it had said "writing", then wait for what it asks
    // for. The socket may change between calls (another address, an SSL retry), so it is
    // borrowed anew each time.
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
        if (status == PGRES_POLLING_FAILED || PQsocket(conn->conn_) < 0) {
            throw PgError(PgError::Kind::unavailable, trimmed(PQerrorMessage(conn->conn_)));
        }
        BorrowedSocket socket(ex, PQsocket(conn->conn_));
        const auto want = status == PGRES_POLLING_READING ? stream_descriptor::wait_read
                                                          : stream_descriptor::wait_write;
        const auto first = co_await (
            socket.get().async_wait(want, asio::use_awaitable) ||
            deadline.async_wait(asio::use_awaitable)
        );
        if (first.index() == 1) {
            throw PgError(
                PgError::Kind::unavailable,
                "timed out connecting to PostgreSQL after " + std::to_string(timeout.count()) +
                    " ms"
            );
        }
        status = PQconnectPoll(conn->conn_);
    }

    PQsetNoticeProcessor(conn->conn_, ignore_notice, nullptr);
    if (PQsetnonblocking(conn->conn_, 1) != 0) {
        throw PgError(PgError::Kind::unavailable, trimmed(PQerrorMessage(conn->conn_)));
    }
    // Timestamps are read back in UTC and in ISO format whatever the server's defaults are.
    co_await conn->exec("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'");
    co_return conn;
}

PgConnection::~PgConnection() {
    if (conn_ != nullptr) {
        PQfinish(conn_);
    }
}

bool PgConnection::broken() const noexcept {
    return broken_ || PQstatus(conn_) != CONNECTION_OK;
}

bool PgConnection::reusable() const noexcept {
    if (broken() || PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        return false;
    }
    pollfd p{PQsocket(conn_), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
}

asio::awaitable<PgResult> PgConnection::query(const std::string& sql, const Params& params) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
        const std::string name = "parley_" + std::to_string(prepared_.size() + 1);
        if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) == 0) {
            broken_ = true;
            throw PgError(PgError::Kind::unavailable, trimmed(PQerrorMessage(conn_)));
        }
        co_await finish_command();  // throws on a bad statement: then it is not recorded
        it = prepared_.emplace(sql, name).first;
    }
    const auto values = params.pointers();
    if (PQsendQueryPrepared(
            conn_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0
        ) == 0) {
        broken_ = true;
        throw PgError(PgError::Kind::unavailable, trimmed(PQerrorMessage(conn_)));
    }
    co_return co_await finish_command();
}

asio::awaitable<PgResult> PgConnection::exec(const std::string& sql) {
    if (PQsendQuery(conn_, sql.c_str()) == 0) {
        broken_ = true;
        throw PgError(PgError::Kind::unavailable, trimmed(PQerrorMessage(conn_)));
    }
    co_return co_await finish_command();
}

asio::awaitable<PgResult> PgConnection::finish_command() {
    auto lost = [this] {
        broken_ = true;
        return PgError(PgError::Kind::unavailable, trimmed(PQerrorMessage(conn_)));
    };
    if (PQsocket(conn_) < 0) {
        throw lost();
    }
    const auto ex = co_await asio::this_coro::executor;
    BorrowedSocket socket(ex, PQsocket(conn_));
    // Any failure of a wait (cancellation above all) leaves the protocol mid-command.
    auto check = [this](const boost::system::error_code& ec) {
        if (ec) {
            broken_ = true;
            throw boost::system::system_error(ec);
        }
    };

    // Non-blocking mode: libpq may not have sent everything. While the socket is full, the server
    // may be waiting for us to read, so wait for either direction and read what came.
    for (;;) {
        const int flushed = PQflush(conn_);
        if (flushed == 0) {
            break;
        }
        if (flushed < 0) {
            throw lost();
        }
        try {
            co_await (
                socket.get().async_wait(stream_descriptor::wait_read, asio::use_awaitable) ||
                socket.get().async_wait(stream_descriptor::wait_write, asio::use_awaitable)
            );
        } catch (const boost::system::system_error&) {
            broken_ = true;
            throw;
        }
        if (PQconsumeInput(conn_) == 0) {
            throw lost();
        }
    }

    std::optional<PgResult> last;
    std::optional<PgError> error;
    bool done = false;
    while (!done) {
        while (!done && PQisBusy(conn_) == 0) {
            pg_result* r = PQgetResult(conn_);
            if (r == nullptr) {
                done = true;
                break;
            }
            PgResult result(r);
            const auto status = PQresultStatus(r);
            if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
                status == PGRES_EMPTY_QUERY) {
                last.emplace(std::move(result));
            } else if (!error) {
                const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                std::string sqlstate = state != nullptr ? state : "";
                const auto kind =
                    means_unavailable(sqlstate) ? PgError::Kind::unavailable : PgError::Kind::query;
                error.emplace(kind, trimmed(PQresultErrorMessage(r)), std::move(sqlstate));
            }
        }
        if (done) {
            break;
        }
        auto [ec] = co_await socket.get().async_wait(
            stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable)
        );
        check(ec);
        if (PQconsumeInput(conn_) == 0) {
            throw lost();
        }
    }

    if (PQstatus(conn_) == CONNECTION_BAD) {
        broken_ = true;
        if (error) {
            throw PgError(PgError::Kind::unavailable, error->what(), error->sqlstate());
        }
        throw lost();
    }
    if (error) {
        if (error->kind() == PgError::Kind::unavailable) {
            broken_ = true;
        }
        throw *error;
    }
    if (!last) {
        throw PgError(PgError::Kind::query, "the command returned no result");
    }
    co_return std::move(*last);
}

}  // namespace parley::store::postgres
