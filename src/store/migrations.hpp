// The schema migrations compiled into the binary from store/migrations/<dialect>/NNNN_name.sql.
#pragma once

#include <span>

#include "store/store.hpp"

namespace parley::store {

// SQLite migrations, ascending by version.
std::span<const Migration> sqlite_migrations();

// PostgreSQL migrations, ascending by version.
std::span<const Migration> postgres_migrations();

}  // namespace parley::store
