#include "llm/openai_chunk_scan.hpp"

#include <cstdint>

#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/string.hpp>

#include "llm/wire_json.hpp"

namespace parley::llm {

namespace bj = boost::json;
using boost::system::error_code;

namespace {

// Where the parser is in the chunk: the objects and the array the scan looks into.
enum class Place { document, chunk, choices, choice, delta, end };

// What the value being read is, from its key (or, in `choices`, its place).
enum class Slot {
    skip,       // a field the decoder ignores: any value, skipped whole
    null_only,  // a field that must be null (or absent) for the plain shape
    choices,
    choice,
    index,
    delta,
    content,
    object,  // the chunk's `object`: anything but the string "error"
};

// A Boost.JSON parse handler that builds nothing: it follows the plain shape and stops the parse
// (the scan's "other") at the first thing outside it.
class PlainChunkHandler {
public:
    // The limits Boost.JSON's own value builder passes, so the scan fails where the parse does.
    static constexpr std::size_t max_object_size = bj::object::max_size();
    static constexpr std::size_t max_array_size = bj::array::max_size();
    static constexpr std::size_t max_key_size = bj::string::max_size();
    static constexpr std::size_t max_string_size = bj::string::max_size();

    explicit PlainChunkHandler(std::string& content) : content_(content) {}

    bool has_content() const noexcept { return seen_content_ && content_is_string_; }

    bool on_document_begin(error_code&) { return true; }

    bool on_document_end(error_code&) { return true; }

    bool on_comment_part(bj::string_view, error_code&) { return true; }

    bool on_comment(bj::string_view, error_code&) { return true; }

    bool on_number_part(bj::string_view, error_code&) { return true; }

    bool on_object_begin(error_code& ec) {
        if (skip_ > 0) {
            ++skip_;
            return true;
        }
        if (place_ == Place::document) {
            place_ = Place::chunk;
            return true;
        }
        switch (take_slot()) {
            case Slot::skip:
                skip_ = 1;
                return true;
            case Slot::choice:
                if (++choices_seen_ > 1) {
                    return other(ec);
                }
                place_ = Place::choice;
                return true;
            case Slot::delta:
                if (!first(seen_delta_)) {
                    return other(ec);
                }
                place_ = Place::delta;
                return true;
            default:
                return other(ec);
        }
    }

    bool on_object_end(std::size_t, error_code&) {
        if (skip_ > 0) {
            --skip_;
            return true;
        }
        switch (place_) {
            case Place::delta:
                place_ = Place::choice;
                break;
            case Place::choice:
                place_ = Place::choices;
                break;
            default:
                place_ = Place::end;
                break;
        }
        return true;
    }

    bool on_array_begin(error_code& ec) {
        if (skip_ > 0) {
            ++skip_;
            return true;
        }
        if (place_ == Place::document) {
            return other(ec);
        }
        switch (take_slot()) {
            case Slot::skip:
                skip_ = 1;
                return true;
            case Slot::choices:
                if (!first(seen_choices_)) {
                    return other(ec);
                }
                place_ = Place::choices;
                return true;
            default:
                return other(ec);
        }
    }

    bool on_array_end(std::size_t, error_code&) {
        if (skip_ > 0) {
            --skip_;
            return true;
        }
        place_ = Place::chunk;  // the only array the scan enters is `choices`
        return true;
    }

    bool on_key_part(bj::string_view s, std::size_t, error_code&) {
        append_key(s);
        return true;
    }

    bool on_key(bj::string_view s, std::size_t, error_code&) {
        append_key(s);
        if (skip_ == 0) {
            // No key the scan looks for is longer than kMaxKey: a longer one is skipped.
            slot_ = key_overflow_ ? Slot::skip : slot_of(key_view());
        }
        key_size_ = 0;
        key_overflow_ = false;
        return true;
    }

    bool on_string_part(bj::string_view s, std::size_t, error_code& ec) {
        return string_piece(s, false, ec);
    }

    bool on_string(bj::string_view s, std::size_t, error_code& ec) {
        return string_piece(s, true, ec);
    }

    bool on_int64(std::int64_t i, bj::string_view, error_code& ec) { return integer(i == 0, ec); }

    bool on_uint64(std::uint64_t u, bj::string_view, error_code& ec) { return integer(u == 0, ec); }

    bool on_double(double, bj::string_view, error_code& ec) { return scalar(ec); }

    bool on_bool(bool, error_code& ec) { return scalar(ec); }

    bool on_null(error_code& ec) {
        if (skip_ > 0) {
            return true;
        }
        if (place_ == Place::document) {
            return other(ec);
        }
        switch (take_slot()) {
            case Slot::choices:
                return first(seen_choices_) || other(ec);
            case Slot::delta:
                return first(seen_delta_) || other(ec);
            case Slot::content:
                return first(seen_content_) || other(ec);
            case Slot::choice:  // a null choice: the full decoder calls that malformed
                return other(ec);
            default:  // skip, null_only, index (absent → 0), object
                return true;
        }
    }

private:
    static constexpr std::size_t kMaxKey = 24;  // longer than every key the scan looks for

    // Stops the parse: the chunk is not the plain shape. The error code only ends the parse.
    static bool other(error_code& ec) {
        ec = bj::error::syntax;
        return false;
    }

    // True the first time for `seen`.
    static bool first(bool& seen) {
        const bool was = seen;
        seen = true;
        return !was;
    }

    Slot take_slot() {
        if (place_ == Place::choices) {
            return Slot::choice;
        }
        const Slot s = slot_;
        slot_ = Slot::skip;
        return s;
    }

    // The slot a key opens in the current place. A field the full decoder acts on when it is not
    // null is null_only: its value decides, when it arrives.
    Slot slot_of(std::string_view key) const {
        switch (place_) {
            case Place::chunk:
                if (key == "choices") {
                    return Slot::choices;
                }
                if (key == "usage" || key == "error" || key == "x_groq") {
                    return Slot::null_only;
                }
                if (key == "object") {
                    return Slot::object;
                }
                return Slot::skip;
            case Place::choice:
                if (key == "index") {
                    return Slot::index;
                }
                if (key == "delta") {
                    return Slot::delta;
                }
                if (key == "finish_reason") {
                    return Slot::null_only;
                }
                return Slot::skip;
            case Place::delta:
                if (key == "content") {
                    return Slot::content;
                }
                if (key == "reasoning" || key == "reasoning_content" || key == "refusal" ||
                    key == "tool_calls") {
                    return Slot::null_only;
                }
                return Slot::skip;
            default:
                return Slot::skip;
        }
    }

    void append_key(bj::string_view s) {
        if (key_overflow_ || key_size_ + s.size() > kMaxKey) {
            key_overflow_ = true;
            return;
        }
        s.copy(key_ + key_size_, s.size());
        key_size_ += s.size();
    }

    std::string_view key_view() const { return {key_, key_size_}; }

    // A piece of a string value; `last` on its final piece.
    bool string_piece(bj::string_view s, bool last, error_code& ec) {
        if (skip_ > 0) {
            return true;
        }
        if (!in_string_) {
            if (place_ == Place::document) {
                return other(ec);
            }
            in_string_ = true;
            string_slot_ = take_slot();
            object_match_ = 0;
            switch (string_slot_) {
                case Slot::content:
                    if (!first(seen_content_)) {
                        return other(ec);
                    }
                    content_is_string_ = true;
                    content_.clear();
                    break;
                case Slot::skip:
                case Slot::object:
                    break;
                default:
                    return other(ec);
            }
        }
        if (string_slot_ == Slot::content) {
            content_.append(s.data(), s.size());
        } else if (string_slot_ == Slot::object) {
            // Follows "error" as far as the value does; npos once it departs from it.
            constexpr std::string_view kError = "error";
            const std::string_view piece(s.data(), s.size());
            if (object_match_ != std::string_view::npos &&
                kError.substr(object_match_).starts_with(piece)) {
                object_match_ += piece.size();
            } else {
                object_match_ = std::string_view::npos;
            }
        }
        if (last) {
            in_string_ = false;
            if (string_slot_ == Slot::object && object_match_ == kErrorSize) {
                return other(ec);  // `"object": "error"`: an error body sent as a chunk
            }
        }
        return true;
    }

    // An integer value; `zero` when it is 0.
    bool integer(bool zero, error_code& ec) {
        if (skip_ > 0) {
            return true;
        }
        if (place_ == Place::document) {
            return other(ec);
        }
        const Slot s = take_slot();
        if (s == Slot::skip || s == Slot::object || (s == Slot::index && zero)) {
            return true;
        }
        return other(ec);
    }

    // A number that is not an integer, or a boolean: only where the value is skipped.
    bool scalar(error_code& ec) {
        if (skip_ > 0) {
            return true;
        }
        if (place_ == Place::document) {
            return other(ec);
        }
        const Slot s = take_slot();
        return s == Slot::skip || s == Slot::object || other(ec);
    }

    static constexpr std::size_t kErrorSize = 5;

    std::string& content_;
    Place place_ = Place::document;
    Slot slot_ = Slot::skip;
    Slot string_slot_ = Slot::skip;
    std::size_t skip_ = 0;  // containers open inside a skipped value
    std::size_t choices_seen_ = 0;
    std::size_t object_match_ = 0;
    bool in_string_ = false;
    bool seen_choices_ = false;
    bool seen_delta_ = false;
    bool seen_content_ = false;
    bool content_is_string_ = false;
    bool key_overflow_ = false;
    char key_[kMaxKey] = {};
    std::size_t key_size_ = 0;
};

}  // namespace

PlainChunk scan_plain_chunk(std::string_view data, std::string& content) {
    bj::parse_options options;
    options.max_depth = wire::kMaxDepth;
    bj::basic_parser<PlainChunkHandler> parser(options, content);
    error_code ec;
    const std::size_t n = parser.write_some(false, data.data(), data.size(), ec);
    if (ec || n < data.size()) {
        return PlainChunk::other;
    }
    return parser.handler().has_content() ? PlainChunk::content : PlainChunk::no_content;
}

namespace {

// The bytes a continuation byte of a UTF-8 sequence must be within.
bool in(unsigned char b, unsigned char low, unsigned char high) noexcept {
    return b >= low && b <= high;
}

// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong form, surrogate or code
// point past U+10FFFF, which is what Boost.JSON's parser accepts) that starts at p, a byte of
// 0x80 or more; 0 when there is none.
std::size_t utf8_sequence(const unsigned char* p, std::ptrdiff_t left) noexcept {
    const unsigned char b = *p;
    if (in(b, 0xC2, 0xDF) && left >= 2 && in(p[1], 0x80, 0xBF)) {
        return 2;
    }
    if (b >= 0xE0 && b <= 0xEF && left >= 3 &&
        in(p[1], b == 0xE0 ? 0xA0 : 0x80, b == 0xED ? 0x9F : 0xBF) && in(p[2], 0x80, 0xBF)) {
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4 && left >= 4 &&
        in(p[1], b == 0xF0 ? 0x90 : 0x80, b == 0xF4 ? 0x8F : 0xBF) && in(p[2], 0x80, 0xBF) &&
        in(p[3], 0x80, 0xBF)) {
        return 4;
    }
    return 0;
}

// The value of four hex digits at p (at least four bytes), or -1.
long hex4(const unsigned char* p) noexcept {
    long v = 0;
    for (int i = 0; i < 4; ++i) {
        const unsigned char c = p[i];
        int d = 0;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

void put_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// The text of a JSON string whose body (between its quotes) is `s`, into `out`: true when `s` is
// a body Boost.JSON's parser accepts whole, with the same text. Bytes that stand for themselves
// (no control character, quote or backslash; well-formed UTF-8) are copied in runs; the escapes
// of RFC 8259 are undone, a \u escape's surrogates only as a high one followed by a low one. A
// lone surrogate, like anything else, is false: the full scan decides then.
bool json_text(std::string_view s, std::string& out) {
    out.clear();
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    const auto* run = p;
    while (p < end) {
        const unsigned char b = *p;
        if (b >= 0x20 && b != '"' && b != '\\') {
            if (b < 0x80) {
                ++p;
            } else if (const std::size_t n = utf8_sequence(p, end - p); n > 0) {
                p += n;
            } else {
                return false;
            }
            continue;
        }
        if (b != '\\' || end - p < 2) {
            return false;  // a control character, an unescaped quote, or a backslash at the end
        }
        out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
        char plain = 0;
        switch (p[1]) {
            case '"':
                plain = '"';
                break;
            case '\\':
                plain = '\\';
                break;
            case '/':
                plain = '/';
                break;
            case 'b':
                plain = '\b';
                break;
            case 'f':
                plain = '\f';
                break;
            case 'n':
                plain = '\n';
                break;
            case 'r':
                plain = '\r';
                break;
            case 't':
                plain = '\t';
                break;
            case 'u':
                break;
            default:
                return false;
        }
        if (p[1] != 'u') {
            out.push_back(plain);
            p += 2;
            run = p;
            continue;
        }
        const long high = end - p >= 6 ? hex4(p + 2) : -1;
        if (high < 0 || (high >= 0xDC00 && high <= 0xDFFF)) {
            return false;
        }
        if (high < 0xD800 || high > 0xDBFF) {
            put_utf8(out, static_cast<unsigned long>(high));
            p += 6;
            run = p;
            continue;
        }
        const long low = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
        if (low < 0xDC00 || low > 0xDFFF) {
            return false;
        }
        put_utf8(
            out,
            0x10000 + ((static_cast<unsigned long>(high) - 0xD800) << 10) +
                (static_cast<unsigned long>(low) - 0xDC00)
        );
        p += 12;
        run = p;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    return true;
}

}  // namespace

PlainChunk PlainChunkScanner::scan(std::string_view data, std::string& content) {
    if (!head_.empty() && data.size() >= head_.size() + tail_.size() && data.starts_with(head_) &&
        data.ends_with(tail_)) {
        const std::string_view text =
            data.substr(head_.size(), data.size() - head_.size() - tail_.size());
        if (json_text(text, content)) {
            ++shortcuts_;
            return PlainChunk::content;
        }
    }
    const PlainChunk shape = scan_plain_chunk(data, content);
    if (shape == PlainChunk::content) {
        remember(data);
    }
    return shape;
}

void PlainChunkScanner::remember(std::string_view data) {
    head_.clear();
    tail_.clear();
    // `"content"` occurring once means one string "content" in the whole document (a quote inside
    // a string is escaped): the key of the delta's text, which the scan found. Any other member
    // or value named so (a skipped field's) and the chunk is not remembered. Then the compact
    // `:"` must follow, the text's opening quote.
    constexpr std::string_view kName = R"("content")";
    const auto at = data.find(kName);
    if (at == std::string_view::npos || data.find(kName, at + 1) != std::string_view::npos ||
        data.substr(at + kName.size(), 2) != R"(:")") {
        return;
    }
    const std::size_t begin = at + kName.size() + 2;
    std::size_t i = begin;
    while (i < data.size() && data[i] != '"') {
        i += data[i] == '\\' ? 2 : 1;  // an escape's second byte cannot end the string
    }
    if (i >= data.size()) {
        return;
    }
    head_.assign(data.substr(0, begin));
    tail_.assign(data.substr(i));
}

}  // namespace parley::llm
