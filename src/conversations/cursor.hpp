// The opaque cursors of cursor pagination: a conversation list's position (the last item's
// updated_at and id) and a search's offset, as unpadded base64url text. Clients only hand back what
// they were given; anything else decodes to nullopt, which the services answer with 422. Pure code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/models.hpp"

namespace parley::conversations {

// base64url("<updated_at ISO 8601>|<id>").
std::string encode_conversation_cursor(const store::ConversationCursor& at);

// The position a conversation cursor names; nullopt unless `text` is base64url of an ISO 8601 time,
// '|' and a UUID.
std::optional<store::ConversationCursor> decode_conversation_cursor(std::string_view text);

// base64url("s|<offset>"). Relevance has no stable key to continue after (ranks change as messages
// arrive), so an offset is what a search cursor can be.
std::string encode_offset_cursor(std::int64_t offset);

// The offset a search cursor names; nullopt unless `text` is base64url of "s|" and a decimal
// integer that is not negative.
std::optional<std::int64_t> decode_offset_cursor(std::string_view text);

}  // namespace parley::conversations
