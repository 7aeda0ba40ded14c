#include "common/json.hpp"

#include <algorithm>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value_stack.hpp>

#include "common/strings.hpp"

namespace parley::json {

namespace bj = boost::json;

namespace {

// Builds the value as Boost.JSON's own parser does (a value_stack fed by basic_parser) and also
// keeps the keys of every object still open, so a repeated key is found when its object closes.
// Boost 1.81 has no parse option for this; the built object keeps only the last duplicate, so it
// cannot be checked afterwards.
class UniqueKeysHandler {
public:
    // The names basic_parser asks a handler for.
    // NOLINTBEGIN(readability-identifier-naming)
    static constexpr std::size_t max_object_size = bj::object::max_size();
    static constexpr std::size_t max_array_size = bj::array::max_size();
    static constexpr std::size_t max_key_size = bj::string::max_size();
    static constexpr std::size_t max_string_size = bj::string::max_size();
    // NOLINTEND(readability-identifier-naming)

    bj::value_stack st;

    // The first repeated key found, if any.
    const std::optional<std::string>& duplicate() const noexcept { return duplicate_; }

    bool on_document_begin(boost::system::error_code&) { return true; }

    bool on_document_end(boost::system::error_code&) { return true; }

    bool on_object_begin(boost::system::error_code&) {
        starts_.push_back(keys_.size());
        return true;
    }

    bool on_object_end(std::size_t n, boost::system::error_code& ec) {
        const auto first = keys_.begin() + static_cast<std::ptrdiff_t>(starts_.back());
        std::sort(first, keys_.end());
        if (const auto dup = std::adjacent_find(first, keys_.end()); dup != keys_.end()) {
            duplicate_ = *dup;
            ec = bj::error::syntax;  // stops the parser; parse() reports duplicate() instead
            return false;
        }
        keys_.erase(first, keys_.end());
        starts_.pop_back();
        st.push_object(n);
        return true;
    }

    bool on_array_begin(boost::system::error_code&) { return true; }

    bool on_array_end(std::size_t n, boost::system::error_code&) {
        st.push_array(n);
        return true;
    }

    bool on_key_part(bj::string_view s, std::size_t, boost::system::error_code&) {
        st.push_chars(s);
        key_.append(s.data(), s.size());
        return true;
    }

    bool on_key(bj::string_view s, std::size_t, boost::system::error_code&) {
        st.push_key(s);
        key_.append(s.data(), s.size());
        keys_.push_back(std::move(key_));
        key_.clear();
        return true;
    }

    bool on_string_part(bj::string_view s, std::size_t, boost::system::error_code&) {
        st.push_chars(s);
        return true;
    }

    bool on_string(bj::string_view s, std::size_t, boost::system::error_code&) {
        st.push_string(s);
        return true;
    }

    bool on_number_part(bj::string_view, boost::system::error_code&) { return true; }

    bool on_int64(std::int64_t i, bj::string_view, boost::system::error_code&) {
        st.push_int64(i);
        return true;
    }

    bool on_uint64(std::uint64_t u, bj::string_view, boost::system::error_code&) {
        st.push_uint64(u);
        return true;
    }

    bool on_double(double d, bj::string_view, boost::system::error_code&) {
        st.push_double(d);
        return true;
    }

    bool on_bool(bool b, boost::system::error_code&) {
        st.push_bool(b);
        return true;
    }

    bool on_null(boost::system::error_code&) {
        st.push_null();
        return true;
    }

    bool on_comment_part(bj::string_view, boost::system::error_code&) { return true; }

    bool on_comment(bj::string_view, boost::system::error_code&) { return true; }

private:
    std::string key_;                  // the key being read, when it arrives in parts
    std::vector<std::string> keys_;    // the keys of the open objects, innermost last
    std::vector<std::size_t> starts_;  // where each open object's keys begin in keys_
    std::optional<std::string> duplicate_;
};

// A key shown in an error message: at most 64 bytes of it.
std::string shown_key(std::string_view key) {
    constexpr std::size_t kMaxShown = 64;
    if (key.size() <= kMaxShown) {
        return std::string(key);
    }
    return std::string(utf8_prefix(key, kMaxShown)) + "…";
}

Error parse_error(boost::system::error_code ec, std::size_t max_depth) {
    if (ec == bj::error::too_deep) {
        return make_error(
            ErrorType::invalid_request,
            "JSON nested deeper than " + std::to_string(max_depth) + " levels"
        );
    }
    return make_error(ErrorType::invalid_request, "malformed JSON: " + ec.message());
}

Result<bj::value> parse_unique_keys(std::string_view text, const bj::parse_options& options) {
    bj::basic_parser<UniqueKeysHandler> parser(options);
    parser.handler().st.reset();
    boost::system::error_code ec;
    const std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
    if (const auto& dup = parser.handler().duplicate()) {
        return make_error(
            ErrorType::invalid_request, "duplicate key `" + shown_key(*dup) + "` in a JSON object"
        );
    }
    if (!ec && n < text.size()) {
        ec = bj::error::extra_data;
    }
    if (ec) {
        return parse_error(ec, options.max_depth);
    }
    return parser.handler().st.release();
}

}  // namespace

Result<bj::value> parse(
    std::string_view text,
    std::size_t max_depth,
    DuplicateKeys duplicates,
    const bj::storage_ptr& sp
) {
    bj::parse_options options;
    options.max_depth = max_depth;
    if (duplicates == DuplicateKeys::refuse) {
        return parse_unique_keys(text, options);
    }
    boost::system::error_code ec;
    bj::value value = bj::parse(text, ec, sp, options);
    if (ec) {
        return parse_error(ec, max_depth);
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

Result<void> reject_unknown_fields(
    const bj::object& o, std::initializer_list<std::string_view> allowed
) {
    for (const auto& field : o) {
        const std::string_view key = field.key();
        if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
            continue;
        }
        std::string message = "unknown field `" + shown_key(key) + "`";
        std::string_view separator = "; this request takes ";
        for (const auto name : allowed) {
            message += separator;
            message += name;
            separator = ", ";
        }
        if (allowed.size() == 0) {
            message += "; this request takes no fields";
        }
        return make_error(ErrorType::unprocessable, std::move(message));
    }
    return {};
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

boost::json::value time_or_null(const std::optional<TimePoint>& t) {
    return t ? boost::json::value(to_iso8601(*t)) : boost::json::value(nullptr);
}

boost::json::value usd_or_null(const std::optional<std::int64_t>& micros) {
    return micros ? boost::json::value(static_cast<double>(*micros) / 1e6)
                  : boost::json::value(nullptr);
}

}  // namespace parley::json
