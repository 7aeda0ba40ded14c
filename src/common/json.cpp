#include "common/json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

namespace parley::json {

namespace bj = boost::json;

Result<bj::value> parse(std::string_view text, std::size_t max_depth) {
    bj::parse_options options;
    options.max_depth = max_depth;
    boost::system::error_code ec;
    bj::value value = bj::parse(text, ec, {}, options);
    if (ec == bj::error::too_deep) {
        return make_error(
            ErrorType::invalid_request,
            "JSON nested deeper than " + std::to_string(max_depth) + " levels"
        );
    }
    if (ec) {
        return make_error(ErrorType::invalid_request, "malformed JSON: " + ec.message());
    }
    return value;
}

namespace {

Error wrong_type(std::string_view key, std::string_view expected) {
    return make_error(
        ErrorType::unprocessable, "`" + std::string(key) + "` must be " + std::string(expected)
    );
}

}  // namespace

Result<std::optional<std::string>> optional_string(const bj::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::optional<std::string>{};
    }
    if (!v->is_string()) {
        return wrong_type(key, "a string");
    }
    return std::optional<std::string>{std::string(v->get_string())};
}

Result<std::optional<bool>> optional_bool(const bj::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::optional<bool>{};
    }
    if (!v->is_bool()) {
        return wrong_type(key, "a boolean");
    }
    return std::optional<bool>{v->get_bool()};
}

Result<std::optional<std::int64_t>> optional_int(const bj::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::optional<std::int64_t>{};
    }
    if (v->is_int64()) {
        return std::optional<std::int64_t>{v->get_int64()};
    }
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return std::optional<std::int64_t>{static_cast<std::int64_t>(v->get_uint64())};
    }
    return wrong_type(key, "an integer");
}

Result<std::optional<double>> optional_number(const bj::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::optional<double>{};
    }
    if (!v->is_number()) {
        return wrong_type(key, "a number");
    }
    return std::optional<double>{v->to_number<double>()};
}

Result<std::string> required_string(const bj::object& o, std::string_view key) {
    auto value = optional_string(o, key);
    if (!value) {
        return value.error();
    }
    if (!*value) {
        return make_error(ErrorType::unprocessable, "`" + std::string(key) + "` is required");
    }
    return std::move(**value);
}

void escape_into(std::string& out, std::string_view s) {
    constexpr std::string_view kHex = "0123456789abcdef";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out.push_back(kHex[c >> 4]);
                    out.push_back(kHex[c & 0x0F]);
                } else {
                    out.push_back(ch);
                }
        }
    }
}

}  // namespace parley::json
