#include "conversations/cursor.hpp"

#include <charconv>
#include <chrono>

#include "auth/tokens.hpp"
#include "common/ids.hpp"

namespace parley::conversations {

std::string encode_conversation_cursor(const store::ConversationCursor& at) {
    return auth::base64url_encode(to_iso8601(at.updated_at) + "|" + at.id);
}

std::optional<store::ConversationCursor> decode_conversation_cursor(std::string_view text) {
    const auto raw = auth::base64url_decode(text);
    if (!raw) {
        return std::nullopt;
    }
    const std::string_view decoded = *raw;
    const auto bar = decoded.find('|');
    if (bar == std::string_view::npos) {
        return std::nullopt;
    }
    auto when = parse_iso8601(decoded.substr(0, bar));
    std::string id(decoded.substr(bar + 1));
    if (!when || !is_uuid(id)) {
        return std::nullopt;
    }
    // Parley's cursors carry milliseconds (what it stores); a finer time is cut to them, so what
    // decodes is what encodes again.
    return store::ConversationCursor{
        std::chrono::floor<std::chrono::milliseconds>(*when), std::move(id)};
}

std::string encode_offset_cursor(std::int64_t offset) {
    return auth::base64url_encode("s|" + std::to_string(offset));
}

std::optional<std::int64_t> decode_offset_cursor(std::string_view text) {
    const auto raw = auth::base64url_decode(text);
    if (!raw || raw->size() < 3 || raw->substr(0, 2) != "s|") {
        return std::nullopt;
    }
    std::int64_t offset = 0;
    const char* begin = raw->data() + 2;
    const char* end = raw->data() + raw->size();
    const auto [ptr, ec] = std::from_chars(begin, end, offset);
    if (ec != std::errc{} || ptr != end || offset < 0) {
        return std::nullopt;
    }
    return offset;
}

}  // namespace parley::conversations
