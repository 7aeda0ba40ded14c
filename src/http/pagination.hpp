// `?page=&per_page=` as the seed contract defines them: page ≥ 1 (default 1), per_page 1–100
// (default 20).
#pragma once

#include <cstdint>

#include "common/error.hpp"
#include "http/request.hpp"

namespace parley::http {

struct Page {
    std::int64_t page = 1;
    std::int64_t per_page = 20;

    std::int64_t offset() const noexcept { return (page - 1) * per_page; }
};

// The page a request asks for. Errors: unprocessable naming the parameter when it is not an
// integer in range.
Result<Page> parse_page(const Request& req);

}  // namespace parley::http
