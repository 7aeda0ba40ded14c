// Users, refresh tokens and API keys on PostgreSQL.
#include "store/postgres/pg_store_impl.hpp"

namespace parley::store::postgres {

namespace asio = boost::asio;

namespace {

const std::string kUserColumns = "id, email, password_hash, created_at";

User read_user(const PgResult& r, int row) {
    return User{
        r.text(row, 0), r.text(row, 1), r.text(row, 2), r.time(row, 3).value_or(TimePoint{})};
}

const std::string kTokenColumns =
    "id, user_id, family_id, token_sha256, created_at, expires_at, revoked_at, replaced_by";

RefreshToken read_token(const PgResult& r, int row) {
    RefreshToken t;
    t.id = r.text(row, 0);
    t.user_id = r.text(row, 1);
    t.family_id = r.text(row, 2);
    t.token_sha256 = r.text(row, 3);
    t.created_at = r.time(row, 4).value_or(TimePoint{});
    t.expires_at = r.time(row, 5).value_or(TimePoint{});
    t.revoked_at = r.time(row, 6);
    t.replaced_by = r.optional_text(row, 7);
    return t;
}

const std::string kKeyColumns =
    "id, user_id, name, prefix, key_sha256, scopes, created_at, last_used_at, expires_at, "
    "revoked_at";

ApiKey read_key(const PgResult& r, int row) {
    ApiKey k;
    k.id = r.text(row, 0);
    k.user_id = r.text(row, 1);
    k.name = r.text(row, 2);
    k.prefix = r.text(row, 3);
    k.key_sha256 = r.text(row, 4);
    k.scopes = static_cast<unsigned>(r.integer(row, 5));
    k.created_at = r.time(row, 6).value_or(TimePoint{});
    k.last_used_at = r.time(row, 7);
    k.expires_at = r.time(row, 8);
    k.revoked_at = r.time(row, 9);
    return k;
}

asio::awaitable<void> insert_token(PgConnection& c, const RefreshToken& t) {
    Params p;
    p.text(t.id).text(t.user_id).text(t.family_id).text(t.token_sha256);
    p.time(t.created_at)
        .time(t.expires_at)
        .optional_time(t.revoked_at)
        .optional_text(t.replaced_by);
    co_await c.query(
        "INSERT INTO refresh_tokens(" + kTokenColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        p
    );
}

template <class T, class Read>
std::optional<T> first_row(const PgResult& r, Read read) {
    if (r.rows() == 0) {
        return std::nullopt;
    }
    return read(r, 0);
}

}  // namespace

asio::awaitable<Result<void>> PgStore::create_user(User user) {
    auto r = co_await run<void>(
        [](PgConnection& c, const User& u) -> asio::awaitable<Result<void>> {
            Params p;
            p.text(u.id).text(u.email).text(u.password_hash).time(u.created_at);
            co_await c.query(
                "INSERT INTO users(id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)", p
            );
            co_return Result<void>{};
        },
        user
    );
    if (!r && r.error().type == ErrorType::conflict) {
        co_return make_error(ErrorType::conflict, "an account with this email already exists");
    }
    co_return r;
}

asio::awaitable<Result<std::optional<User>>> PgStore::find_user_by_email(std::string email) {
    co_return co_await run<std::optional<User>>(
        [](PgConnection& c, const std::string& e) -> asio::awaitable<Result<std::optional<User>>> {
            // lower() under "C" folds ASCII only, like SQLite's NOCASE; the parameter needs it
            // spelled out, or it would fold under the database's default collation.
            const auto r = co_await c.query(
                "SELECT " + kUserColumns +
                    " FROM users WHERE lower(email) = lower($1 COLLATE \"C\")",
                Params().text(e)
            );
            co_return first_row<User>(r, read_user);
        },
        email
    );
}

asio::awaitable<Result<std::optional<User>>> PgStore::find_user(std::string id) {
    co_return co_await run<std::optional<User>>(
        [](PgConnection& c, const std::string& i) -> asio::awaitable<Result<std::optional<User>>> {
            const auto r = co_await c.query(
                "SELECT " + kUserColumns + " FROM users WHERE id = $1", Params().text(i)
            );
            co_return first_row<User>(r, read_user);
        },
        id
    );
}

asio::awaitable<Result<void>> PgStore::insert_refresh_token(RefreshToken token) {
    co_return co_await run<void>(
        [](PgConnection& c, const RefreshToken& t) -> asio::awaitable<Result<void>> {
            co_await insert_token(c, t);
            co_return Result<void>{};
        },
        token
    );
}

asio::awaitable<Result<std::optional<RefreshToken>>> PgStore::find_refresh_token(std::string sha256
) {
    co_return co_await run<std::optional<RefreshToken>>(
        [](PgConnection& c,
           const std::string& hash) -> asio::awaitable<Result<std::optional<RefreshToken>>> {
            const auto r = co_await c.query(
                "SELECT " + kTokenColumns + " FROM refresh_tokens WHERE token_sha256 = $1",
                Params().text(hash)
            );
            co_return first_row<RefreshToken>(r, read_token);
        },
        sha256
    );
}

asio::awaitable<Result<bool>> PgStore::rotate_refresh_token(
    std::string old_id, RefreshToken replacement, TimePoint now
) {
    co_return co_await run<bool>(
        [](PgConnection& c, const std::string& old, const RefreshToken& next, const TimePoint& at
        ) -> asio::awaitable<Result<bool>> {
            co_await c.exec("BEGIN");
            // Of two concurrent rotations, the second waits on the row lock and then finds it
            // revoked: it changes nothing and reports false.
            const auto revoked = co_await c.query(
                "UPDATE refresh_tokens SET revoked_at = $1, replaced_by = $2 WHERE id = $3 AND "
                "revoked_at IS NULL",
                Params().time(at).text(next.id).text(old)
            );
            if (revoked.affected() != 1) {
                co_await c.exec("ROLLBACK");
                co_return false;
            }
            co_await insert_token(c, next);
            co_await c.exec("COMMIT");
            co_return true;
        },
        old_id,
        replacement,
        now
    );
}

asio::awaitable<Result<void>> PgStore::revoke_refresh_family(std::string family_id, TimePoint now) {
    co_return co_await run<void>(
        [](PgConnection& c, const std::string& family, const TimePoint& at
        ) -> asio::awaitable<Result<void>> {
            co_await c.query(
                "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS "
                "NULL",
                Params().time(at).text(family)
            );
            co_return Result<void>{};
        },
        family_id,
        now
    );
}

asio::awaitable<Result<void>> PgStore::create_api_key(ApiKey key) {
    co_return co_await run<void>(
        [](PgConnection& c, const ApiKey& k) -> asio::awaitable<Result<void>> {
            Params p;
            p.text(k.id).text(k.user_id).text(k.name).text(k.prefix).text(k.key_sha256);
            p.integer(static_cast<std::int64_t>(k.scopes)).time(k.created_at);
            p.optional_time(k.last_used_at).optional_time(k.expires_at).optional_time(k.revoked_at);
            co_await c.query(
                "INSERT INTO api_keys(" + kKeyColumns +
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                p
            );
            co_return Result<void>{};
        },
        key
    );
}

asio::awaitable<Result<std::vector<ApiKey>>> PgStore::list_api_keys(std::string user_id) {
    co_return co_await run<std::vector<ApiKey>>(
        [](PgConnection& c,
           const std::string& user) -> asio::awaitable<Result<std::vector<ApiKey>>> {
            const auto r = co_await c.query(
                "SELECT " + kKeyColumns +
                    " FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at "
                    "DESC, id DESC",
                Params().text(user)
            );
            std::vector<ApiKey> out;
            out.reserve(static_cast<std::size_t>(r.rows()));
            for (int i = 0; i < r.rows(); ++i) {
                out.push_back(read_key(r, i));
            }
            co_return out;
        },
        user_id
    );
}

asio::awaitable<Result<std::optional<ApiKey>>> PgStore::find_api_key(std::string sha256) {
    co_return co_await run<std::optional<ApiKey>>(
        [](PgConnection& c,
           const std::string& hash) -> asio::awaitable<Result<std::optional<ApiKey>>> {
            const auto r = co_await c.query(
                "SELECT " + kKeyColumns + " FROM api_keys WHERE key_sha256 = $1",
                Params().text(hash)
            );
            co_return first_row<ApiKey>(r, read_key);
        },
        sha256
    );
}

asio::awaitable<Result<bool>> PgStore::revoke_api_key(
    std::string id, std::string user_id, TimePoint now
) {
    co_return co_await run<bool>(
        [](PgConnection& c, const std::string& key, const std::string& user, const TimePoint& at
        ) -> asio::awaitable<Result<bool>> {
            const auto r = co_await c.query(
                "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at "
                "IS NULL",
                Params().time(at).text(key).text(user)
            );
            co_return r.affected() == 1;
        },
        id,
        user_id,
        now
    );
}

asio::awaitable<Result<void>> PgStore::touch_api_key(std::string id, TimePoint now) {
    co_return co_await run<void>(
        [](PgConnection& c, const std::string& key, const TimePoint& at
        ) -> asio::awaitable<Result<void>> {
            co_await c.query(
                "UPDATE api_keys SET last_used_at = $1 WHERE id = $2", Params().time(at).text(key)
            );
            co_return Result<void>{};
        },
        id,
        now
    );
}

}  // namespace parley::store::postgres
