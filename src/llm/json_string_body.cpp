#include "llm/json_string_body.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "common/strings.hpp"

namespace parley::llm {

namespace bj = boost::json;
using boost::system::error_code;

namespace {

// A Boost.JSON parse handler that takes one string value and refuses any other.
class StringHandler {
public:
    // The names basic_parser asks a handler for; the limits Boost.JSON's own value builder passes.
    // NOLINTBEGIN(readability-identifier-naming)
    static constexpr std::size_t max_object_size = bj::object::max_size();
    static constexpr std::size_t max_array_size = bj::array::max_size();
    static constexpr std::size_t max_key_size = bj::string::max_size();
    static constexpr std::size_t max_string_size = bj::string::max_size();

    // NOLINTEND(readability-identifier-naming)

    explicit StringHandler(std::string& text) : text_(text) {}

    bool done() const noexcept { return done_; }

    bool on_document_begin(error_code&) { return true; }

    bool on_document_end(error_code&) { return true; }

    bool on_string_part(bj::string_view s, std::size_t, error_code&) {
        text_.append(s.data(), s.size());
        return true;
    }

    bool on_string(bj::string_view s, std::size_t, error_code&) {
        text_.append(s.data(), s.size());
        done_ = true;
        return true;
    }

    bool on_object_begin(error_code& ec) { return refuse(ec); }

    bool on_object_end(std::size_t, error_code& ec) { return refuse(ec); }

    bool on_array_begin(error_code& ec) { return refuse(ec); }

    bool on_array_end(std::size_t, error_code& ec) { return refuse(ec); }

    bool on_key_part(bj::string_view, std::size_t, error_code& ec) { return refuse(ec); }

    bool on_key(bj::string_view, std::size_t, error_code& ec) { return refuse(ec); }

    bool on_number_part(bj::string_view, error_code& ec) { return refuse(ec); }

    bool on_int64(std::int64_t, bj::string_view, error_code& ec) { return refuse(ec); }

    bool on_uint64(std::uint64_t, bj::string_view, error_code& ec) { return refuse(ec); }

    bool on_double(double, bj::string_view, error_code& ec) { return refuse(ec); }

    bool on_bool(bool, error_code& ec) { return refuse(ec); }

    bool on_null(error_code& ec) { return refuse(ec); }

    bool on_comment_part(bj::string_view, error_code& ec) { return refuse(ec); }

    bool on_comment(bj::string_view, error_code& ec) { return refuse(ec); }

private:
    static bool refuse(error_code& ec) {
        ec = bj::error::syntax;
        return false;
    }

    std::string& text_;
    bool done_ = false;
};

}  // namespace

bool json_string_body_text(std::string_view body, std::string& text) {
    // The common case, bytes that all stand for themselves (no escape, quote or control
    // character; well-formed UTF-8, as Boost.JSON requires), is the text as it is.
    const bool plain = std::none_of(body.begin(), body.end(), [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return b < 0x20 || b == '"' || b == '\\';
    });
    if (plain) {
        text.assign(body);
        return is_valid_utf8(body);
    }
    text.clear();
    // The body is parsed where it stands, between a quote given before and one after it: the
    // parser resumes a string across writes. Each write must be taken whole (a quote in the body
    // would end the value early).
    bj::basic_parser<StringHandler> parser(bj::parse_options{}, text);
    error_code ec;
    constexpr char kQuote = '"';
    if (parser.write_some(true, &kQuote, 1, ec) != 1 || ec) {
        return false;
    }
    if (!body.empty() &&
        (parser.write_some(true, body.data(), body.size(), ec) != body.size() || ec)) {
        return false;
    }
    return parser.write_some(false, &kQuote, 1, ec) == 1 && !ec && parser.handler().done();
}

}  // namespace parley::llm
