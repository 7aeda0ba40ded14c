#include "store/store.hpp"

#include "store/postgres/pg_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace parley::store {

std::string qualified_columns(std::string_view columns, std::string_view table) {
    std::string out;
    std::size_t i = 0;
    while (i < columns.size()) {
        while (i < columns.size() && (columns[i] == ' ' || columns[i] == ',')) {
            ++i;
        }
        const std::size_t start = i;
        while (i < columns.size() && columns[i] != ',') {
            ++i;
        }
        if (i > start) {
            if (!out.empty()) {
                out += ", ";
            }
            out += table;
            out += '.';
            out += columns.substr(start, i - start);
        }
    }
    return out;
}

Result<DatabaseUrl> parse_database_url(std::string_view url) {
    constexpr std::string_view kSqlite = "sqlite://";
    if (url.starts_with(kSqlite)) {
        std::string path(url.substr(kSqlite.size()));
        if (path.empty()) {
            return make_error(
                ErrorType::invalid_request,
                "expected sqlite://PATH (for example sqlite://data/parley.db), got an empty path"
            );
        }
        return DatabaseUrl{DatabaseUrl::Kind::sqlite, std::move(path)};
    }
    if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
        return DatabaseUrl{DatabaseUrl::Kind::postgres, std::string(url)};
    }
    return make_error(
        ErrorType::invalid_request,
        "expected sqlite://PATH or postgresql://USER@HOST/DB, got \"" + std::string(url) + "\""
    );
}

Result<std::unique_ptr<Store>> open_store(
    const DatabaseUrl& url, async::BlockingPool& pool, const StoreOptions& options
) {
    if (url.kind == DatabaseUrl::Kind::postgres) {
        return postgres::open_postgres_store(url.target, options.pool_size);
    }
    return sqlite::open_sqlite_store(url.target, pool);
}

}  // namespace parley::store
