// Users, refresh tokens and API keys on SQLite.
#include "store/sqlite/sqlite_store_impl.hpp"

namespace parley::store::sqlite {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kUserColumns = "id, email, password_hash, created_at";

User read_user(const Statement& st) {
    return User{
        st.column_text(0),
        st.column_text(1),
        st.column_text(2),
        column_time(st, 3).value_or(TimePoint{})};
}

constexpr std::string_view kTokenColumns =
    "id, user_id, family_id, token_sha256, created_at, expires_at, revoked_at, replaced_by";

RefreshToken read_token(const Statement& st) {
    RefreshToken t;
    t.id = st.column_text(0);
    t.user_id = st.column_text(1);
    t.family_id = st.column_text(2);
    t.token_sha256 = st.column_text(3);
    t.created_at = column_time(st, 4).value_or(TimePoint{});
    t.expires_at = column_time(st, 5).value_or(TimePoint{});
    t.revoked_at = column_time(st, 6);
    if (!st.column_is_null(7)) {
        t.replaced_by = st.column_text(7);
    }
    return t;
}

constexpr std::string_view kKeyColumns =
    "id, user_id, name, prefix, key_sha256, scopes, created_at, last_used_at, expires_at, "
    "revoked_at";

ApiKey read_key(const Statement& st) {
    ApiKey k;
    k.id = st.column_text(0);
    k.user_id = st.column_text(1);
    k.name = st.column_text(2);
    k.prefix = st.column_text(3);
    k.key_sha256 = st.column_text(4);
    k.scopes = static_cast<unsigned>(st.column_int(5));
    k.created_at = column_time(st, 6).value_or(TimePoint{});
    k.last_used_at = column_time(st, 7);
    k.expires_at = column_time(st, 8);
    k.revoked_at = column_time(st, 9);
    return k;
}

void insert_token(Connection& c, const RefreshToken& t) {
    auto st = c.prepare(
        "INSERT INTO refresh_tokens(id, user_id, family_id, token_sha256, created_at, expires_at, "
        "revoked_at, "
        "replaced_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    );
    st.bind(1, t.id).bind(2, t.user_id).bind(3, t.family_id).bind(4, t.token_sha256);
    st.bind(5, to_iso8601(t.created_at)).bind(6, to_iso8601(t.expires_at));
    bind_time(st, 7, t.revoked_at);
    if (t.replaced_by) {
        st.bind(8, *t.replaced_by);
    } else {
        st.bind_null(8);
    }
    st.step();
}

}  // namespace

asio::awaitable<Result<void>> SqliteStore::create_user(User user) {
    auto r = co_await run<void>([&user](Connection& c) -> Result<void> {
        c.prepare("INSERT INTO users(id, email, password_hash, created_at) VALUES (?, ?, ?, ?)")
            .bind(1, user.id)
            .bind(2, user.email)
            .bind(3, user.password_hash)
            .bind(4, to_iso8601(user.created_at))
            .step();
        return {};
    });
    if (!r && r.error().type == ErrorType::conflict) {
        co_return make_error(ErrorType::conflict, "an account with this email already exists");
    }
    co_return r;
}

asio::awaitable<Result<std::optional<User>>> SqliteStore::find_user_by_email(std::string email) {
    co_return co_await run<std::optional<User>>(
        [&email](Connection& c) -> Result<std::optional<User>> {
            auto st =
                c.prepare("SELECT " + std::string(kUserColumns) + " FROM users WHERE email = ?");
            st.bind(1, email);
            if (!st.step()) {
                return std::optional<User>{};
            }
            return std::optional<User>{read_user(st)};
        }
    );
}

asio::awaitable<Result<std::optional<User>>> SqliteStore::find_user(std::string id) {
    co_return read<std::optional<User>>([&id](Connection& c) -> Result<std::optional<User>> {
        auto st = c.prepare("SELECT " + std::string(kUserColumns) + " FROM users WHERE id = ?");
        st.bind(1, id);
        if (!st.step()) {
            return std::optional<User>{};
        }
        return std::optional<User>{read_user(st)};
    });
}

asio::awaitable<Result<void>> SqliteStore::insert_refresh_token(RefreshToken token) {
    co_return co_await run<void>([&token](Connection& c) -> Result<void> {
        insert_token(c, token);
        return {};
    });
}

asio::awaitable<Result<std::optional<RefreshToken>>> SqliteStore::find_refresh_token(
    std::string sha256
) {
    co_return co_await run<std::optional<RefreshToken>>(
        [&sha256](Connection& c) -> Result<std::optional<RefreshToken>> {
            auto st = c.prepare(
                "SELECT " + std::string(kTokenColumns) +
                " FROM refresh_tokens WHERE token_sha256 = ?"
            );
            st.bind(1, sha256);
            if (!st.step()) {
                return std::optional<RefreshToken>{};
            }
            return std::optional<RefreshToken>{read_token(st)};
        }
    );
}

asio::awaitable<Result<bool>> SqliteStore::rotate_refresh_token(
    std::string old_id, RefreshToken replacement, TimePoint now
) {
    co_return co_await run<bool>([&](Connection& c) -> Result<bool> {
        return in_transaction(c, [&] {
            auto st = c.prepare(
                "UPDATE refresh_tokens SET revoked_at = ?, replaced_by = ? WHERE id = ? AND "
                "revoked_at IS NULL"
            );
            st.bind(1, to_iso8601(now)).bind(2, replacement.id).bind(3, old_id);
            st.step();
            if (sqlite3_changes(c.handle()) != 1) {
                return false;
            }
            insert_token(c, replacement);
            return true;
        });
    });
}

asio::awaitable<Result<void>> SqliteStore::revoke_refresh_family(
    std::string family_id, TimePoint now
) {
    co_return co_await run<void>([&](Connection& c) -> Result<void> {
        c.prepare(
             "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL"
        )
            .bind(1, to_iso8601(now))
            .bind(2, family_id)
            .step();
        return {};
    });
}

asio::awaitable<Result<void>> SqliteStore::create_api_key(ApiKey key) {
    co_return co_await run<void>([&key](Connection& c) -> Result<void> {
        auto st = c.prepare(
            "INSERT INTO api_keys(id, user_id, name, prefix, key_sha256, scopes, created_at, "
            "last_used_at, "
            "expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        st.bind(1, key.id)
            .bind(2, key.user_id)
            .bind(3, key.name)
            .bind(4, key.prefix)
            .bind(5, key.key_sha256);
        st.bind(6, static_cast<std::int64_t>(key.scopes)).bind(7, to_iso8601(key.created_at));
        bind_time(st, 8, key.last_used_at);
        bind_time(st, 9, key.expires_at);
        bind_time(st, 10, key.revoked_at);
        st.step();
        return {};
    });
}

asio::awaitable<Result<std::vector<ApiKey>>> SqliteStore::list_api_keys(std::string user_id) {
    co_return co_await run<std::vector<ApiKey>>(
        [&user_id](Connection& c) -> Result<std::vector<ApiKey>> {
            auto st = c.prepare(
                "SELECT " + std::string(kKeyColumns) +
                " FROM api_keys WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC, "
                "id DESC"
            );
            st.bind(1, user_id);
            std::vector<ApiKey> out;
            while (st.step()) {
                out.push_back(read_key(st));
            }
            return out;
        }
    );
}

asio::awaitable<Result<std::optional<ApiKey>>> SqliteStore::find_api_key(std::string sha256) {
    co_return read<std::optional<ApiKey>>(
        [&sha256](Connection& c) -> Result<std::optional<ApiKey>> {
            auto st = c.prepare(
                "SELECT " + std::string(kKeyColumns) + " FROM api_keys WHERE key_sha256 = ?"
            );
            st.bind(1, sha256);
            if (!st.step()) {
                return std::optional<ApiKey>{};
            }
            return std::optional<ApiKey>{read_key(st)};
        }
    );
}

asio::awaitable<Result<bool>> SqliteStore::revoke_api_key(
    std::string id, std::string user_id, TimePoint now
) {
    co_return co_await run<bool>([&](Connection& c) -> Result<bool> {
        c.prepare(
             "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS "
             "NULL"
        )
            .bind(1, to_iso8601(now))
            .bind(2, id)
            .bind(3, user_id)
            .step();
        return sqlite3_changes(c.handle()) == 1;
    });
}

asio::awaitable<Result<void>> SqliteStore::touch_api_key(std::string id, TimePoint now) {
    co_return co_await run<void>([&](Connection& c) -> Result<void> {
        c.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(1, to_iso8601(now))
            .bind(2, id)
            .step();
        return {};
    });
}

}  // namespace parley::store::sqlite
