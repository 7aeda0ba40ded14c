// `?page=&per_page=` as the seed contract defines them: page ≥ 1 (default 1), per_page 1–100
// (default 20).
#pragma once

#include <cstdint>
#include <string_view>

#include "common/error.hpp"
#include "common/time.hpp"
#include "http/request.hpp"

namespace parley::http {

struct Page {
    std::int64_t page = 1;
    std::int64_t per_page = 20;

    std::int64_t offset() const noexcept { return (page - 1) * per_page; }
};

// Query parameter `name` as an integer in [min, max]; `fallback` when absent. Errors:
// unprocessable naming the parameter and the range (an empty value is not a number).
Result<std::int64_t> integer_param(
    const Request& req,
    std::string_view name,
    std::int64_t fallback,
    std::int64_t min,
    std::int64_t max
);

// Query parameter `name` as a time: an ISO 8601 date-time, or a date (midnight UTC); nullopt when
// absent or empty. Errors: unprocessable naming the parameter.
Result<std::optional<TimePoint>> time_param(const Request& req, std::string_view name);

// The page a request asks for. Errors: unprocessable naming the parameter when it is not an
// integer in range.
Result<Page> parse_page(const Request& req);

}  // namespace parley::http
