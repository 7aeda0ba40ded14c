#include "common/json_writer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include <boost/json/detail/format.hpp>
#include <boost/json/serializer.hpp>
#include <boost/json/value.hpp>

#include "common/iso8601.hpp"

namespace parley::json {

namespace {

// What Boost.JSON's serializer writes after a backslash for each byte ('u': \u00XX; 0: the byte
// itself). Only control characters, the quote and the backslash are escaped.
constexpr std::array<char, 256> kEscapes = [] {
    std::array<char, 256> t{};
    for (int c = 0; c < 0x20; ++c) {
        t[static_cast<std::size_t>(c)] = 'u';
    }
    t['\b'] = 'b';
    t['\t'] = 't';
    t['\n'] = 'n';
    t['\f'] = 'f';
    t['\r'] = 'r';
    t['"'] = '"';
    t['\\'] = '\\';
    return t;
}();

constexpr std::string_view kHex = "0123456789abcdef";

// Whether any of the 8 bytes of `w` needs an escape: below 0x20, a quote or a backslash (the
// classic "has a zero byte" test; exact about whether, not about which byte).
constexpr bool needs_escape(std::uint64_t w) noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    const std::uint64_t below_space = (w - kOnes * 0x20) & ~w;
    const std::uint64_t q = w ^ (kOnes * '"');
    const std::uint64_t b = w ^ (kOnes * '\\');
    const std::uint64_t quote = (q - kOnes) & ~q;
    const std::uint64_t backslash = (b - kOnes) & ~b;
    return ((below_space | quote | backslash) & kHigh) != 0;
}

}  // namespace

void append_quoted(std::string& out, std::string_view s) {
    out.push_back('"');
    std::size_t run = 0;  // start of the bytes not yet copied
    std::size_t i = 0;
    while (i < s.size()) {
        // Most text has nothing to escape: skip it 8 bytes at a time.
        if (s.size() - i >= 8) {
            std::uint64_t w = 0;
            std::memcpy(&w, s.data() + i, 8);
            if (!needs_escape(w)) {
                i += 8;
                continue;
            }
        }
        const auto c = static_cast<unsigned char>(s[i]);
        const char e = kEscapes[c];
        ++i;
        if (e == 0) {
            continue;
        }
        out.append(s.data() + run, i - 1 - run);
        run = i;
        if (e != 'u') {
            const char pair[2] = {'\\', e};
            out.append(pair, 2);
        } else {
            const char seq[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
            out.append(seq, 6);
        }
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
}

void Writer::separate() {
    if (comma_) {
        out_.push_back(',');
    }
    comma_ = true;
}

Writer& Writer::begin_object() {
    separate();
    out_.push_back('{');
    comma_ = false;
    return *this;
}

Writer& Writer::end_object() {
    out_.push_back('}');
    comma_ = true;
    return *this;
}

Writer& Writer::begin_array() {
    separate();
    out_.push_back('[');
    comma_ = false;
    return *this;
}

Writer& Writer::end_array() {
    out_.push_back(']');
    comma_ = true;
    return *this;
}

Writer& Writer::key(std::string_view name) {
    // The routes' own names, which need no escape: written with one append, comma included
    // (a key per field of every row; three appends each were most of the writer's cost).
    constexpr std::size_t kShort = 48;
    if (name.size() <= kShort && std::none_of(name.begin(), name.end(), [](char ch) {
            return kEscapes[static_cast<unsigned char>(ch)] != 0;
        })) {
        char buf[kShort + 4];
        std::size_t n = 0;
        if (comma_) {
            buf[n++] = ',';
        }
        buf[n++] = '"';
        std::memcpy(buf + n, name.data(), name.size());
        n += name.size();
        buf[n++] = '"';
        buf[n++] = ':';
        out_.append(buf, n);
        comma_ = false;
        return *this;
    }
    separate();
    append_quoted(out_, name);
    out_.push_back(':');
    comma_ = false;  // the member's value follows without a comma
    return *this;
}

Writer& Writer::string(std::string_view s) {
    separate();
    append_quoted(out_, s);
    return *this;
}

Writer& Writer::string_or_null(const std::optional<std::string>& s) {
    if (s) {
        return string(*s);
    }
    return null();
}

Writer& Writer::integer(std::int64_t i) {
    separate();
    char buf[boost::json::detail::max_number_chars + 1];
    out_.append(buf, boost::json::detail::format_int64(buf, i));
    return *this;
}

Writer& Writer::integer_or_null(const std::optional<std::int64_t>& i) {
    if (i) {
        return integer(*i);
    }
    return null();
}

Writer& Writer::number(double d) {
    separate();
    // Boost.JSON's own formatter (ryu, "1.5E0"): the same text as a serialised tree.
    char buf[boost::json::detail::max_number_chars + 1];
    out_.append(buf, boost::json::detail::format_double(buf, d));
    return *this;
}

Writer& Writer::boolean(bool b) {
    separate();
    out_.append(b ? std::string_view("true") : std::string_view("false"));
    return *this;
}

Writer& Writer::timestamp(TimePoint t) {
    char digits[kIso8601Size];
    if (!write_iso8601(t, digits)) {
        return string(to_iso8601(t));  // a year outside 0–9999: the wider form
    }
    separate();
    char text[kIso8601Size + 2];
    text[0] = '"';
    std::memcpy(text + 1, digits, kIso8601Size);
    text[kIso8601Size + 1] = '"';
    out_.append(text, sizeof text);
    return *this;
}

Writer& Writer::null() {
    separate();
    out_.append("null");
    return *this;
}

Writer& Writer::value(const boost::json::value& v) {
    separate();
    boost::json::serializer sr;
    sr.reset(&v);
    char buf[512];
    while (!sr.done()) {
        out_.append(sr.read(buf, sizeof buf));
    }
    return *this;
}

}  // namespace parley::json
