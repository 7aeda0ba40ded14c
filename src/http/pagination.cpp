#include "http/pagination.hpp"

#include <charconv>

namespace parley::http {

Result<std::int64_t> integer_param(
    const Request& req,
    std::string_view name,
    std::int64_t fallback,
    std::int64_t min,
    std::int64_t max
) {
    const auto text = req.query_param(name);
    if (!text) {
        return fallback;
    }
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (text->empty() || ec != std::errc{} || ptr != text->data() + text->size() || v < min ||
        v > max) {
        return make_error(
            ErrorType::unprocessable,
            std::string(name) + " must be an integer from " + std::to_string(min) + " to " +
                std::to_string(max)
        );
    }
    return v;
}

Result<std::optional<TimePoint>> time_param(const Request& req, std::string_view name) {
    auto text = req.query_param(name);
    if (!text || text->empty()) {
        return std::optional<TimePoint>{};
    }
    if (text->size() == 10) {
        *text += "T00:00:00Z";
    }
    auto t = parse_iso8601(*text);
    if (!t) {
        return make_error(
            ErrorType::unprocessable,
            std::string(name) + " must be a date (2026-11-25) or an ISO 8601 date-time"
        );
    }
    return t;
}

Result<Page> parse_page(const Request& req) {
    auto page = integer_param(req, "page", 1, 1, 1'000'000);
    if (!page) {
        return page.error();
    }
    auto per_page = integer_param(req, "per_page", 20, 1, 100);
    if (!per_page) {
        return per_page.error();
    }
    return Page{*page, *per_page};
}

}  // namespace parley::http
