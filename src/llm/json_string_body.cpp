#include "llm/json_string_body.hpp"

#include <cstddef>
#include <cstdint>

#include "common/strings.hpp"

namespace parley::llm {

namespace {

// The value of the four hex digits at the front of `s` (four bytes or more), or -1.
std::int32_t hex4(std::string_view s) noexcept {
    std::int32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        const char c = s[i];
        std::int32_t d = 0;
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

void put_utf8(std::string& out, std::uint32_t cp) {
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

// The byte a one-character escape (`\"`, `\n`, …) stands for; 0 for any other character.
char unescaped(char c) noexcept {
    switch (c) {
        case '"':
            return '"';
        case '\\':
            return '\\';
        case '/':
            return '/';
        case 'b':
            return '\b';
        case 'f':
            return '\f';
        case 'n':
            return '\n';
        case 'r':
            return '\r';
        case 't':
            return '\t';
        default:
            return 0;
    }
}

// The `\uXXXX` escape at the front of `s` (or a high surrogate's followed by a low one's) as
// UTF-8 onto `text`: the bytes it took, 6 or 12; 0 when it is not one (not hex, a surrogate alone
// or a low one first).
std::size_t unicode_escape(std::string_view s, std::string& text) {
    if (s.size() < 6 || s[1] != 'u') {
        return 0;
    }
    const std::int32_t high = hex4(s.substr(2));
    if (high < 0 || (high >= 0xDC00 && high <= 0xDFFF)) {
        return 0;
    }
    if (high < 0xD800 || high > 0xDBFF) {
        put_utf8(text, static_cast<std::uint32_t>(high));
        return 6;
    }
    if (s.size() < 12 || s[6] != '\\' || s[7] != 'u') {
        return 0;
    }
    const std::int32_t low = hex4(s.substr(8));
    if (low < 0xDC00 || low > 0xDFFF) {
        return 0;
    }
    put_utf8(
        text,
        0x10000 + ((static_cast<std::uint32_t>(high) - 0xD800) << 10) +
            (static_cast<std::uint32_t>(low) - 0xDC00)
    );
    return 12;
}

}  // namespace

bool json_string_body_text(std::string_view body, std::string& text) {
    text.clear();
    if (!is_valid_utf8(body)) {
        return false;
    }
    // Runs of bytes that stand for themselves are copied whole; a multi-byte character's bytes
    // are all 0x80 or more, so only the ASCII ones need looking at.
    std::size_t run = 0;
    std::size_t i = 0;
    while (i < body.size()) {
        const auto b = static_cast<unsigned char>(body[i]);
        if (b >= 0x20 && b != '"' && b != '\\') {
            ++i;
            continue;
        }
        if (b != '\\' || body.size() - i < 2) {
            return false;  // a control character, a quote not escaped, or a backslash at the end
        }
        text.append(body, run, i - run);
        if (const char c = unescaped(body[i + 1]); c != 0) {
            text.push_back(c);
            i += 2;
        } else if (const std::size_t n = unicode_escape(body.substr(i), text); n > 0) {
            i += n;
        } else {
            return false;
        }
        run = i;
    }
    text.append(body, run, i - run);
    return true;
}

}  // namespace parley::llm
