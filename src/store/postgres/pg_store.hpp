// The PostgreSQL implementation of Store: a bounded pool of connections driven asynchronously by
// libpq on the caller's io_context, for running many Parley instances on one database
// (ARCHITECTURE §8).
#pragma once

#include <memory>
#include <string>

#include "store/store.hpp"

namespace parley::store::postgres {

// A store for the database `conninfo` (a postgresql:// URI or a key=value string) names, with at
// most `pool_size` connections. Connects lazily: the first query (or migrate()) opens the first
// connection. Errors: invalid_request when `conninfo` cannot be parsed.
Result<std::unique_ptr<Store>> open_postgres_store(
    const std::string& conninfo, std::size_t pool_size
);

}  // namespace parley::store::postgres
