// Page cursors of the conversation list: what decodes encodes to the same position.
#include "conversations/cursor.hpp"

#include <gtest/gtest.h>

#include "auth/tokens.hpp"
#include "common/time.hpp"

namespace parley::conversations {
namespace {

TEST(ConversationCursorTest, ACursorRoundTrips) {
    store::ConversationCursor at{
        *parse_iso8601("2026-01-01T00:00:00.021Z"), "0190a1b2-c3d4-7e5f-8a9c-0c1d2e3f225b"};
    const auto again = decode_conversation_cursor(encode_conversation_cursor(at));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->updated_at, at.updated_at);
    EXPECT_EQ(again->id, at.id);
}

// A hand-made cursor with a time finer than Parley's milliseconds (found by fuzz.cursor) decodes
// to the millisecond, and that encodes to itself.
TEST(ConversationCursorTest, AFinerTimeIsCutToTheMillisecondAndRoundTrips) {
    const auto text = auth::base64url_encode(
        "2026-01-01T00:00:00.021100+02:00|0190a1b2-C3d4-7e5f-8a9C-0c1d2e3f225b"
    );
    const auto at = decode_conversation_cursor(text);
    ASSERT_TRUE(at.has_value());
    EXPECT_EQ(at->updated_at, *parse_iso8601("2025-12-31T22:00:00.021Z"));
    const auto again = decode_conversation_cursor(encode_conversation_cursor(*at));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->updated_at, at->updated_at);
    EXPECT_EQ(again->id, at->id);
}

TEST(ConversationCursorTest, TextThatIsNotACursorIsRefused) {
    EXPECT_FALSE(decode_conversation_cursor("not base64!").has_value());
    EXPECT_FALSE(decode_conversation_cursor(auth::base64url_encode("no bar")).has_value());
    EXPECT_FALSE(decode_conversation_cursor(auth::base64url_encode("2026-01-01T00:00:00Z|not-a-uuid"
                                            ))
                     .has_value());
}

}  // namespace
}  // namespace parley::conversations
