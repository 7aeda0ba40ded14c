#include "llm/openai_chunk_scan.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/string.hpp>

#include "llm/json_string_body.hpp"
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

    // Where the content string's text stands, as it is, in `data` (the whole document parsed):
    // the parser hands a string without escapes over in one piece, pointing into its input;
    // npos when the text came otherwise (an escape, and the parser's own buffer).
    std::size_t raw_content_at(std::string_view data) const {
        const std::less_equal<> before;
        const char* const begin = data.data();
        const char* const end = begin + data.size();
        if (!has_content() || content_pieces_ != 1 || content_at_ == nullptr ||
            !before(begin, content_at_) || !before(content_at_ + content_.size(), end)) {
            return std::string_view::npos;
        }
        const auto at = static_cast<std::size_t>(content_at_ - begin);
        const std::size_t after = at + content_.size();
        // Its quotes around it, as a string's text as it is must have.
        if (at == 0 || data[at - 1] != '"' || after >= data.size() || data[after] != '"') {
            return std::string_view::npos;
        }
        return at;
    }

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
            if (content_pieces_++ == 0) {
                content_at_ = s.data();
            }
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
    const char* content_at_ = nullptr;
    std::size_t content_pieces_ = 0;
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

// scan_plain_chunk, and on `content` where the text stands as it is in `data` (npos when its
// string had an escape).
PlainChunk scan_plain_chunk_at(std::string_view data, std::string& content, std::size_t& text_at) {
    text_at = std::string_view::npos;
    bj::parse_options options;
    options.max_depth = wire::kMaxDepth;
    bj::basic_parser<PlainChunkHandler> parser(options, content);
    error_code ec;
    const std::size_t n = parser.write_some(false, data.data(), data.size(), ec);
    if (ec || n < data.size()) {
        return PlainChunk::other;
    }
    if (!parser.handler().has_content()) {
        return PlainChunk::no_content;
    }
    text_at = parser.handler().raw_content_at(data);
    return PlainChunk::content;
}

}  // namespace

PlainChunk scan_plain_chunk(std::string_view data, std::string& content) {
    std::size_t text_at = 0;
    return scan_plain_chunk_at(data, content, text_at);
}

PlainChunk PlainChunkScanner::scan(std::string_view data, std::string& content) {
    if (!head_.empty() && data.size() >= head_.size() + tail_.size() && data.starts_with(head_) &&
        data.ends_with(tail_) &&
        json_string_body_text(
            data.substr(head_.size(), data.size() - head_.size() - tail_.size()), content
        )) {
        ++shortcuts_;
        return PlainChunk::content;
    }
    std::size_t text_at = 0;
    const PlainChunk shape = scan_plain_chunk_at(data, content, text_at);
    if (shape == PlainChunk::content && text_at != std::string_view::npos) {
        remember(data, text_at, content.size());
    }
    return shape;
}

void PlainChunkScanner::remember(std::string_view data, std::size_t at, std::size_t size) {
    // What the scan found: the text's opening quote ends the head, its closing quote starts the
    // tail. A later chunk of these bytes around another string body is this document with another
    // value for that string, which is the delta's text, wherever else the word "content" appears.
    head_.assign(data.substr(0, at));
    tail_.assign(data.substr(at + size));
}

}  // namespace parley::llm
