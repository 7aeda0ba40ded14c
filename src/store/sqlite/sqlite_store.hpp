// The SQLite implementation of Store: a file in WAL mode, a small connection pool, every query run
// on the blocking pool.
#pragma once

#include <memory>
#include <string>

#include "store/store.hpp"

namespace parley::store::sqlite {

// Opens (creating the file and its directory if needed) the SQLite database at `path`.
// Errors: overloaded when the file cannot be opened.
Result<std::unique_ptr<Store>> open_sqlite_store(
    const std::string& path, async::BlockingPool& pool
);

}  // namespace parley::store::sqlite
